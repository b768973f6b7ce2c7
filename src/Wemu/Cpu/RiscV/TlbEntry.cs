using System.Runtime.InteropServices;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// One soft-TLB entry, QEMU style: a tag per access kind holds the virtual page if that access is
/// allowed straight to RAM (host address = <see cref="Addend"/> + virtual address). A tag with the
/// <see cref="IoFlag"/> bit set never matches the fast path but keeps the translation (in
/// <see cref="PhysPage"/>) for MMIO pages, so device accesses skip the page walk.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TlbEntry
{
    public const ulong Invalid = ulong.MaxValue;
    public const ulong IoFlag = 1;
    /// <summary>On <see cref="TagWrite"/>: the RAM page holds translated code, so stores take the
    /// slow path, which tells the translator before writing (QEMU's TLB_NOTDIRTY).</summary>
    public const ulong CodeFlag = 2;

    public ulong TagRead;
    public ulong TagWrite;
    public ulong TagExec;
    public long Addend;
    public ulong PhysPage;
    private ulong _pad0, _pad1, _pad2;
}

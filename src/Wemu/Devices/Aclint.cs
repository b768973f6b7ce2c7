using Wemu.Snapshot;
using Wemu.Memory;

namespace Wemu.Devices;

/// <summary>
/// Core-local interruptor in the SiFive CLINT layout, as QEMU virt maps it at 0x2000000 (size 0x10000,
/// <c>compatible = "sifive,clint0", "riscv,clint0"</c>): an ACLINT MSWI device at 0x0 and an MTIMER device
/// (RISC-V ACLINT spec 1.0, chapters 2 and 3) with MTIMECMP at 0x4000 and MTIME at 0xBFF8.
/// </summary>
/// <remarks>
/// mtime is <see cref="MachineClock.Now"/> plus an offset that guest writes to MTIME adjust. The timer interrupt
/// (mip.MTIP, bit 7) is level: pending while mtime >= mtimecmp (Priv. spec 3.2.1). The machine calls
/// <see cref="Update"/> every time slice, and may sleep or skip the clock to <see cref="NextDeadline"/> when all
/// harts idle.
/// </remarks>
public sealed class Aclint : IMmioDevice, IStateful<Aclint>
{
    /// <summary>MSIP, MTIMECMP and MTIP of every hart, and the MTIME offset (relative to the machine clock, which is restored with it).</summary>
    static VmState<Aclint> IStateful<Aclint>.State { get; } = new VmState<Aclint>("aclint", 1)
        .U32s("msip", a => a._msip)
        .U64s("mtimecmp", a => a._mtimecmp)
        .Bools("mtip", a => a._mtip)
        .U64("mtime-offset", a => ref a._mtimeOffset);

    public const ulong WindowSize = 0x10000;

    private const ulong MsipBase = 0x0;
    private const ulong MtimecmpBase = 0x4000;
    private const ulong MtimeOffset = 0xBFF8;

    private const int MsipBit = 3;
    private const int MtipBit = 7;

    private readonly MachineClock _clock;
    private readonly IHartInterruptPins[] _harts;
    private readonly uint[] _msip;
    private readonly ulong[] _mtimecmp;
    private readonly bool[] _mtip;
    private ulong _mtimeOffset;

    public Aclint(MachineClock clock, IHartInterruptPins[] harts)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(harts.Length, 4095);
        _clock = clock;
        _harts = harts;
        _msip = new uint[harts.Length];
        _mtimecmp = new ulong[harts.Length];
        _mtip = new bool[harts.Length];
        // The spec leaves mtimecmp's reset value open; all ones keeps MTIP clear until firmware programs it.
        Array.Fill(_mtimecmp, ulong.MaxValue);
    }

    /// <summary>The value of mtime (what the <c>time</c> CSR reads), in <see cref="MachineClock"/> ticks.</summary>
    public ulong Mtime
    {
        get => _clock.Now + _mtimeOffset;
        set
        {
            _mtimeOffset = value - _clock.Now;
            Update();
        }
    }

    /// <summary>
    /// The earliest <see cref="MachineClock.Now"/> value at which some hart's MTIP becomes pending (earliest
    /// mtimecmp above the current mtime, converted back from mtime with the MTIME offset), or
    /// <see cref="ulong.MaxValue"/> if no timer is armed. Pass it to <see cref="MachineClock.SkipTo"/> when idle.
    /// </summary>
    public ulong NextDeadline
    {
        get
        {
            ulong clockNow = _clock.Now;
            ulong mtime = clockNow + _mtimeOffset;
            ulong best = ulong.MaxValue;
            foreach (ulong cmp in _mtimecmp)
                if (cmp > mtime && cmp - mtime < best)
                    best = cmp - mtime;
            if (best == ulong.MaxValue)
                return ulong.MaxValue;
            return clockNow > ulong.MaxValue - best ? ulong.MaxValue : clockNow + best;
        }
    }

    public ulong GetMtimecmp(int hart) => _mtimecmp[hart];

    /// <summary>Re-evaluates MTIP of every hart against the clock.</summary>
    public void Update()
    {
        ulong mtime = Mtime;
        for (int h = 0; h < _harts.Length; h++)
            UpdateHart(h, mtime);
    }

    public ulong Read(ulong offset, int size)
    {
        if (size == 4 && (offset & 3) == 0)
            return Read32(offset);
        if (size == 8 && (offset & 7) == 0)
        {
            if (offset == MtimeOffset)
                return Mtime; // one read of the clock: both halves from the same instant
            if (offset >= MtimecmpBase && offset < MtimecmpBase + 8 * (ulong)_harts.Length)
                return _mtimecmp[(offset - MtimecmpBase) >> 3];
            return Read32(offset) | ((ulong)Read32(offset + 4) << 32);
        }
        return 0; // byte, halfword and misaligned accesses read zero
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size == 4 && (offset & 3) == 0)
        {
            Write32(offset, (uint)value);
        }
        else if (size == 8 && (offset & 7) == 0)
        {
            if (offset == MtimeOffset)
            {
                Mtime = value;
            }
            else if (offset >= MtimecmpBase && offset < MtimecmpBase + 8 * (ulong)_harts.Length)
            {
                int hart = (int)((offset - MtimecmpBase) >> 3);
                _mtimecmp[hart] = value;
                UpdateHart(hart, Mtime);
            }
            else
            {
                Write32(offset, (uint)value);
                Write32(offset + 4, (uint)(value >> 32));
            }
        }
    }

    private uint Read32(ulong offset)
    {
        if (offset < MtimecmpBase)
        {
            ulong hart = (offset - MsipBase) >> 2;
            return hart < (ulong)_harts.Length ? _msip[hart] : 0;
        }
        if (offset >= MtimeOffset)
        {
            if (offset > MtimeOffset + 4)
                return 0;
            ulong mtime = Mtime;
            return offset == MtimeOffset ? (uint)mtime : (uint)(mtime >> 32);
        }
        ulong index = (offset - MtimecmpBase) >> 3;
        if (index >= (ulong)_harts.Length)
            return 0;
        ulong cmp = _mtimecmp[index];
        return (offset & 4) == 0 ? (uint)cmp : (uint)(cmp >> 32);
    }

    private void Write32(ulong offset, uint value)
    {
        if (offset < MtimecmpBase)
        {
            ulong hart = (offset - MsipBase) >> 2;
            if (hart < (ulong)_harts.Length)
            {
                // ACLINT spec 2.2: only bit 0 is writable, it drives mip.MSIP directly.
                uint msip = value & 1;
                if (msip != _msip[hart])
                {
                    _msip[hart] = msip;
                    _harts[hart].SetInterruptPending(MsipBit, msip != 0);
                }
            }
            return;
        }
        if (offset >= MtimeOffset)
        {
            if (offset > MtimeOffset + 4)
                return;
            ulong mtime = Mtime;
            Mtime = offset == MtimeOffset
                ? (mtime & 0xFFFF_FFFF_0000_0000) | value
                : (mtime & 0xFFFF_FFFF) | ((ulong)value << 32);
            return;
        }
        ulong index = (offset - MtimecmpBase) >> 3;
        if (index >= (ulong)_harts.Length)
            return;
        ulong cmp = _mtimecmp[index];
        _mtimecmp[index] = (offset & 4) == 0
            ? (cmp & 0xFFFF_FFFF_0000_0000) | value
            : (cmp & 0xFFFF_FFFF) | ((ulong)value << 32);
        UpdateHart((int)index, Mtime);
    }

    private void UpdateHart(int hart, ulong mtime)
    {
        bool pending = mtime >= _mtimecmp[hart];
        if (pending != _mtip[hart])
        {
            _mtip[hart] = pending;
            _harts[hart].SetInterruptPending(MtipBit, pending);
        }
    }
}

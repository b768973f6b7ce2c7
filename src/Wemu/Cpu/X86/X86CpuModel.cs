namespace Wemu.Cpu.X86;

/// <summary>
/// What CPUID reports (SDM vol. 2A, CPUID). <see cref="Qemu64"/> mirrors QEMU 7.2's default
/// <c>qemu64</c> model (target/i386/cpu.c: AuthenticAMD, family 15 model 107 stepping 1, SSE3 and
/// CX16, LM/SYSCALL/NX/LAHF_LM) without what Wemu does not implement (SVM, MTRR, MCE/MCA). The AMD
/// vendor keeps Linux from enabling page-table isolation (a CR3 switch on every kernel entry). Like
/// every QEMU model it sets the hypervisor bit (CPUID.1:ECX[31]): Linux then leaves the performance
/// counters alone instead of probing MSRs a virtual CPU does not have.
/// <para>Beyond QEMU's model, for what Wemu's engine makes of them: an invariant TSC with IA32_TSC_ADJUST (the guest
/// keeps the TSC as its clock without a watchdog that a late-running host trips), and PCIDs (a context switch that
/// keeps the entered process's translations also keeps the chains between its compiled regions).</para>
/// </summary>
public sealed class X86CpuModel
{
    // CPUID.1:EDX
    private const uint Fpu = 1, De = 1 << 2, Pse = 1 << 3, Tsc = 1 << 4, Msr = 1 << 5, Pae = 1 << 6, Cx8 = 1 << 8, Apic = 1 << 9,
        Sep = 1 << 11, Pge = 1 << 13, Cmov = 1 << 15, Pat = 1 << 16, Pse36 = 1 << 17, Clflush = 1 << 19, Mmx = 1 << 23,
        Fxsr = 1 << 24, Sse = 1 << 25, Sse2 = 1 << 26;

    // CPUID.1:ECX
    internal const uint Sse3 = 1, Ssse3 = 1 << 9, Cx16 = 1 << 13, Pcid = 1 << 17, Sse41 = 1 << 19, Sse42 = 1 << 20, Popcnt = 1 << 23, Hypervisor = 1u << 31;

    // CPUID.80000001:EDX / ECX
    private const uint Syscall = 1 << 11, Nx = 1 << 20, Rdtscp = 1 << 27, Lm = 1 << 29;
    private const uint LahfLm = 1;

    // CPUID.(7,0):EBX
    private const uint TscAdjust = 1 << 1;

    public static readonly X86CpuModel Qemu64 = new("qemu64",
        Fpu | De | Pse | Tsc | Msr | Pae | Cx8 | Apic | Sep | Pge | Cmov | Pat | Pse36 | Clflush | Mmx | Fxsr | Sse | Sse2,
        Sse3 | Cx16 | Pcid | Hypervisor, Syscall | Nx | Lm, LahfLm);

    /// <summary><c>-cpu max</c>: qemu64 plus what Wemu implements beyond it — the rest of x86-64-v2 (SSSE3,
    /// SSE4.1, SSE4.2, POPCNT; CX16 and LAHF_LM qemu64 has) and RDTSCP. Nothing more: a CPUID bit for an
    /// instruction that raises #UD would break every program that believes it.</summary>
    public static readonly X86CpuModel Max = new("max",
        Qemu64.Features1Edx, Qemu64.Features1Ecx | Ssse3 | Sse41 | Sse42 | Popcnt, Qemu64.FeaturesExtEdx | Rdtscp, LahfLm);

    private X86CpuModel(string name, uint edx, uint ecx, uint extEdx, uint extEcx)
    {
        Name = name;
        Features1Edx = edx;
        Features1Ecx = ecx;
        FeaturesExtEdx = extEdx;
        FeaturesExtEcx = extEcx;
    }

    public static X86CpuModel? Find(string name) => name switch { "qemu64" => Qemu64, "max" => Max, _ => null };

    public string Name { get; }

    public uint Features1Edx { get; }

    public uint Features1Ecx { get; }

    public uint FeaturesExtEdx { get; }

    public uint FeaturesExtEcx { get; }

    /// <summary>CPUID.1:EAX, also RDX after reset: family 15, model 107, stepping 1.</summary>
    public uint Signature => 0x00060FB1;

    public bool Has1Ecx(uint bit) => (Features1Ecx & bit) != 0;

    // "AuthenticAMD" as EBX, EDX, ECX
    private const uint VendorEbx = 0x68747541, VendorEdx = 0x69746E65, VendorEcx = 0x444D4163;

    private static readonly uint[] s_brand = BrandWords("QEMU Virtual CPU version 2.5+");

    private static uint[] BrandWords(string s)
    {
        var bytes = new byte[48];
        System.Text.Encoding.ASCII.GetBytes(s).CopyTo(bytes, 0);
        var words = new uint[12];
        for (int i = 0; i < 12; i++)
            words[i] = BitConverter.ToUInt32(bytes, i * 4);
        return words;
    }

    /// <summary>CPUID for leaf <paramref name="leaf"/>, subleaf <paramref name="subleaf"/>.</summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf)
    {
        switch (leaf)
        {
            case 0: return (0xD, VendorEbx, VendorEcx, VendorEdx);
            case 1: return (Signature, 8 << 8, Features1Ecx, Features1Edx);
            // leaf 7 subleaf 0: only IA32_TSC_ADJUST (EBX bit 1; MSR 0x3B). With the invariant TSC of leaf 0x80000007 it
            // is what Linux (5.17+, check_system_tsc_reliable) takes as a TSC it need not check against another clock:
            // without it the clocksource watchdog compares the TSC with jiffies, which fall behind on a host that runs
            // the guest late (a page compiling code), and throws the TSC out for jiffies.
            case 7: return (0, subleaf == 0 ? TscAdjust : 0, 0, 0);
            case 0x80000000: return (0x8000000A, VendorEbx, VendorEcx, VendorEdx);
            // AMD mirrors most CPUID.1:EDX bits here (QEMU's CPUID_EXT2_AMD_ALIASES)
            case 0x80000001: return (Signature, 0, FeaturesExtEcx, FeaturesExtEdx | (Features1Edx & 0x0183F3FF));
            case 0x80000002: case 0x80000003: case 0x80000004:
                {
                    int i = (int)(leaf - 0x80000002) * 4;
                    return (s_brand[i], s_brand[i + 1], s_brand[i + 2], s_brand[i + 3]);
                }
            // L1 and L2 caches as QEMU reports them for AMD models (64 KiB 2-way L1s, 512 KiB 16-way L2)
            case 0x80000005: return (0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140);
            case 0x80000006: return (0, 0x42004200, 0x02008140, 0);
            case 0x80000007: return (0, 0, 0, 1 << 8); // invariant TSC: it runs at one rate whatever the guest does
            case 0x80000008: return (0x3028, 0, 0, 0); // 40 physical, 48 virtual address bits
            default:
                return (0, 0, 0, 0); // leaves up to 0xD and 0x8000000A exist with no features (no XSAVE)
        }
    }
}

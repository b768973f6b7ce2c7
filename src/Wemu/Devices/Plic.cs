using Wemu.Snapshot;
using Wemu.Memory;

namespace Wemu.Devices;

/// <summary>
/// SiFive Platform-Level Interrupt Controller as on QEMU virt (<c>compatible = "riscv,plic0"</c>,
/// RISC-V PLIC spec 1.0.0). Two contexts per hart: context 2h is hart h's M-mode (drives mip.MEIP, bit 11),
/// context 2h+1 its S-mode (drives mip.SEIP, bit 9).
/// </summary>
/// <remarks>
/// Sources are level-triggered through a gateway (PLIC spec chapter 5 "Interrupt Gateways"): a high line
/// sets the pending bit unless the source is claimed and not yet completed; a claim clears pending; a
/// completion re-pends the source if its line is still high. A line that drops before the claim clears its
/// pending bit (as QEMU's sifive_plic does).
/// </remarks>
public sealed class Plic : IMmioDevice, IInterruptSink, IStateful<Plic>
{
    /// <summary>Priorities, pending, claimed and level bits, enables, thresholds and each context's output (the harts' pins are restored with the harts).</summary>
    static VmState<Plic> IStateful<Plic>.State { get; } = new VmState<Plic>("plic", 1)
        .U32s("priority", p => p._priority)
        .U32s("pending", p => p._pending)
        .U32s("claimed", p => p._claimed)
        .U32s("level", p => p._level)
        .U32s("enable", p => p._enable)
        .U32s("threshold", p => p._threshold)
        .Bools("output", p => p._output);

    /// <summary>Number of sources of QEMU virt's PLIC (riscv,ndev = 95; source 0 means "no interrupt").</summary>
    public const int VirtSourceCount = 95;

    // Register map (PLIC spec chapter 3 "Memory Map").
    private const ulong PendingBase = 0x1000;
    private const ulong EnableBase = 0x2000;
    private const ulong EnableStride = 0x80;
    private const ulong ContextBase = 0x200000;
    private const ulong ContextStride = 0x1000;

    private const int MeipBit = 11;
    private const int SeipBit = 9;

    private readonly IHartInterruptPins[] _harts;
    private readonly int _sourceCount;
    private readonly uint _priorityMask;
    private readonly int _words;
    private readonly uint[] _priority;
    private readonly uint[] _pending;
    private readonly uint[] _claimed;
    private readonly uint[] _level;
    private readonly uint[] _enable;
    private readonly uint[] _threshold;
    private readonly bool[] _output;

    /// <param name="harts">Interrupt pins of each hart; hart h gets contexts 2h (M) and 2h+1 (S).</param>
    /// <param name="sourceCount">Highest source number (sources are 1..sourceCount).</param>
    /// <param name="priorityBits">Implemented priority bits (QEMU virt: 3, priorities 0..7).</param>
    public Plic(IHartInterruptPins[] harts, int sourceCount = VirtSourceCount, int priorityBits = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sourceCount, 1023);
        ArgumentOutOfRangeException.ThrowIfLessThan(priorityBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(priorityBits, 32);
        _harts = harts;
        _sourceCount = sourceCount;
        _priorityMask = priorityBits == 32 ? uint.MaxValue : (1u << priorityBits) - 1;
        _words = (sourceCount + 1 + 31) / 32;
        ContextCount = harts.Length * 2;
        _priority = new uint[sourceCount + 1];
        _pending = new uint[_words];
        _claimed = new uint[_words];
        _level = new uint[_words];
        _enable = new uint[_words * ContextCount];
        _threshold = new uint[ContextCount];
        _output = new bool[ContextCount];
    }

    public int SourceCount => _sourceCount;

    public int ContextCount { get; }

    /// <summary>Window size needed for this many contexts: 0x200000 + 0x1000 per context.</summary>
    public ulong Size => WindowSize(ContextCount);

    /// <summary>
    /// Window size for <paramref name="contextCount"/> contexts, as QEMU's VIRT_PLIC_SIZE. QEMU virt maps
    /// 0x600000 (room for its maximum hart count); mapping a larger window is fine, the rest reads zero.
    /// </summary>
    public static ulong WindowSize(int contextCount) => ContextBase + (ulong)contextCount * ContextStride;

    /// <summary>Pending bit of a source (for tests and diagnostics).</summary>
    public bool IsPending(int source) => source > 0 && source <= _sourceCount && (_pending[source >> 5] & (1u << source)) != 0;

    public void SetIrq(int number, bool level)
    {
        if (number <= 0 || number > _sourceCount)
            return;
        int w = number >> 5;
        uint bit = 1u << number;
        if (level)
        {
            _level[w] |= bit;
            if ((_claimed[w] & bit) == 0)
                _pending[w] |= bit;
        }
        else
        {
            _level[w] &= ~bit;
            _pending[w] &= ~bit;
        }
        Update();
    }

    public ulong Read(ulong offset, int size)
    {
        if (size == 8 && (offset & 7) == 0)
            return Read32(offset) | ((ulong)Read32(offset + 4) << 32);
        if (size != 4 || (offset & 3) != 0)
            return 0; // registers are 32-bit (PLIC spec 3); other accesses read zero without side effects
        return Read32(offset);
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size == 8 && (offset & 7) == 0)
        {
            Write32(offset, (uint)value);
            Write32(offset + 4, (uint)(value >> 32));
            return;
        }
        if (size != 4 || (offset & 3) != 0)
            return;
        Write32(offset, (uint)value);
    }

    private uint Read32(ulong offset)
    {
        if (offset < PendingBase)
        {
            ulong source = offset >> 2;
            return source <= (ulong)_sourceCount ? _priority[source] : 0;
        }
        if (offset < EnableBase)
        {
            ulong word = (offset - PendingBase) >> 2;
            return word < (ulong)_words ? _pending[word] : 0;
        }
        if (offset < ContextBase)
        {
            ulong context = (offset - EnableBase) / EnableStride;
            ulong word = ((offset - EnableBase) % EnableStride) >> 2;
            if (context >= (ulong)ContextCount || word >= (ulong)_words)
                return 0;
            return _enable[(int)context * _words + (int)word];
        }
        ulong ctx = (offset - ContextBase) / ContextStride;
        if (ctx >= (ulong)ContextCount)
            return 0;
        return ((offset - ContextBase) % ContextStride) switch
        {
            0 => _threshold[ctx],
            4 => Claim((int)ctx),
            _ => 0,
        };
    }

    private void Write32(ulong offset, uint value)
    {
        if (offset < PendingBase)
        {
            ulong source = offset >> 2;
            // Source 0 does not exist; priorities are WARL with priorityBits implemented bits.
            if (source != 0 && source <= (ulong)_sourceCount)
            {
                _priority[source] = value & _priorityMask;
                Update();
            }
            return;
        }
        if (offset < EnableBase)
            return; // pending bits are read-only here: the gateways own them
        if (offset < ContextBase)
        {
            ulong context = (offset - EnableBase) / EnableStride;
            ulong word = ((offset - EnableBase) % EnableStride) >> 2;
            if (context >= (ulong)ContextCount || word >= (ulong)_words)
                return;
            _enable[(int)context * _words + (int)word] = value & ValidMask((int)word);
            Update();
            return;
        }
        ulong ctx = (offset - ContextBase) / ContextStride;
        if (ctx >= (ulong)ContextCount)
            return;
        switch ((offset - ContextBase) % ContextStride)
        {
            case 0:
                _threshold[ctx] = value & _priorityMask;
                Update();
                break;
            case 4:
                Complete((int)ctx, value);
                break;
        }
    }

    /// <summary>Bits of enable/pending word <paramref name="word"/> that name real sources (source 0 is hardwired to 0).</summary>
    private uint ValidMask(int word)
    {
        uint mask = uint.MaxValue;
        if (word == 0)
            mask &= ~1u;
        int last = _sourceCount - word * 32; // highest valid bit in this word
        if (last < 31)
            mask &= (2u << last) - 1;
        return mask;
    }

    /// <summary>Highest-priority pending, enabled source above the context's threshold; ties go to the lowest id (PLIC spec 4).</summary>
    private int BestSource(int context)
    {
        int best = 0;
        uint bestPriority = _threshold[context];
        int enableBase = context * _words;
        for (int w = 0; w < _words; w++)
        {
            uint candidates = _pending[w] & _enable[enableBase + w];
            while (candidates != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(candidates);
                candidates &= candidates - 1;
                int source = w * 32 + bit;
                uint priority = _priority[source];
                if (priority > bestPriority)
                {
                    bestPriority = priority;
                    best = source;
                }
            }
        }
        return best;
    }

    /// <summary>PLIC spec 7 "Interrupt Claim Process": returns 0 when nothing qualifies.</summary>
    private uint Claim(int context)
    {
        int source = BestSource(context);
        if (source != 0)
        {
            _pending[source >> 5] &= ~(1u << source);
            _claimed[source >> 5] |= 1u << source;
            Update();
        }
        return (uint)source;
    }

    /// <summary>
    /// PLIC spec 8 "Interrupt Completion": an id that is not enabled for the context is ignored; otherwise the
    /// gateway may forward the next request, which it does at once if the line is still high.
    /// </summary>
    private void Complete(int context, uint value)
    {
        if (value == 0 || value > (uint)_sourceCount)
            return;
        int w = (int)(value >> 5);
        uint bit = 1u << (int)value;
        if ((_enable[context * _words + w] & bit) == 0)
            return;
        _claimed[w] &= ~bit;
        if ((_level[w] & bit) != 0)
            _pending[w] |= bit;
        Update();
    }

    private void Update()
    {
        for (int ctx = 0; ctx < ContextCount; ctx++)
        {
            bool level = BestSource(ctx) != 0;
            if (level != _output[ctx])
            {
                _output[ctx] = level;
                _harts[ctx >> 1].SetInterruptPending((ctx & 1) == 0 ? MeipBit : SeipBit, level);
            }
        }
    }
}

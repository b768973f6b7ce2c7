using Wemu.Snapshot;
using Wemu.Memory;

namespace Wemu.Devices;

/// <summary>
/// NS16550A UART as QEMU's <c>serial</c> device with regshift 0: eight byte-wide registers at offsets 0..7
/// (DT <c>compatible = "ns16550a"</c>). Register behaviour follows the PC16550D datasheet and QEMU's
/// hw/char/serial.c, which is what Linux's 8250 driver is tested against: 16-byte receive FIFO with trigger
/// levels and character-timeout interrupt, transmit that completes instantly, THRE interrupt re-armed by
/// writing IER.ETBEI, loopback mode.
/// </summary>
/// <remarks>
/// The machine calls <see cref="Poll"/> regularly (every time slice): it pulls host input into the receive
/// FIFO while there is room, and raises the character-timeout interrupt for bytes that have been waiting
/// below the trigger level for one whole poll period.
/// </remarks>
public sealed class Uart16550 : IMmioDevice, IStateful<Uart16550>
{
    /// <summary>The registers, the receive FIFO and the interrupt line's level; output still buffered is sent first.</summary>
    static VmState<Uart16550> IStateful<Uart16550>.State { get; } = new VmState<Uart16550>("ns16550a", 1)
        .Bytes("rx-fifo", u => u._rxFifo)
        .I32("rx-head", u => ref u._rxHead)
        .I32("rx-count", u => ref u._rxCount)
        .U8("ier", u => ref u._ier)
        .U8("iir", u => ref u._iir)
        .U8("fcr", u => ref u._fcr)
        .U8("lcr", u => ref u._lcr)
        .U8("mcr", u => ref u._mcr)
        .U8("lsr", u => ref u._lsr)
        .U8("msr", u => ref u._msr)
        .U8("scr", u => ref u._scr)
        .U16("divisor", u => ref u._divisor)
        .Bool("thr-pending", u => ref u._thrInterruptPending)
        .Bool("timeout-pending", u => ref u._timeoutPending)
        .Bool("rx-activity", u => ref u._rxActivitySincePoll)
        .Field("irq", (u, w) => w.Bool(u._irq.Level), (u, r) => u._irq.RestoreLevel(r.Bool()))
        .PreSave(u => u.Flush())
        .PostLoad(u =>
        {
            if ((uint)u._rxHead >= FifoSize || (uint)u._rxCount > FifoSize)
                throw new SnapshotException($"snapshot: the UART's receive FIFO position {u._rxHead}+{u._rxCount} is out of range");
        });

    /// <summary>Size of the register window QEMU virt maps for the UART (only offsets 0..7 are registers).</summary>
    public const ulong WindowSize = 0x100;

    private const int FifoSize = 16;

    // Register offsets (datasheet table 2).
    private const int RegRbrThr = 0, RegIer = 1, RegIirFcr = 2, RegLcr = 3, RegMcr = 4, RegLsr = 5, RegMsr = 6, RegScr = 7;

    // LSR bits.
    private const byte LsrDataReady = 0x01, LsrOverrun = 0x02, LsrBreak = 0x10, LsrThrEmpty = 0x20, LsrTxEmpty = 0x40;
    private const byte LsrErrorBits = 0x1E;

    // IER bits.
    private const byte IerRxData = 0x01, IerThrEmpty = 0x02, IerLineStatus = 0x04, IerModemStatus = 0x08;

    // IIR interrupt identification (datasheet table 4).
    private const byte IirNoInterrupt = 0x01, IirModemStatus = 0x00, IirThrEmpty = 0x02, IirRxData = 0x04,
        IirLineStatus = 0x06, IirCharTimeout = 0x0C, IirFifoEnabled = 0xC0;

    // FCR bits.
    private const byte FcrEnable = 0x01, FcrClearRx = 0x02, FcrClearTx = 0x04;

    private const byte LcrDlab = 0x80;
    private const byte McrLoop = 0x10;

    private static readonly byte[] s_triggerLevels = [1, 4, 8, 14];

    private readonly ICharBackend _backend;
    private readonly IrqLine _irq;
    private readonly byte[] _rxFifo = new byte[FifoSize];
    private readonly byte[] _txBuffer;
    private int _txCount;
    private int _rxHead;
    private int _rxCount;

    private byte _ier;
    private byte _iir = IirNoInterrupt;
    private byte _fcr;
    private byte _lcr;
    private byte _mcr;
    private byte _lsr = LsrThrEmpty | LsrTxEmpty;
    private byte _msr;
    private byte _scr;
    private ushort _divisor = 12; // 9600 baud at 1.8432 MHz, as after reset
    private bool _thrInterruptPending;
    private bool _timeoutPending;
    private bool _rxActivitySincePoll;

    /// <param name="backend">Host side of the line.</param>
    /// <param name="irq">Interrupt output (PLIC source 10 on QEMU virt).</param>
    /// <param name="bufferOutput">
    /// When false every THR write reaches <see cref="ICharBackend.Write"/> at once; when true output is gathered
    /// until a newline, a full buffer, <see cref="Flush"/> or <see cref="Poll"/> (fewer host calls).
    /// </param>
    public Uart16550(ICharBackend backend, IrqLine irq, bool bufferOutput = false)
    {
        _backend = backend;
        _irq = irq;
        _txBuffer = new byte[bufferOutput ? 1024 : 1];
        Reset();
    }

    /// <summary>Bytes waiting in the receive FIFO.</summary>
    public int ReceiveFifoCount => _rxCount;

    public void Reset()
    {
        Flush();
        _ier = 0;
        _iir = IirNoInterrupt;
        _fcr = 0;
        _lcr = 0;
        _mcr = 0;
        _lsr = LsrThrEmpty | LsrTxEmpty;
        // DCD, DSR and CTS asserted: a terminal is connected (QEMU does the same).
        _msr = 0xB0;
        _scr = 0;
        _divisor = 12;
        _rxHead = 0;
        _rxCount = 0;
        _thrInterruptPending = false;
        _timeoutPending = false;
        _rxActivitySincePoll = false;
        UpdateIrq();
    }

    /// <summary>Sends buffered output to the backend.</summary>
    public void Flush()
    {
        if (_txCount > 0)
        {
            _backend.Write(_txBuffer.AsSpan(0, _txCount));
            _txCount = 0;
        }
    }

    /// <summary>
    /// Pulls host input into the receive FIFO (only while there is room: nothing is lost) and updates the
    /// interrupt line. Bytes that stayed below the FIFO trigger level for a whole poll period raise the
    /// character-timeout interrupt (datasheet: "no characters in or out of the FIFO for 4 character times").
    /// </summary>
    public void Poll()
    {
        Flush();
        bool loop = (_mcr & McrLoop) != 0;
        int capacity = (_fcr & FcrEnable) != 0 ? FifoSize : 1;
        int received = 0;
        while (!loop && _rxCount < capacity && _backend.TryRead(out byte b))
        {
            PushRx(b);
            received++;
        }
        if (received == 0 && !_rxActivitySincePoll && _rxCount > 0 && (_fcr & FcrEnable) != 0)
            _timeoutPending = true;
        _rxActivitySincePoll = false;
        UpdateIrq();
    }

    public ulong Read(ulong offset, int size)
    {
        if (offset > RegScr)
            return 0;
        switch ((int)offset)
        {
            case RegRbrThr:
                if ((_lcr & LcrDlab) != 0)
                    return (byte)_divisor;
                return ReadRbr();
            case RegIer:
                return (_lcr & LcrDlab) != 0 ? (byte)(_divisor >> 8) : _ier;
            case RegIirFcr:
            {
                byte value = _iir;
                // Reading IIR when THRE is the source clears that interrupt (datasheet table 4, "Reset Control").
                if ((value & 0x0F) == IirThrEmpty)
                {
                    _thrInterruptPending = false;
                    UpdateIrq();
                }
                return value;
            }
            case RegLcr:
                return _lcr;
            case RegMcr:
                return _mcr;
            case RegLsr:
            {
                byte value = _lsr;
                // Overrun and break indications are cleared by reading LSR.
                if ((_lsr & (LsrBreak | LsrOverrun)) != 0)
                {
                    _lsr &= unchecked((byte)~(LsrBreak | LsrOverrun));
                    UpdateIrq();
                }
                return value;
            }
            case RegMsr:
                return ReadMsr();
            default:
                return _scr;
        }
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (offset > RegScr)
            return;
        byte v = (byte)value;
        switch ((int)offset)
        {
            case RegRbrThr:
                if ((_lcr & LcrDlab) != 0)
                    _divisor = (ushort)((_divisor & 0xFF00) | v);
                else
                    WriteThr(v);
                break;
            case RegIer:
                if ((_lcr & LcrDlab) != 0)
                {
                    _divisor = (ushort)((_divisor & 0x00FF) | (v << 8));
                }
                else
                {
                    byte changed = (byte)((_ier ^ v) & 0x0F);
                    _ier = (byte)(v & 0x0F);
                    // Setting ETBEI while THR is empty raises THRE even if an IIR read masked it before
                    // (QEMU, Bochs and Linux's UART_BUG_THRE probe in serial8250_do_startup rely on it).
                    if ((changed & IerThrEmpty) != 0)
                        _thrInterruptPending = (_ier & IerThrEmpty) != 0 && (_lsr & LsrThrEmpty) != 0;
                    UpdateIrq();
                }
                break;
            case RegIirFcr:
                WriteFcr(v);
                break;
            case RegLcr:
                _lcr = v;
                break;
            case RegMcr:
                _mcr = (byte)(v & 0x1F);
                break;
            case RegLsr:
            case RegMsr:
                // Read-only (factory test registers in the datasheet); ignored as QEMU does.
                break;
            default:
                _scr = v;
                break;
        }
    }

    private byte ReadRbr()
    {
        if (_rxCount == 0)
            return 0;
        byte b = _rxFifo[_rxHead];
        _rxHead = (_rxHead + 1) % FifoSize;
        _rxCount--;
        if (_rxCount == 0)
            _lsr &= unchecked((byte)~LsrDataReady);
        _timeoutPending = false;
        _rxActivitySincePoll = true;
        UpdateIrq();
        return b;
    }

    private void WriteThr(byte v)
    {
        // Writing THR clears the THRE interrupt; the byte then leaves at once, so THR is empty again and THRE
        // re-asserts, which is how the 8250 driver keeps transmitting until it masks ETBEI.
        _thrInterruptPending = false;
        if ((_mcr & McrLoop) != 0)
        {
            int capacity = (_fcr & FcrEnable) != 0 ? FifoSize : 1;
            if (_rxCount < capacity)
                PushRx(v);
            else
                _lsr |= LsrOverrun;
        }
        else
        {
            _txBuffer[_txCount++] = v;
            if (_txCount == _txBuffer.Length || v == (byte)'\n')
                Flush();
        }
        _lsr |= LsrThrEmpty | LsrTxEmpty;
        _thrInterruptPending = (_ier & IerThrEmpty) != 0;
        UpdateIrq();
    }

    private void WriteFcr(byte v)
    {
        // Changing the FIFO enable bit resets both FIFOs (datasheet FCR bit 0).
        if (((v ^ _fcr) & FcrEnable) != 0)
            v |= FcrClearRx | FcrClearTx;
        if ((v & FcrClearRx) != 0)
        {
            _rxHead = 0;
            _rxCount = 0;
            _lsr &= unchecked((byte)~LsrDataReady);
            _timeoutPending = false;
        }
        // Transmit completes instantly: there is never anything to clear in the TX FIFO.
        _fcr = (byte)(v & 0xC9);
        _iir = (byte)((_iir & 0x0F) | ((_fcr & FcrEnable) != 0 ? IirFifoEnabled : 0));
        UpdateIrq();
    }

    private byte ReadMsr()
    {
        if ((_mcr & McrLoop) != 0)
        {
            // Loopback (datasheet MCR bit 4): DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            return (byte)(((_mcr & 0x01) << 5) | ((_mcr & 0x02) << 3) | ((_mcr & 0x04) << 4) | ((_mcr & 0x08) << 4));
        }
        byte value = _msr;
        _msr &= 0xF0; // delta bits clear on read
        if ((value & 0x0F) != 0)
            UpdateIrq();
        return value;
    }

    private void PushRx(byte b)
    {
        _rxFifo[(_rxHead + _rxCount) % FifoSize] = b;
        _rxCount++;
        _lsr |= LsrDataReady;
        _rxActivitySincePoll = true;
    }

    /// <summary>Interrupt priorities of datasheet table 4, as QEMU's serial_update_irq.</summary>
    private void UpdateIrq()
    {
        byte id;
        bool fifo = (_fcr & FcrEnable) != 0;
        if ((_ier & IerLineStatus) != 0 && (_lsr & LsrErrorBits) != 0)
            id = IirLineStatus;
        else if ((_ier & IerRxData) != 0 && _timeoutPending)
            id = IirCharTimeout;
        else if ((_ier & IerRxData) != 0 && _rxCount > 0 && (!fifo || _rxCount >= s_triggerLevels[_fcr >> 6]))
            id = IirRxData;
        else if ((_ier & IerThrEmpty) != 0 && _thrInterruptPending)
            id = IirThrEmpty;
        else if ((_ier & IerModemStatus) != 0 && (_msr & 0x0F) != 0)
            id = IirModemStatus;
        else
            id = IirNoInterrupt;
        _iir = (byte)(id | (fifo ? IirFifoEnabled : 0));
        _irq.Set(id != IirNoInterrupt);
    }
}

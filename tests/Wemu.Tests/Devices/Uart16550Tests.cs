using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class Uart16550Tests
{
    private const int Rbr = 0, Thr = 0, Dll = 0, Ier = 1, Dlm = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;
    private const int IrqNumber = 10;

    private readonly TestCharBackend _line = new();
    private readonly TestInterruptSink _sink = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests()
    {
        _uart = new Uart16550(_line, new IrqLine(_sink, IrqNumber));
    }

    private bool Irq => _sink.Levels[IrqNumber];

    private byte R(int reg) => (byte)_uart.Read((ulong)reg, 1);

    private void W(int reg, byte value) => _uart.Write((ulong)reg, 1, value);

    [Fact]
    public void ResetValuesMatchDatasheet()
    {
        Assert.Equal(0x00, R(Ier));
        Assert.Equal(0x01, R(Iir)); // no interrupt pending, FIFOs off
        Assert.Equal(0x00, R(Lcr));
        Assert.Equal(0x00, R(Mcr));
        Assert.Equal(0x60, R(Lsr)); // THRE | TEMT
        Assert.Equal(0xB0, R(Msr)); // DCD | DSR | CTS
        Assert.False(Irq);
    }

    [Fact]
    public void ThrWriteReachesBackendAtOnce()
    {
        W(Thr, (byte)'h');
        Assert.Equal("h", _line.OutputText);
        W(Thr, (byte)'i');
        Assert.Equal("hi", _line.OutputText);
        Assert.Equal(2, _line.WriteCalls);
        Assert.Equal(0x60, R(Lsr) & 0x60);
    }

    [Fact]
    public void BufferedOutputWaitsForNewlineOrFlush()
    {
        var uart = new Uart16550(_line, new IrqLine(_sink, IrqNumber), bufferOutput: true);
        foreach (char c in "ab")
            uart.Write(Thr, 1, c);
        Assert.Empty(_line.Output);
        uart.Flush();
        Assert.Equal("ab", _line.OutputText);
        foreach (char c in "cd\n")
            uart.Write(Thr, 1, c);
        Assert.Equal("abcd\n", _line.OutputText);
        Assert.Equal(2, _line.WriteCalls);
        uart.Write(Thr, 1, 'e');
        uart.Poll();
        Assert.Equal("abcd\ne", _line.OutputText);
    }

    [Fact]
    public void DlabSelectsDivisorLatch()
    {
        W(Lcr, 0x83);
        W(Dll, 0x01);
        W(Dlm, 0x02);
        Assert.Equal(0x01, R(Dll));
        Assert.Equal(0x02, R(Dlm));
        Assert.Empty(_line.Output); // DLL write does not transmit
        W(Lcr, 0x03);
        Assert.Equal(0x00, R(Ier)); // DLM write did not touch IER
        Assert.Equal(0x03, R(Lcr));
    }

    [Fact]
    public void IerKeepsOnlyLowFourBits()
    {
        // Linux autoconfig: IER=0 reads 0, IER=0x0F reads 0x0F; XScale UUE (bit 6) probe must read back 0.
        W(Ier, 0x00);
        Assert.Equal(0x00, R(Ier) & 0x0F);
        W(Ier, 0xFF);
        Assert.Equal(0x0F, R(Ier));
    }

    [Fact]
    public void FifoEnableSetsIirBits76()
    {
        W(Fcr, 0x01);
        Assert.Equal(0xC0, R(Iir) & 0xC0);
        Assert.Equal(0x00, R(Iir) & 0x20); // not a 16750 64-byte FIFO
        W(Fcr, 0x00);
        Assert.Equal(0x01, R(Iir));
    }

    [Fact]
    public void LinuxAutoconfigFindsA16550A()
    {
        // serial8250 autoconfig(): scratch test on IER.
        byte saved = R(Ier);
        W(Ier, 0);
        int scratch2 = R(Ier) & 0x0F;
        W(Ier, 0x0F);
        int scratch3 = R(Ier) & 0x0F;
        W(Ier, saved);
        Assert.Equal(0, scratch2);
        Assert.Equal(0x0F, scratch3);
        // Loopback test: MCR = LOOP | 0x0A must read MSR & 0xF0 == 0x90.
        W(Mcr, 0x10 | 0x0A);
        Assert.Equal(0x90, R(Msr) & 0xF0);
        W(Mcr, 0);
        // FIFO test: IIR >> 6 == 3 means 16550A family.
        W(Fcr, 0x01);
        Assert.Equal(3, R(Iir) >> 6);
        // EFR probes (LCR = 0xBF / 0x80) read offset 2 as IIR, non-zero, so no 16650/16850 is detected.
        W(Lcr, 0xBF);
        Assert.NotEqual(0, R(2));
        W(Lcr, 0);
    }

    [Fact]
    public void RbrWithEmptyFifoReadsZero()
    {
        Assert.Equal(0, R(Rbr));
        Assert.Equal(0, R(Lsr) & 0x01);
    }

    [Fact]
    public void PollFillsFifoOnlyWhileThereIsRoom()
    {
        W(Fcr, 0x01);
        _line.Type("0123456789abcdefXYZ");
        _uart.Poll();
        Assert.Equal(16, _uart.ReceiveFifoCount);
        Assert.Equal(3, _line.Input.Count); // nothing lost
        Assert.Equal(0x01, R(Lsr) & 0x01);
        var received = new List<char>();
        while ((R(Lsr) & 0x01) != 0)
            received.Add((char)R(Rbr));
        Assert.Equal("0123456789abcdef", new string(received.ToArray()));
        _uart.Poll();
        Assert.Equal(3, _uart.ReceiveFifoCount);
    }

    [Fact]
    public void PollWithFifosDisabledTakesOneByte()
    {
        _line.Type("ab");
        _uart.Poll();
        Assert.Equal(1, _uart.ReceiveFifoCount);
        Assert.Equal((byte)'a', R(Rbr));
        _uart.Poll();
        Assert.Equal((byte)'b', R(Rbr));
    }

    [Fact]
    public void ReceiveDataInterruptAtTriggerLevel()
    {
        W(Fcr, 0x01); // trigger level 1
        W(Ier, 0x01);
        Assert.False(Irq);
        _line.Type("x");
        _uart.Poll();
        Assert.True(Irq);
        Assert.Equal(0xC4, R(Iir));
        Assert.Equal((byte)'x', R(Rbr));
        Assert.False(Irq);
        Assert.Equal(0xC1, R(Iir));
    }

    [Fact]
    public void ReceiveBelowTriggerLevelRaisesCharacterTimeout()
    {
        W(Fcr, 0x81); // trigger level 8, as Linux sets for a 16550A
        W(Ier, 0x01);
        _line.Type("abc");
        _uart.Poll();
        Assert.False(Irq); // 3 < 8 and the line is not idle yet
        _uart.Poll();      // a whole poll period without traffic
        Assert.True(Irq);
        Assert.Equal(0xCC, R(Iir));
        Assert.Equal((byte)'a', R(Rbr));
        Assert.False(Irq); // reading RBR clears the timeout
        Assert.Equal((byte)'b', R(Rbr));
        Assert.Equal((byte)'c', R(Rbr));
        _uart.Poll();
        _uart.Poll();
        Assert.False(Irq);
    }

    [Fact]
    public void ReceiveAtTriggerLevelRaisesDataAvailable()
    {
        W(Fcr, 0x41); // trigger level 4
        W(Ier, 0x01);
        _line.Type("abcd");
        _uart.Poll();
        Assert.True(Irq);
        Assert.Equal(0xC4, R(Iir));
    }

    [Fact]
    public void FcrClearRxEmptiesFifo()
    {
        W(Fcr, 0x01);
        _line.Type("abc");
        _uart.Poll();
        W(Fcr, 0x03);
        Assert.Equal(0, _uart.ReceiveFifoCount);
        Assert.Equal(0, R(Lsr) & 0x01);
    }

    [Fact]
    public void EnablingEtbeiWithEmptyThrRaisesThre()
    {
        W(Ier, 0x02);
        Assert.True(Irq);
        Assert.Equal(0x02, R(Iir) & 0x0F);
    }

    [Fact]
    public void ReadingIirClearsThreWhenItIsTheSource()
    {
        W(Ier, 0x02);
        Assert.Equal(0x02, R(Iir));
        Assert.False(Irq);
        Assert.Equal(0x01, R(Iir));
    }

    [Fact]
    public void WritingThrClearsAndReraisesThreOnceSent()
    {
        W(Ier, 0x02);
        R(Iir);
        Assert.False(Irq);
        W(Thr, (byte)'a');
        // The byte left at once: THR is empty again, so THRE is pending again.
        Assert.True(Irq);
        Assert.Equal(0x02, R(Iir));
        W(Ier, 0x00);
        W(Thr, (byte)'b');
        Assert.False(Irq);
    }

    [Fact]
    public void ToggledEtbeiReassertsThreForLinuxThreBugProbe()
    {
        // serial8250_do_startup: IER=THRI, read IIR, IER=0, IER=THRI, read IIR: both must show THRE.
        W(Ier, 0x02);
        byte iir1 = R(Iir);
        W(Ier, 0);
        W(Ier, 0x02);
        byte iir2 = R(Iir);
        W(Ier, 0);
        Assert.Equal(0, iir1 & 0x01);
        Assert.Equal(0, iir2 & 0x01);
        Assert.False(Irq);
    }

    [Fact]
    public void ReceiveInterruptHasPriorityOverThre()
    {
        W(Fcr, 0x01);
        W(Ier, 0x03);
        _line.Type("z");
        _uart.Poll();
        Assert.Equal(0xC4, R(Iir));
        R(Rbr);
        Assert.Equal(0xC2, R(Iir));
    }

    [Fact]
    public void LoopbackSendsThrToRbrNotToBackend()
    {
        W(Mcr, 0x10);
        _line.Type("q");
        W(Thr, (byte)'L');
        _uart.Poll();
        Assert.Empty(_line.Output);
        Assert.Equal((byte)'L', R(Rbr));
        Assert.Equal(0, R(Lsr) & 0x01);
        Assert.Single(_line.Input); // host input is not read in loopback
    }

    [Fact]
    public void LoopbackOverrunSetsOeAndLineStatusInterrupt()
    {
        W(Mcr, 0x10);
        W(Ier, 0x04);
        W(Thr, 1);
        W(Thr, 2); // FIFOs off: one-byte holding register overflows
        Assert.True(Irq);
        Assert.Equal(0x06, R(Iir) & 0x0F);
        Assert.Equal(0x02, R(Lsr) & 0x02);
        Assert.Equal(0x00, R(Lsr) & 0x02); // cleared by the read
        Assert.False(Irq);
    }

    [Fact]
    public void ScratchRegisterHoldsValue()
    {
        W(Scr, 0x5A);
        Assert.Equal(0x5A, R(Scr));
    }

    [Fact]
    public void WideAndOutOfRangeAccessesDoNotThrow()
    {
        W(Scr, 0xA5);
        Assert.Equal(0xA5UL, _uart.Read(Scr, 4));
        Assert.Equal(0UL, _uart.Read(8, 1));
        Assert.Equal(0UL, _uart.Read(0xF8, 8));
        _uart.Write(0x80, 4, 0xFFFF_FFFF);
    }
}

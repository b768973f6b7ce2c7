namespace Wemu.Net;

/// <summary>
/// One guest TCP connection, terminated by the stack (as slirp does): toward the guest it is a TCP endpoint with
/// its own sequence numbers, window and retransmission (RFC 793, RFC 6298 timer); toward the host it is a byte
/// stream on an ordinary host socket. Both directions go through a fixed buffer of <see cref="BufferSize"/> bytes,
/// which is the whole of the back-pressure: the window advertised to the guest is the room left toward the host
/// (a slow host closes it), and the host socket is read only while there is room toward the guest (a guest that
/// does not read stops the reading). No window scaling is offered (RFC 7323), so windows stay below 64 KiB.
/// Segments from the guest are taken in order only; one out of order is answered with a duplicate ACK and the
/// guest retransmits it.
/// </summary>
internal sealed class TcpNatConnection
{
    /// <summary>Bytes buffered each way.</summary>
    public const int BufferSize = 64 * 1024 - 1;

    /// <summary>The MSS the stack announces: an Ethernet MTU of 1500 less 40 bytes of IPv4 and TCP headers.</summary>
    public const ushort OwnMss = 1460;

    private const long InitialRto = 500_000, MaxRto = 8_000_000;   // microseconds; RFC 6298 2.1 says 1 s, slirp uses less
    private const int MaxRetransmissions = 10;
    private const long ConnectTimeout = 30_000_000;
    private const long LingerTime = 2_000_000;                     // after the close: answer retransmitted FINs
    private const long FinWait2Timeout = 120_000_000;              // our FIN acknowledged, the guest silent (Linux: tcp_fin_timeout 60 s)

    private enum State
    {
        /// <summary>The guest sent SYN; the host socket is connecting (the SYN-ACK waits for it, as in slirp).</summary>
        Connecting,
        /// <summary>SYN-ACK sent, waiting for the guest's ACK.</summary>
        SynReceived,
        /// <summary>hostfwd: SYN sent to the guest, waiting for its SYN-ACK.</summary>
        SynSent,
        Established,
        /// <summary>Both sides closed or the connection was reset: kept briefly, then removed.</summary>
        Closed,
    }

    private readonly UserNetwork _network;
    private readonly IHostTcpSocket _host;
    private readonly ByteRing _toGuest = new(BufferSize);
    private readonly ByteRing _toHost = new(BufferSize);
    private State _state;
    private readonly uint _iss;
    private uint _sndUna, _sndNxt, _sndWnd, _rcvNxt;
    private ushort _guestMss = 536;   // RFC 1122 4.2.2.6: the default without an MSS option
    private bool _guestFin, _hostEof, _finSent, _hostShutdown, _ackNeeded;
    private int _lastAdvertisedWindow;
    private long _rtoDeadline = long.MaxValue, _rto = InitialRto;
    private int _retransmissions;
    private long _stateSince, _now, _lastSegment;

    private TcpNatConnection(UserNetwork network, IHostTcpSocket host, uint guestAddress, ushort guestPort,
        uint remoteAddress, ushort remotePort, uint iss, long now)
    {
        _network = network;
        _host = host;
        GuestAddress = guestAddress;
        GuestPort = guestPort;
        RemoteAddress = remoteAddress;
        RemotePort = remotePort;
        _iss = iss;
        _sndUna = _sndNxt = iss;
        _stateSince = now;
    }

    public uint GuestAddress { get; }

    public ushort GuestPort { get; }

    /// <summary>The address and port the guest sees at the other end.</summary>
    public uint RemoteAddress { get; }

    public ushort RemotePort { get; }

    /// <summary>True until the three-way handshake completes (these count against the half-open limit).</summary>
    public bool IsHalfOpen => _state is State.Connecting or State.SynReceived or State.SynSent;

    public bool IsFinished { get; private set; }

    /// <summary>The guest's SYN to an outside address: the host connection starts now, the SYN-ACK follows it.</summary>
    public static TcpNatConnection FromGuestSyn(UserNetwork network, IHostTcpSocket host, uint guestAddress, ushort guestPort,
        uint remoteAddress, ushort remotePort, in TcpSegment syn, uint iss, long now)
    {
        var c = new TcpNatConnection(network, host, guestAddress, guestPort, remoteAddress, remotePort, iss, now)
        {
            _state = State.Connecting,
            _rcvNxt = syn.Sequence + 1,
            _sndWnd = syn.Window,
        };
        if (syn.MaximumSegmentSize != 0)
            c._guestMss = Math.Clamp(syn.MaximumSegmentSize, (ushort)64, OwnMss);
        return c;
    }

    /// <summary>A connection accepted on a hostfwd listener: the stack opens the connection to the guest.</summary>
    public static TcpNatConnection ToGuest(UserNetwork network, IHostTcpSocket host, uint guestAddress, ushort guestPort,
        uint remoteAddress, ushort remotePort, uint iss, long now)
    {
        var c = new TcpNatConnection(network, host, guestAddress, guestPort, remoteAddress, remotePort, iss, now)
        {
            _state = State.SynSent,
        };
        c.SendSyn(now);
        return c;
    }

    /// <summary>A segment from the guest for this connection (RFC 793 3.9 "SEGMENT ARRIVES", simplified).</summary>
    public void OnSegment(in TcpSegment s, long now)
    {
        _now = now;
        _lastSegment = now;
        if (_state == State.Closed)
        {
            // Lingering: acknowledge a retransmitted FIN so the guest can finish its close.
            if (s.Has(TcpFlags.Fin) && !s.Has(TcpFlags.Rst))
                Send(_sndNxt, TcpFlags.Ack, default);
            return;
        }
        if (s.Has(TcpFlags.Rst))
        {
            // RFC 5961 3.2 would want the exact sequence number; within the window is what RFC 793 asks.
            if (_state == State.SynSent ? s.Has(TcpFlags.Ack) && s.Acknowledgment == _iss + 1 : InReceiveWindow(s.Sequence))
                Abort(sendReset: false, now);
            return;
        }
        switch (_state)
        {
            case State.Connecting:
                return;   // the guest retransmits its SYN; the SYN-ACK goes out once the host has connected
            case State.SynSent:
                if (s.Has(TcpFlags.Syn) && s.Has(TcpFlags.Ack) && s.Acknowledgment == _iss + 1)
                {
                    _rcvNxt = s.Sequence + 1;
                    if (s.MaximumSegmentSize != 0)
                        _guestMss = Math.Clamp(s.MaximumSegmentSize, (ushort)64, OwnMss);
                    _sndUna = _sndNxt = _iss + 1;
                    _sndWnd = s.Window;
                    Establish(now);
                    _ackNeeded = true;
                    Output(now);
                }
                else if (s.Has(TcpFlags.Ack))
                    SendReset(s.Acknowledgment, 0, false);
                return;
            case State.SynReceived:
                if (s.Has(TcpFlags.Syn))
                {
                    if (s.Sequence + 1 == _rcvNxt)
                        SendSynAck();   // our SYN-ACK was lost
                    return;
                }
                if (!s.Has(TcpFlags.Ack) || s.Acknowledgment != _iss + 1)
                {
                    if (s.Has(TcpFlags.Ack))
                        SendReset(s.Acknowledgment, 0, false);
                    return;
                }
                _sndUna = _sndNxt = _iss + 1;
                Establish(now);
                break;
        }
        if (s.Has(TcpFlags.Syn))
        {
            // A SYN in the window of a synchronized connection (RFC 793: reset; RFC 5961 4: a challenge ACK).
            _ackNeeded = true;
            Output(now);
            return;
        }
        if (!s.Has(TcpFlags.Ack))
            return;
        ProcessAck(s, now);
        ProcessData(s);
        FlushToHost();
        Output(now);
    }

    private void ProcessAck(in TcpSegment s, long now)
    {
        uint ack = s.Acknowledgment;
        if (SeqGt(ack, _sndNxt))
        {
            _ackNeeded = true;   // acknowledges what was never sent (RFC 793: send an ACK, drop the segment)
            return;
        }
        if (SeqGe(ack, _sndUna))
            _sndWnd = s.Window;
        if (!SeqGt(ack, _sndUna))
            return;
        uint acked = ack - _sndUna;
        // The FIN takes the sequence number after the last data byte.
        int dataAcked = (int)Math.Min(acked, (uint)_toGuest.Count);
        _toGuest.Consume(dataAcked);
        _sndUna = ack;
        _retransmissions = 0;
        _rto = InitialRto;
        _rtoDeadline = _sndUna == _sndNxt ? long.MaxValue : now + _rto;
    }

    private void ProcessData(in TcpSegment s)
    {
        var payload = s.Payload;
        bool fin = s.Has(TcpFlags.Fin);
        if (payload.Length == 0 && !fin)
            return;
        uint seq = s.Sequence;
        if (_guestFin)
        {
            _ackNeeded = true;   // a retransmission after the guest's FIN: acknowledge again
            return;
        }
        // Trim what was already received (a retransmission overlapping rcvNxt).
        uint skip = _rcvNxt - seq;
        if (skip != 0)
        {
            if (skip > (uint)payload.Length || (int)skip < 0)
            {
                _ackNeeded = true;   // entirely old, or ahead of rcvNxt (out of order): a duplicate ACK
                return;
            }
            payload = payload[(int)skip..];
        }
        int taken = _toHost.Write(payload);
        _rcvNxt += (uint)taken;
        if (fin && taken == payload.Length)
        {
            _rcvNxt++;
            _guestFin = true;
        }
        _ackNeeded = true;
    }

    /// <summary>Host socket, timers and output; called from <see cref="UserNetwork.Poll"/>.</summary>
    public void Poll(long now)
    {
        _now = now;
        switch (_state)
        {
            case State.Closed:
                if (now - _stateSince > LingerTime)
                    IsFinished = true;
                return;
            case State.Connecting:
                switch (_host.State)
                {
                    case HostSocketState.Connected:
                        _state = State.SynReceived;
                        SendSynAck();
                        _rtoDeadline = now + _rto;
                        break;
                    case HostSocketState.Failed:
                        // Connection refused by the host: the guest sees RST, as slirp does (tcp_fconnect failure).
                        SendReset(0, _rcvNxt, true);
                        Close(now);
                        break;
                    default:
                        if (now - _stateSince > ConnectTimeout)
                        {
                            SendReset(0, _rcvNxt, true);
                            Close(now);
                        }
                        break;
                }
                return;
        }
        if (_state == State.Established)
        {
            ReadHost();
            FlushToHost();
        }
        if (now >= _rtoDeadline)
            OnRetransmissionTimeout(now);
        // The host closed and the guest acknowledged that, but never closes its side nor sends anything: a
        // bounded FIN-WAIT-2, so forgotten connections do not hold a slot of the table for ever.
        if (_finSent && _sndUna == _sndNxt && !_guestFin && now - Math.Max(_lastSegment, _stateSince) > FinWait2Timeout)
            Abort(sendReset: true, now);
        if (_state != State.Closed)
            Output(now);
    }

    /// <summary>Reads the host socket while there is room toward the guest.</summary>
    private void ReadHost()
    {
        while (!_hostEof && _toGuest.Free > 0 && _state == State.Established)
        {
            var span = _toGuest.WritableSpan();
            int n = _host.Receive(span);
            if (n > 0)
                _toGuest.Commit(n);
            else if (n == 0)
                _hostEof = true;
            else
            {
                if (n == IHostTcpSocket.Error)
                    Abort(sendReset: true, _now);
                return;
            }
        }
    }

    private void FlushToHost()
    {
        if (_state != State.Established)
            return;
        while (_toHost.Count > 0)
        {
            int n = _host.Send(_toHost.ReadableSpan());
            if (n == IHostTcpSocket.Error)
            {
                Abort(sendReset: true, _now);
                return;
            }
            if (n <= 0)
                break;
            _toHost.Consume(n);
        }
        if (_guestFin && _toHost.Count == 0 && !_hostShutdown)
        {
            _hostShutdown = true;
            _host.ShutdownSend();
        }
    }

    /// <summary>Sends what the guest's window allows, the FIN once the host side ended, and owed ACKs.</summary>
    private void Output(long now)
    {
        if (_state != State.Established)
        {
            if (_ackNeeded && _state != State.Closed)
                Send(_sndNxt, TcpFlags.Ack, default);
            _ackNeeded = false;
            return;
        }
        Span<byte> segment = stackalloc byte[OwnMss];
        while (true)
        {
            int inFlight = (int)(_sndNxt - _sndUna) - (_finSent ? 1 : 0);
            int unsent = _toGuest.Count - inFlight;
            int usable = (int)Math.Min(_sndWnd, (uint)int.MaxValue) - inFlight;
            int n = Math.Min(Math.Min(unsent, usable), _guestMss);
            if (n <= 0 || _finSent)
                break;
            var data = segment[..n];
            _toGuest.Peek(inFlight, data);
            if (!Send(_sndNxt, TcpFlags.Ack | TcpFlags.Psh, data))
                break;   // the queue toward the guest is full: the rest goes out on a later poll
            _sndNxt += (uint)n;
            _ackNeeded = false;
            if (_rtoDeadline == long.MaxValue)
                _rtoDeadline = now + _rto;
        }
        if (_hostEof && !_finSent && (int)(_sndNxt - _sndUna) == _toGuest.Count)
        {
            if (Send(_sndNxt, TcpFlags.Fin | TcpFlags.Ack, default))
            {
                _finSent = true;
                _sndNxt++;
                _ackNeeded = false;
                if (_rtoDeadline == long.MaxValue)
                    _rtoDeadline = now + _rto;
            }
        }
        int window = AdvertisedWindow;
        // A window update once the host drained enough of what the guest sent (RFC 1122 4.2.3.3).
        if (window - _lastAdvertisedWindow >= Math.Min(BufferSize / 2, 2 * OwnMss))
            _ackNeeded = true;
        // Persist (RFC 1122 4.2.2.17): data waits for a zero window with nothing in flight: probe it.
        if (_sndWnd == 0 && _toGuest.Count > 0 && _sndUna == _sndNxt && _rtoDeadline == long.MaxValue)
            _rtoDeadline = now + _rto;
        if (_ackNeeded && Send(_sndNxt, TcpFlags.Ack, default))
            _ackNeeded = false;
        if (_finSent && _guestFin && _sndUna == _sndNxt && _toHost.Count == 0)
            Close(now);   // both FINs sent and acknowledged
    }

    private void OnRetransmissionTimeout(long now)
    {
        if (++_retransmissions > MaxRetransmissions)
        {
            Abort(sendReset: true, now);
            return;
        }
        _rto = Math.Min(_rto * 2, MaxRto);
        _rtoDeadline = now + _rto;
        switch (_state)
        {
            case State.SynReceived:
                SendSynAck();
                return;
            case State.SynSent:
                SendSyn(now);
                return;
        }
        if (_sndUna == _sndNxt)
        {
            if (_sndWnd == 0 && _toGuest.Count > 0)
                Send(_sndUna - 1, TcpFlags.Ack, default);   // zero-window probe: the answer carries the window
            else
                _rtoDeadline = long.MaxValue;
            return;
        }
        // Go back to the first unacknowledged byte (and resend the FIN after the data if it was sent).
        _sndNxt = _sndUna;
        _finSent = false;
    }

    private void Establish(long now)
    {
        _state = State.Established;
        _stateSince = now;
        _rtoDeadline = long.MaxValue;
        _retransmissions = 0;
        _rto = InitialRto;
    }

    private int AdvertisedWindow => _toHost.Free;

    private bool InReceiveWindow(uint seq) => SeqGe(seq, _rcvNxt) && SeqLe(seq, _rcvNxt + (uint)Math.Max(AdvertisedWindow, 1));

    private void SendSynAck() => _network.SendTcp(this, _iss, _rcvNxt, TcpFlags.Syn | TcpFlags.Ack, (ushort)AdvertisedWindow, OwnMss, default);

    private void SendSyn(long now)
    {
        _network.SendTcp(this, _iss, 0, TcpFlags.Syn, (ushort)AdvertisedWindow, OwnMss, default);
        _sndNxt = _iss + 1;
        _rtoDeadline = now + _rto;
    }

    private bool Send(uint seq, TcpFlags flags, ReadOnlySpan<byte> payload)
    {
        int window = AdvertisedWindow;
        if (!_network.SendTcp(this, seq, _rcvNxt, flags, (ushort)window, 0, payload))
            return false;
        _lastAdvertisedWindow = window;
        return true;
    }

    private void SendReset(uint seq, uint ack, bool withAck) =>
        _network.SendTcp(this, seq, ack, withAck ? TcpFlags.Rst | TcpFlags.Ack : TcpFlags.Rst, 0, 0, default);

    /// <summary>Ends the connection at once (a reset from either side, a broken host socket, a timeout).</summary>
    public void Abort(bool sendReset, long now)
    {
        if (_state == State.Closed)
            return;
        if (sendReset && _state != State.Connecting)
            SendReset(_sndNxt, _rcvNxt, true);
        Close(now);
    }

    private void Close(long now)
    {
        _state = State.Closed;
        _stateSince = now;
        _rtoDeadline = long.MaxValue;
        _host.Dispose();
    }

    private static bool SeqGt(uint a, uint b) => (int)(a - b) > 0;

    private static bool SeqGe(uint a, uint b) => (int)(a - b) >= 0;

    private static bool SeqLe(uint a, uint b) => (int)(a - b) <= 0;
}

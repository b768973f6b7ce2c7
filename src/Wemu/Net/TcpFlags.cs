namespace Wemu.Net;

/// <summary>TCP header control bits (RFC 793 section 3.1, RFC 3168 for ECE/CWR).</summary>
[Flags]
internal enum TcpFlags : byte
{
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

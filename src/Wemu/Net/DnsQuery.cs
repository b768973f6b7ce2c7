using System.Buffers.Binary;
using System.Text;

namespace Wemu.Net;

/// <summary>
/// A DNS query to 10.0.2.3 (RFC 1035 section 4): one question, answered from the host's resolver. A queries get
/// the host's IPv4 addresses; other types of names that exist get an empty answer, names that do not get
/// NXDOMAIN, so resolvers asking A and AAAA both finish. The question is checked label by label (lengths, no
/// compression pointer, 255 bytes at most) before anything is looked up.
/// </summary>
internal sealed class DnsQuery
{
    public const ushort Port = 53;

    private const ushort TypeA = 1, TypeAaaa = 28, ClassIn = 1;
    private const int HeaderLength = 12, MaxAnswers = 8;

    // RFC 1035 4.1.1 RCODE values.
    public const byte FormatError = 1, ServerFailure = 2, NameError = 3, NotImplemented = 4, Refused = 5;

    private readonly byte[] _question;

    private DnsQuery(ushort id, bool recursionDesired, byte[] question, string name, ushort type)
    {
        Id = id;
        RecursionDesired = recursionDesired;
        _question = question;
        Name = name;
        Type = type;
    }

    public ushort Id { get; }

    public bool RecursionDesired { get; }

    public string Name { get; }

    public ushort Type { get; }

    /// <summary>True for the types the host's resolver is asked about.</summary>
    public bool IsAddressQuery => Type is TypeA or TypeAaaa;

    /// <summary>The guest's address and port the answer goes to, and the host resolution, set by the network.</summary>
    public uint ClientAddress { get; set; }

    public ushort ClientPort { get; set; }

    public IHostNameQuery? Resolution { get; set; }

    public long Deadline { get; set; }

    /// <summary>Parses a query; null (and an error code, or 0 to stay silent) if it is not one the server answers.</summary>
    public static DnsQuery? Parse(ReadOnlySpan<byte> message, out byte error)
    {
        error = 0;
        if (message.Length < HeaderLength)
            return null;
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((flags & 0x8000) != 0)
            return null;   // a response: never answer it
        error = FormatError;
        if (((flags >> 11) & 15) != 0 || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) != 1)
        {
            error = ((flags >> 11) & 15) != 0 ? NotImplemented : FormatError;
            return null;
        }
        var name = new StringBuilder();
        int o = HeaderLength;
        while (true)
        {
            if (o >= message.Length)
                return null;
            int len = message[o];
            if (len == 0)
            {
                o++;
                break;
            }
            if (len > 63 || o + 1 + len > message.Length || o + 1 + len - HeaderLength > 255)
                return null;   // a compression pointer (0xC0), an over-long label, or a name past the message
            if (name.Length > 0)
                name.Append('.');
            foreach (byte b in message.Slice(o + 1, len))
            {
                if (b is <= 0x20 or >= 0x7F)
                    return null;   // host names are printable ASCII
                name.Append((char)b);
            }
            o += 1 + len;
        }
        if (o + 4 > message.Length)
            return null;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[o..]);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(message[(o + 2)..]);
        error = NotImplemented;
        if (cls != ClassIn)
            return null;
        error = 0;
        var question = message[HeaderLength..(o + 4)].ToArray();
        return new DnsQuery(BinaryPrimitives.ReadUInt16BigEndian(message), (flags & 0x0100) != 0, question, name.ToString(), type);
    }

    /// <summary>An error reply to a message that was not parsed into a query (only its id is known).</summary>
    public static int ErrorReply(ReadOnlySpan<byte> message, byte code, Span<byte> reply)
    {
        if (message.Length < 2 || reply.Length < HeaderLength)
            return 0;
        reply[..HeaderLength].Clear();
        message[..2].CopyTo(reply);
        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], (ushort)(0x8000 | code));
        return HeaderLength;
    }

    /// <summary>The reply: the question, then an A record per address (for A queries), or <paramref name="code"/>.</summary>
    public int Reply(Span<byte> reply, byte code, IReadOnlyList<uint>? addresses)
    {
        int answers = code == 0 && Type == TypeA && addresses != null ? Math.Min(addresses.Count, MaxAnswers) : 0;
        int length = HeaderLength + _question.Length + answers * 16;
        if (reply.Length < length)
            return 0;
        BinaryPrimitives.WriteUInt16BigEndian(reply, Id);
        // QR, RD copied, RA (RFC 1035 4.1.1).
        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], (ushort)(0x8080 | (RecursionDesired ? 0x0100 : 0) | code));
        BinaryPrimitives.WriteUInt16BigEndian(reply[4..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(reply[6..], (ushort)answers);
        BinaryPrimitives.WriteUInt32BigEndian(reply[8..], 0);
        _question.CopyTo(reply[HeaderLength..]);
        int o = HeaderLength + _question.Length;
        for (int i = 0; i < answers; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(reply[o..], 0xC000 | HeaderLength);   // the name: a pointer to the question's
            BinaryPrimitives.WriteUInt16BigEndian(reply[(o + 2)..], TypeA);
            BinaryPrimitives.WriteUInt16BigEndian(reply[(o + 4)..], ClassIn);
            BinaryPrimitives.WriteUInt32BigEndian(reply[(o + 6)..], 60);   // TTL
            BinaryPrimitives.WriteUInt16BigEndian(reply[(o + 10)..], 4);
            BinaryPrimitives.WriteUInt32BigEndian(reply[(o + 12)..], addresses![i]);
            o += 16;
        }
        return o;
    }
}

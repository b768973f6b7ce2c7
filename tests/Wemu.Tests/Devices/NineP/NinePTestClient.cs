using System.Buffers.Binary;
using System.Text;
using Wemu.Devices.NineP;

namespace Wemu.Tests.Devices.NineP;

/// <summary>Builds 9P2000.L T-messages by hand and decodes replies, talking to a <see cref="NinePServer"/> directly.</summary>
internal sealed class NinePTestClient
{
    public const uint RootFid = 1;
    public const int AtRemoveDir = 0x200;

    private readonly byte[] _reply;
    private ushort _tag = 1;

    public NinePTestClient(IFileSystem fs, uint maxMessageSize = NinePServer.DefaultMaxMessageSize, NinePServerLimits? limits = null)
    {
        Server = new NinePServer(fs, maxMessageSize, limits);
        _reply = new byte[maxMessageSize];
    }

    public NinePServer Server { get; }

    /// <summary>Every reply body received, for tests that check no reply ever carried some bytes.</summary>
    public List<byte[]> Replies { get; } = [];

    /// <summary>Tversion + Tattach of <see cref="RootFid"/>.</summary>
    public NinePTestClient Start(uint uid = 0, uint msize = NinePServer.DefaultMaxMessageSize)
    {
        var r = Send(NinePMessageType.Tversion, m => m.U32(msize).Str("9P2000.L"));
        if (r.Type != NinePMessageType.Rversion)
            throw new InvalidOperationException("version refused");
        Check(Attach(RootFid, uid, out _));
        return this;
    }

    public static void Check(int errno)
    {
        if (errno != 0)
            throw new InvalidOperationException($"9P error {errno}");
    }

    public sealed class Message
    {
        public readonly List<byte> Bytes = [];

        public Message U8(byte v) { Bytes.Add(v); return this; }

        public Message U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); Bytes.AddRange(b.ToArray()); return this; }

        public Message U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); Bytes.AddRange(b.ToArray()); return this; }

        public Message U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); Bytes.AddRange(b.ToArray()); return this; }

        public Message Str(string s) => RawStr(Encoding.UTF8.GetBytes(s));

        public Message RawStr(byte[] s) { U16((ushort)s.Length); Bytes.AddRange(s); return this; }

        public Message Data(byte[] d) { Bytes.AddRange(d); return this; }
    }

    public sealed class Reply(NinePMessageType type, ushort tag, byte[] body)
    {
        private int _at;

        public NinePMessageType Type { get; } = type;
        public ushort Tag { get; } = tag;
        public byte[] Body { get; } = body;

        public int Errno => Type == NinePMessageType.Rlerror ? (int)BinaryPrimitives.ReadUInt32LittleEndian(Body) : 0;

        public byte U8() => Body[_at++];
        public ushort U16() { var v = BinaryPrimitives.ReadUInt16LittleEndian(Body.AsSpan(_at)); _at += 2; return v; }
        public uint U32() { var v = BinaryPrimitives.ReadUInt32LittleEndian(Body.AsSpan(_at)); _at += 4; return v; }
        public ulong U64() { var v = BinaryPrimitives.ReadUInt64LittleEndian(Body.AsSpan(_at)); _at += 8; return v; }
        public string Str() { int n = U16(); var s = Encoding.UTF8.GetString(Body, _at, n); _at += n; return s; }
        public Qid Qid() => new(U8(), U32(), U64());
        public byte[] Bytes(int n) { var b = Body.AsSpan(_at, n).ToArray(); _at += n; return b; }
        public int Remaining => Body.Length - _at;
    }

    public static byte[] Frame(NinePMessageType type, ushort tag, Message body)
    {
        var b = new byte[7 + body.Bytes.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        b[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(5), tag);
        body.Bytes.CopyTo(b, 7);
        return b;
    }

    public Reply Send(NinePMessageType type, Action<Message> body)
    {
        var m = new Message();
        body(m);
        ushort tag = _tag++;
        if (_tag == NinePServer.NoTag)
            _tag = 1;
        var reply = Raw(Frame(type, tag, m));
        if (reply.Tag != tag)
            throw new InvalidOperationException($"reply tag {reply.Tag} for request tag {tag}");
        return reply;
    }

    /// <summary>Sends raw bytes; checks the reply's framing (size field = length, R type = T type + 1 or Rlerror).</summary>
    public Reply Raw(ReadOnlySpan<byte> request, int replyRoom = -1)
    {
        int n = Server.Handle(request, _reply.AsSpan(0, replyRoom < 0 ? _reply.Length : replyRoom));
        if (n < 7)
            throw new InvalidOperationException($"reply of {n} bytes");
        if (BinaryPrimitives.ReadUInt32LittleEndian(_reply) != (uint)n)
            throw new InvalidOperationException("reply size field does not match its length");
        var type = (NinePMessageType)_reply[4];
        if (request.Length >= 5 && type != NinePMessageType.Rlerror && type != (NinePMessageType)(request[4] + 1))
            throw new InvalidOperationException($"reply type {type} for request type {request[4]}");
        var body = _reply.AsSpan(7, n - 7).ToArray();
        Replies.Add(body);
        return new Reply(type, BinaryPrimitives.ReadUInt16LittleEndian(_reply.AsSpan(5)), body);
    }

    // --- operations: each returns the errno (0 on success) -------------------------------------------------

    public int Attach(uint fid, uint uid, out Qid qid)
    {
        var r = Send(NinePMessageType.Tattach, m => m.U32(fid).U32(NinePServer.NoFid).Str("root").Str("").U32(uid));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Walk(uint fid, uint newFid, out Qid[] qids, params string[] names)
    {
        var r = Send(NinePMessageType.Twalk, m =>
        {
            m.U32(fid).U32(newFid).U16((ushort)names.Length);
            foreach (var n in names)
                m.Str(n);
        });
        qids = [];
        if (r.Errno != 0)
            return r.Errno;
        qids = new Qid[r.U16()];
        for (int i = 0; i < qids.Length; i++)
            qids[i] = r.Qid();
        return 0;
    }

    /// <summary>Walks from the root along a '/'-separated path; fails unless every name was walked.</summary>
    public int WalkPath(string path, uint newFid)
    {
        var names = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int e = Walk(RootFid, newFid, out var qids, names);
        if (e == 0 && qids.Length != names.Length)
            return LinuxErrno.ENOENT;
        return e;
    }

    public int Lopen(uint fid, int flags, out Qid qid)
    {
        var r = Send(NinePMessageType.Tlopen, m => m.U32(fid).U32((uint)flags));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Lcreate(uint fid, string name, int flags, uint mode, out Qid qid, uint gid = 0)
    {
        var r = Send(NinePMessageType.Tlcreate, m => m.U32(fid).Str(name).U32((uint)flags).U32(mode).U32(gid));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Read(uint fid, ulong offset, uint count, out byte[] data)
    {
        var r = Send(NinePMessageType.Tread, m => m.U32(fid).U64(offset).U32(count));
        data = [];
        if (r.Errno != 0)
            return r.Errno;
        data = r.Bytes((int)r.U32());
        return 0;
    }

    public int Write(uint fid, ulong offset, byte[] data, out uint count)
    {
        var r = Send(NinePMessageType.Twrite, m => m.U32(fid).U64(offset).U32((uint)data.Length).Data(data));
        count = r.Errno == 0 ? r.U32() : 0;
        return r.Errno;
    }

    public int Clunk(uint fid) => Send(NinePMessageType.Tclunk, m => m.U32(fid)).Errno;

    public int Remove(uint fid) => Send(NinePMessageType.Tremove, m => m.U32(fid)).Errno;

    public int Flush(ushort oldTag) => Send(NinePMessageType.Tflush, m => m.U16(oldTag)).Errno;

    public int Fsync(uint fid) => Send(NinePMessageType.Tfsync, m => m.U32(fid).U32(0)).Errno;

    public int Mkdir(uint dfid, string name, uint mode, out Qid qid)
    {
        var r = Send(NinePMessageType.Tmkdir, m => m.U32(dfid).Str(name).U32(mode).U32(0));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Symlink(uint dfid, string name, string target, out Qid qid)
    {
        var r = Send(NinePMessageType.Tsymlink, m => m.U32(dfid).Str(name).Str(target).U32(0));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Mknod(uint dfid, string name, uint mode, uint major, uint minor, out Qid qid)
    {
        var r = Send(NinePMessageType.Tmknod, m => m.U32(dfid).Str(name).U32(mode).U32(major).U32(minor).U32(0));
        qid = r.Errno == 0 ? r.Qid() : default;
        return r.Errno;
    }

    public int Readlink(uint fid, out string target)
    {
        var r = Send(NinePMessageType.Treadlink, m => m.U32(fid));
        target = r.Errno == 0 ? r.Str() : "";
        return r.Errno;
    }

    public int Link(uint dfid, uint fid, string name) => Send(NinePMessageType.Tlink, m => m.U32(dfid).U32(fid).Str(name)).Errno;

    public int Rename(uint fid, uint dfid, string name) => Send(NinePMessageType.Trename, m => m.U32(fid).U32(dfid).Str(name)).Errno;

    public int RenameAt(uint oldDir, string oldName, uint newDir, string newName) =>
        Send(NinePMessageType.Trenameat, m => m.U32(oldDir).Str(oldName).U32(newDir).Str(newName)).Errno;

    public int UnlinkAt(uint dfid, string name, int flags = 0) => Send(NinePMessageType.Tunlinkat, m => m.U32(dfid).Str(name).U32((uint)flags)).Errno;

    public readonly record struct Attr(ulong Valid, Qid Qid, uint Mode, uint Uid, uint Gid, ulong Nlink, ulong Rdev, ulong Size,
        ulong BlockSize, ulong Blocks, long AtimeSec, long AtimeNsec, long MtimeSec, long MtimeNsec);

    public int GetAttr(uint fid, out Attr attr)
    {
        var r = Send(NinePMessageType.Tgetattr, m => m.U32(fid).U64(0x3FFF));
        attr = default;
        if (r.Errno != 0)
            return r.Errno;
        attr = new Attr(r.U64(), r.Qid(), r.U32(), r.U32(), r.U32(), r.U64(), r.U64(), r.U64(), r.U64(), r.U64(),
            (long)r.U64(), (long)r.U64(), (long)r.U64(), (long)r.U64());
        return 0;
    }

    public int SetAttr(uint fid, uint valid, uint mode = 0, uint uid = 0, uint gid = 0, ulong size = 0,
        long atimeSec = 0, long atimeNsec = 0, long mtimeSec = 0, long mtimeNsec = 0) =>
        Send(NinePMessageType.Tsetattr, m => m.U32(fid).U32(valid).U32(mode).U32(uid).U32(gid).U64(size)
            .U64((ulong)atimeSec).U64((ulong)atimeNsec).U64((ulong)mtimeSec).U64((ulong)mtimeNsec)).Errno;

    public int StatFs(uint fid, out uint type, out uint blockSize, out ulong blocks, out uint nameLength)
    {
        var r = Send(NinePMessageType.Tstatfs, m => m.U32(fid));
        type = blockSize = nameLength = 0;
        blocks = 0;
        if (r.Errno != 0)
            return r.Errno;
        type = r.U32();
        blockSize = r.U32();
        blocks = r.U64();
        r.U64(); r.U64(); r.U64(); r.U64(); r.U64();
        nameLength = r.U32();
        return 0;
    }

    public readonly record struct Entry(Qid Qid, ulong Offset, byte Type, string Name);

    public int ReadDir(uint fid, ulong offset, uint count, out List<Entry> entries)
    {
        var r = Send(NinePMessageType.Treaddir, m => m.U32(fid).U64(offset).U32(count));
        entries = [];
        if (r.Errno != 0)
            return r.Errno;
        uint n = r.U32();
        if (n != r.Remaining)
            throw new InvalidOperationException("Rreaddir count does not match its data");
        while (r.Remaining > 0)
            entries.Add(new Entry(r.Qid(), r.U64(), r.U8(), r.Str()));
        return 0;
    }

    /// <summary>Lists a directory the way Linux does: Tlopen, Treaddir from each last offset until empty, Tclunk.</summary>
    public List<Entry> List(string path, uint fid = 900, uint count = 8192)
    {
        Check(WalkPath(path, fid));
        Check(Lopen(fid, NinePOpenFlags.ReadOnly | NinePOpenFlags.Directory, out _));
        var all = new List<Entry>();
        ulong offset = 0;
        while (true)
        {
            Check(ReadDir(fid, offset, count, out var chunk));
            if (chunk.Count == 0)
                break;
            all.AddRange(chunk);
            offset = chunk[^1].Offset;
        }
        Check(Clunk(fid));
        return all;
    }

    public int XattrWalk(uint fid, uint newFid, string name, out ulong size)
    {
        var r = Send(NinePMessageType.Txattrwalk, m => m.U32(fid).U32(newFid).Str(name));
        size = r.Errno == 0 ? r.U64() : 0;
        return r.Errno;
    }

    /// <summary>Creates (or replaces) a file with contents through 9P; leaves no fid behind.</summary>
    public void CreateFile(string directory, string name, byte[] contents, uint fid = 901, uint mode = 0x1A4)
    {
        Check(WalkPath(directory, fid));
        Check(Lcreate(fid, name, NinePOpenFlags.WriteOnly, mode, out _));
        if (contents.Length > 0)
            Check(Write(fid, 0, contents, out _));
        Check(Clunk(fid));
    }

    /// <summary>Reads a whole file through 9P.</summary>
    public byte[] ReadAll(string path, uint fid = 902)
    {
        Check(WalkPath(path, fid));
        Check(Lopen(fid, NinePOpenFlags.ReadOnly, out _));
        var all = new List<byte>();
        while (true)
        {
            Check(Read(fid, (ulong)all.Count, 65536, out var chunk));
            if (chunk.Length == 0)
                break;
            all.AddRange(chunk);
        }
        Check(Clunk(fid));
        return [.. all];
    }
}

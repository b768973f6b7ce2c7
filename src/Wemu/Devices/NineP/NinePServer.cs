using System.Buffers.Binary;
using System.Text;
using static Wemu.Devices.NineP.LinuxErrno;

namespace Wemu.Devices.NineP;

/// <summary>
/// A 9P2000.L file server (the dialect of Linux's 9p client, Documentation/filesystems/9p.rst; message layouts as
/// in Linux net/9p/client.c and diod's protocol.md) over one <see cref="IFileSystem"/>. Transport-neutral: it takes
/// one whole T-message and writes one R-message. Fids name paths relative to the share's root, built only from
/// checked names, with ".." resolved here and clamped at the root; renames carry every fid below the renamed
/// path along. A malformed message (bad size, truncated field, string that is not UTF-8, unknown fid) gets
/// Rlerror and changes nothing; no exception from a backend reaches the caller. What a session can make the host
/// hold (fids, open files, directory snapshots, path strings) is bounded by <see cref="NinePServerLimits"/>.
/// </summary>
public sealed class NinePServer
{
    /// <summary>Largest msize offered: 512 KiB, so a copy moves half a megabyte per round trip.</summary>
    public const uint DefaultMaxMessageSize = 512 * 1024;

    /// <summary>Smallest msize accepted in Tversion: room for every reply but Rread/Rreaddir data.</summary>
    public const uint MinMessageSize = 4096;

    public const string Version = "9P2000.L";

    /// <summary>Longest name (NAME_MAX) and path (PATH_MAX) in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 255, MaxPathBytes = 4095;

    /// <summary>Most names in one Twalk (P9_MAXWELEM).</summary>
    public const int MaxWalkNames = 16;

    public const ushort NoTag = 0xFFFF;
    public const uint NoFid = 0xFFFF_FFFF;

    private const int ErrorReplySize = 11;   // size[4] type[1] tag[2] ecode[4]
    private const int ReadReplyHeader = 11;  // size[4] type[1] tag[2] count[4]
    private const uint AtRemoveDir = 0x200;  // AT_REMOVEDIR in Tunlinkat flags
    private const ulong GetattrBasic = 0x7FF; // P9_STATS_BASIC
    private const byte LockSuccess = 0, LockTypeUnlocked = 2;
    private const int ReaddirEntryMinimum = Qid.WireSize + 8 + 1 + 2 + 1; // qid offset type name[s] of a 1-byte name

    /// <summary>Estimated host bytes of one listed entry besides its name's UTF-16 characters (string and list slot).</summary>
    private const int ListingEntryOverhead = 56;

    private readonly IFileSystem _fs;
    private readonly NinePServerLimits _limits;
    private readonly Dictionary<uint, Fid> _fids = [];
    private readonly LinkedList<Fid> _listings = []; // fids holding a directory snapshot, oldest first
    private uint _messageSize;
    private bool _negotiated;
    private int _openFiles;
    private long _listingBytes;
    private long _pathChars;

    public NinePServer(IFileSystem fileSystem, uint maxMessageSize = DefaultMaxMessageSize, NinePServerLimits? limits = null)
    {
        if (maxMessageSize < MinMessageSize)
            throw new ArgumentOutOfRangeException(nameof(maxMessageSize));
        _fs = fileSystem;
        _limits = limits ?? NinePServerLimits.Default;
        MaxMessageSize = maxMessageSize;
        _messageSize = maxMessageSize;
    }

    public NinePServerLimits Limits => _limits;

    public IFileSystem FileSystem => _fs;

    public uint MaxMessageSize { get; }

    /// <summary>msize agreed in the last Tversion (the maximum before one).</summary>
    public uint MessageSize => _messageSize;

    public int FidCount => _fids.Count;

    /// <summary>Fids with an open file (on the host share, each one a host file descriptor).</summary>
    public int OpenFileCount => _openFiles;

    /// <summary>
    /// Estimated bytes of the directory snapshots held: at most <see cref="NinePServerLimits.ListingBudgetBytes"/>,
    /// or one snapshot alone if that one is larger.
    /// </summary>
    public long ListingBytes => _listingBytes;

    /// <summary>Characters of the fid paths held (at most <see cref="NinePServerLimits.PathBudgetChars"/>).</summary>
    public long PathChars => _pathChars;

    /// <summary>Forgets the session (device reset): clunks every fid, closing open files.</summary>
    public void Reset()
    {
        foreach (var f in _fids.Values)
            CloseFid(f);
        _fids.Clear();
        _listings.Clear();
        _openFiles = 0;
        _listingBytes = 0;
        _pathChars = 0;
        _negotiated = false;
        _messageSize = MaxMessageSize;
    }

    /// <summary>
    /// The session for a snapshot: the agreed msize and every fid by number, as its path, owner, state and open
    /// flags. Open files are not saved as handles: loading opens them again by path (9P reads and writes carry
    /// their offsets, so nothing else is lost). Fids reading extended attributes are refused.
    /// </summary>
    public void SaveState(Snapshot.StateWriter w)
    {
        w.Bool(_negotiated);
        w.U32(_messageSize);
        w.U32((uint)_fids.Count);
        foreach (var (number, fid) in _fids.OrderBy(f => f.Key))
        {
            if (fid.State == FidState.Xattr)
                throw new Snapshot.SnapshotException("cannot save this machine: the guest is reading extended attributes on its 9p share");
            w.U32(number);
            w.String(fid.Path);
            w.U32(fid.Uid);
            w.U8((byte)fid.State);
            w.I32(fid.OpenFlags);
        }
    }

    /// <summary>
    /// Restores <see cref="SaveState"/>'s session on this server's file system: each fid's path must exist (and is
    /// checked as a walk would: plain names, no "." or ".."), open files are opened again without creating or
    /// truncating, and the limits hold. Anything else is a <see cref="Snapshot.SnapshotException"/>.
    /// </summary>
    public void LoadState(Snapshot.StateReader r)
    {
        Reset();
        bool negotiated = r.Bool();
        uint messageSize = r.U32();
        if (messageSize < MinMessageSize || messageSize > MaxMessageSize)
            throw new Snapshot.SnapshotException($"snapshot: the 9p session's msize {messageSize} is out of this share's range");
        uint count = r.U32();
        if (count > (uint)_limits.MaxFids)
            throw new Snapshot.SnapshotException($"snapshot: the 9p session holds {count} fids, more than this share allows");
        for (uint i = 0; i < count; i++)
        {
            uint number = r.U32();
            string path = r.String(MaxPathBytes);
            uint uid = r.U32();
            var state = (FidState)r.U8();
            int flags = r.I32();
            if (number == NoFid || _fids.ContainsKey(number) || state is not (FidState.Walkable or FidState.OpenFile or FidState.OpenDirectory))
                throw new Snapshot.SnapshotException("snapshot: the 9p session's fids are damaged");
            if (path.Length > 0 && path.Split('/').Any(n => n.Length == 0 || n is "." or ".." || n.Contains('\0') || n.Length > MaxNameBytes))
                throw new Snapshot.SnapshotException($"snapshot: the 9p fid path '{path}' is not a path in the share");
            if (_fs.Stat(path, out _) != 0)
                throw new Snapshot.SnapshotException($"cannot resume: '{path}', which the guest had in use on its 9p share, is not in this share");
            var fid = new Fid(path, uid) { State = state, OpenFlags = flags };
            if (state == FidState.OpenFile)
            {
                if (_openFiles >= _limits.MaxOpenFiles)
                    throw new Snapshot.SnapshotException("snapshot: the 9p session has more open files than this share allows");
                int reopen = flags & ~(NinePOpenFlags.Create | NinePOpenFlags.Exclusive | NinePOpenFlags.Truncate);
                if (_fs.IsReadOnly && NinePOpenFlags.Writes(reopen))
                    throw new Snapshot.SnapshotException($"cannot resume: the guest had '{path}' open for writing and this share is read-only");
                if (_fs.Open(path, reopen, uid, out var file) != 0)
                    throw new Snapshot.SnapshotException($"cannot resume: '{path}', open in the guest, cannot be opened in this share");
                fid.File = file;
                _openFiles++;
            }
            if (AddFid(number, fid) != 0)
                throw new Snapshot.SnapshotException("snapshot: the 9p session's paths are longer than this share allows");
        }
        _negotiated = negotiated;
        _messageSize = messageSize;
    }

    /// <summary>
    /// Serves one request. <paramref name="request"/> holds the whole message (it may be followed by unused
    /// bytes); the reply goes to the start of <paramref name="reply"/>. Returns the reply length, 0 only if
    /// <paramref name="reply"/> cannot hold even an Rlerror.
    /// </summary>
    public int Handle(ReadOnlySpan<byte> request, Span<byte> reply)
    {
        if (reply.Length < ErrorReplySize)
            return 0;
        if (request.Length < NinePMessageWriter.HeaderSize)
            return Error(reply, NoTag, EPROTO);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(request);
        var type = (NinePMessageType)request[4];
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(request[5..]);
        if (size < NinePMessageWriter.HeaderSize || size > (uint)request.Length || size > _messageSize)
            return Error(reply, tag, EPROTO);
        if (type != NinePMessageType.Tversion && !_negotiated)
            return Error(reply, tag, EPROTO);
        var r = new NinePMessageReader(request[..(int)size], NinePMessageWriter.HeaderSize);
        // The reply never exceeds msize, whatever room the transport gives.
        var w = new NinePMessageWriter(reply[..(int)Math.Min((uint)reply.Length, _messageSize)]);
        int errno;
        try
        {
            errno = Dispatch(type, ref r, ref w);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errno = EIO; // a backend bug must look like a failing disk to the guest, not crash the emulator
        }
        if (errno != 0)
            return Error(reply, tag, errno);
        if (w.Overflowed)
            return Error(reply, tag, EMSGSIZE);
        return w.Finish(type + 1, tag);
    }

    private static int Error(Span<byte> reply, ushort tag, int errno)
    {
        var w = new NinePMessageWriter(reply);
        w.WriteUInt32((uint)errno);
        return w.Finish(NinePMessageType.Rlerror, tag);
    }

    private int Dispatch(NinePMessageType type, ref NinePMessageReader r, ref NinePMessageWriter w) => type switch
    {
        NinePMessageType.Tversion => NegotiateVersion(ref r, ref w),
        NinePMessageType.Tattach => Attach(ref r, ref w),
        NinePMessageType.Tauth => EOPNOTSUPP,
        NinePMessageType.Tflush => Flush(ref r),
        NinePMessageType.Twalk => Walk(ref r, ref w),
        NinePMessageType.Tgetattr => GetAttr(ref r, ref w),
        NinePMessageType.Tsetattr => SetAttr(ref r),
        NinePMessageType.Tlopen => Lopen(ref r, ref w),
        NinePMessageType.Tlcreate => Lcreate(ref r, ref w),
        NinePMessageType.Tread => Read(ref r, ref w),
        NinePMessageType.Twrite => Write(ref r, ref w),
        NinePMessageType.Treaddir => ReadDir(ref r, ref w),
        NinePMessageType.Tmkdir => Mkdir(ref r, ref w),
        NinePMessageType.Tsymlink => Symlink(ref r, ref w),
        NinePMessageType.Tmknod => Mknod(ref r, ref w),
        NinePMessageType.Treadlink => Readlink(ref r, ref w),
        NinePMessageType.Tlink => Link(ref r),
        NinePMessageType.Trename => Rename(ref r),
        NinePMessageType.Trenameat => RenameAt(ref r),
        NinePMessageType.Tunlinkat => UnlinkAt(ref r),
        NinePMessageType.Tremove => Remove(ref r),
        NinePMessageType.Tstatfs => StatFs(ref r, ref w),
        NinePMessageType.Tfsync => Fsync(ref r),
        NinePMessageType.Tclunk => Clunk(ref r),
        NinePMessageType.Txattrwalk => XattrWalk(ref r, ref w),
        NinePMessageType.Txattrcreate => XattrCreate(ref r),
        NinePMessageType.Tlock => Lock(ref r, ref w),
        NinePMessageType.Tgetlock => GetLock(ref r, ref w),
        _ => EOPNOTSUPP,
    };

    // --- session -------------------------------------------------------------------------------------------

    /// <summary>Tversion msize[4] version[s] → Rversion msize[4] version[s]. Starts a new session.</summary>
    private int NegotiateVersion(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint msize = r.ReadUInt32();
        string version = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (msize < MinMessageSize)
            return EINVAL;
        Reset();
        _messageSize = Math.Min(msize, MaxMessageSize);
        // Any other dialect (9P2000, 9P2000.u) is answered "unknown", as the protocol asks.
        bool ok = version == Version;
        _negotiated = ok;
        w.WriteUInt32(_messageSize);
        w.WriteString(ok ? Version : "unknown");
        return 0;
    }

    /// <summary>Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4] → Rattach qid[13].</summary>
    private int Attach(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fid = r.ReadUInt32();
        r.ReadUInt32();   // afid: no authentication
        r.ReadString();   // uname
        r.ReadString();   // aname: the share has one tree
        uint uid = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (_fids.ContainsKey(fid) || fid == NoFid)
            return EBADF;
        if (_fids.Count >= _limits.MaxFids)
            return EMFILE;
        int e = _fs.Stat("", out var st);
        if (e != 0)
            return e;
        e = AddFid(fid, new Fid("", uid == NoFid ? 0 : uid));
        if (e != 0)
            return e;
        w.WriteQid(Qid.From(st));
        return 0;
    }

    /// <summary>Tflush oldtag[2] → Rflush. Requests complete before the next is read, so nothing is in flight.</summary>
    private static int Flush(ref NinePMessageReader r)
    {
        r.ReadUInt16();
        return r.Failed ? EPROTO : 0;
    }

    // --- walking and attributes ----------------------------------------------------------------------------

    /// <summary>Twalk fid[4] newfid[4] nwname[2] nwname*(wname[s]) → Rwalk nwqid[2] nwqid*(qid[13]).</summary>
    private int Walk(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        uint newFid = r.ReadUInt32();
        int count = r.ReadUInt16();
        if (r.Failed)
            return EPROTO;
        if (count > MaxWalkNames)
            return EINVAL;
        var names = count == 0 ? [] : new string[count];
        for (int i = 0; i < count; i++)
            names[i] = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        if (newFid != fidNumber && (_fids.ContainsKey(newFid) || newFid == NoFid))
            return EBADF;
        if (newFid == fidNumber && fid.State != FidState.Walkable)
            return EBADF;
        if (newFid != fidNumber && _fids.Count >= _limits.MaxFids)
            return EMFILE;

        string path = fid.Path;
        int walked = 0;
        int firstError = 0;
        var qids = count == 0 ? [] : new Qid[count];
        for (; walked < count; walked++)
        {
            string name = names[walked];
            int e = CheckName(name, allowDots: true);
            string next = path;
            if (e == 0)
            {
                if (name is "." or "..")
                {
                    // "." and ".." only from a directory; ".." of the root is the root (9P walk(5)).
                    e = _fs.Stat(path, out var here);
                    if (e == 0 && !LinuxFileMode.IsDirectory(here.Mode))
                        e = ENOTDIR;
                    if (name == "..")
                        next = Parent(path);
                }
                else
                {
                    next = Join(path, name);
                    if (Encoding.UTF8.GetByteCount(next) > MaxPathBytes)
                        e = ENAMETOOLONG;
                }
            }
            if (e == 0)
            {
                e = _fs.Stat(next, out var st);
                if (e == 0)
                    qids[walked] = Qid.From(st);
            }
            if (e != 0)
            {
                firstError = e;
                break;
            }
            path = next;
        }
        // walk(5): an error on the first name is an error; later, the reply lists the qids that were walked
        // and newfid is not created.
        if (walked == 0 && count > 0)
            return firstError;
        if (walked == count)
        {
            int e = newFid == fidNumber ? SetPath(fid, path) : AddFid(newFid, new Fid(path, fid.Uid));
            if (e != 0)
                return e;
        }
        w.WriteUInt16((ushort)walked);
        for (int i = 0; i < walked; i++)
            w.WriteQid(qids[i]);
        return 0;
    }

    /// <summary>
    /// Tgetattr fid[4] request_mask[8] → Rgetattr valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
    /// size[8] blksize[8] blocks[8] atime[8+8] mtime[8+8] ctime[8+8] btime[8+8] gen[8] data_version[8].
    /// </summary>
    private int GetAttr(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        r.ReadUInt64();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        // An open file answers through its handle, so fstat works after unlink, as on Linux.
        int e = fid.File != null ? fid.File.Stat(out var st) : _fs.Stat(fid.Path, out st);
        if (e != 0)
            return e;
        w.WriteUInt64(GetattrBasic);
        w.WriteQid(Qid.From(st));
        w.WriteUInt32(st.Mode);
        w.WriteUInt32(st.Uid);
        w.WriteUInt32(st.Gid);
        w.WriteUInt64(st.LinkCount);
        w.WriteUInt64(st.RawDevice);
        w.WriteUInt64(st.Size);
        w.WriteUInt64(st.BlockSize);
        w.WriteUInt64(st.Blocks);
        w.WriteUInt64((ulong)st.AtimeSeconds);
        w.WriteUInt64((ulong)st.AtimeNanoseconds);
        w.WriteUInt64((ulong)st.MtimeSeconds);
        w.WriteUInt64((ulong)st.MtimeNanoseconds);
        w.WriteUInt64((ulong)st.CtimeSeconds);
        w.WriteUInt64((ulong)st.CtimeNanoseconds);
        w.WriteUInt64(0); // btime
        w.WriteUInt64(0);
        w.WriteUInt64(0); // gen
        w.WriteUInt64(0); // data_version
        return 0;
    }

    /// <summary>
    /// Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8]
    /// mtime_nsec[8] → Rsetattr.
    /// </summary>
    private int SetAttr(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        var req = new SetAttributesRequest
        {
            Valid = r.ReadUInt32(),
            NewMode = r.ReadUInt32(),
            NewUid = r.ReadUInt32(),
            NewGid = r.ReadUInt32(),
            NewSize = r.ReadUInt64(),
            AtimeSeconds = (long)r.ReadUInt64(),
            AtimeNanoseconds = (long)r.ReadUInt64(),
            MtimeSeconds = (long)r.ReadUInt64(),
            MtimeNanoseconds = (long)r.ReadUInt64(),
        };
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        if (_fs.IsReadOnly)
            return EROFS;
        if (req.Has(SetAttributesRequest.Size) && req.NewSize > long.MaxValue)
            return EFBIG;
        // ftruncate on an open file goes through its handle (it may be unlinked); the rest by path.
        if (req.Has(SetAttributesRequest.Size) && fid.File != null)
        {
            int te = fid.File.Truncate(req.NewSize);
            if (te != 0)
                return te;
            req.Valid &= ~SetAttributesRequest.Size;
        }
        req.Valid &= ~SetAttributesRequest.Ctime; // ctime follows any change by itself
        if (req.Valid == 0)
            return 0;
        return _fs.SetAttributes(fid.Path, req);
    }

    // --- opening, reading, writing -------------------------------------------------------------------------

    /// <summary>Tlopen fid[4] flags[4] → Rlopen qid[13] iounit[4].</summary>
    private int Lopen(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        int flags = (int)r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State != FidState.Walkable)
            return EBADF;
        int e = _fs.Stat(fid.Path, out var st);
        if (e != 0)
            return e;
        if (LinuxFileMode.IsDirectory(st.Mode))
        {
            if ((flags & NinePOpenFlags.AccessMask) != NinePOpenFlags.ReadOnly)
                return EISDIR;
            fid.State = FidState.OpenDirectory;
            fid.Listing = null;
        }
        else
        {
            if (LinuxFileMode.IsSymbolicLink(st.Mode))
                return ELOOP;
            if (_fs.IsReadOnly && NinePOpenFlags.Writes(flags))
                return EROFS;
            if (_openFiles >= _limits.MaxOpenFiles)
                return EMFILE;
            e = _fs.Open(fid.Path, flags, fid.Uid, out var file);
            if (e != 0)
                return e;
            fid.File = file;
            _openFiles++;
            fid.State = FidState.OpenFile;
            if (file!.Stat(out var opened) == 0)
                st = opened;
        }
        fid.OpenFlags = flags;
        w.WriteQid(Qid.From(st));
        w.WriteUInt32(0); // iounit 0: the client uses msize - P9_IOHDRSZ
        return 0;
    }

    /// <summary>Tlcreate fid[4] name[s] flags[4] mode[4] gid[4] → Rlcreate qid[13] iounit[4]; fid becomes the open file.</summary>
    private int Lcreate(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        string name = r.ReadString();
        int flags = (int)r.ReadUInt32();
        uint mode = r.ReadUInt32();
        uint gid = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State != FidState.Walkable)
            return EBADF;
        int e = CheckNewName(fid.Path, name, out string path);
        if (e != 0)
            return e;
        if (_fs.IsReadOnly)
            return EROFS;
        if (_openFiles >= _limits.MaxOpenFiles)
            return EMFILE;
        if (path.Length > fid.Path.Length && _pathChars + (path.Length - fid.Path.Length) > _limits.PathBudgetChars)
            return ENOMEM;
        e = _fs.Create(fid.Path, name, flags, mode & LinuxFileMode.PermissionMask, fid.Uid, gid, out var file);
        if (e != 0)
            return e;
        SetPath(fid, path); // cannot fail: checked above
        fid.File = file;
        _openFiles++;
        fid.State = FidState.OpenFile;
        fid.OpenFlags = flags;
        e = file!.Stat(out var st);
        if (e != 0)
            return e;
        w.WriteQid(Qid.From(st));
        w.WriteUInt32(0);
        return 0;
    }

    /// <summary>Tread fid[4] offset[8] count[4] → Rread count[4] data[count].</summary>
    private int Read(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        uint count = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid))
            return EBADF;
        if (fid.State == FidState.Xattr)
        {
            w.WriteUInt32(0); // the (empty) attribute list has no bytes
            return 0;
        }
        if (fid.State == FidState.OpenDirectory)
            return EISDIR;
        if (fid.State != FidState.OpenFile || (fid.OpenFlags & NinePOpenFlags.AccessMask) == NinePOpenFlags.WriteOnly)
            return EBADF;
        if (offset > long.MaxValue)
            return EINVAL;
        int n = (int)Math.Min(count, (uint)Math.Max(w.Remaining - 4, 0));
        var header = w.Reserve(4);
        var data = w.Reserve(n);
        int e = fid.File!.Read((long)offset, data, out int read);
        if (e != 0)
            return e;
        read = Math.Clamp(read, 0, n);
        w.Unreserve(n - read);
        if (!header.IsEmpty)
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)read);
        return 0;
    }

    /// <summary>Twrite fid[4] offset[8] count[4] data[count] → Rwrite count[4].</summary>
    private int Write(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        uint count = r.ReadUInt32();
        var data = count > int.MaxValue ? default : r.ReadBytes((int)count);
        if (r.Failed || count > int.MaxValue)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid))
            return EBADF;
        if (fid.State == FidState.OpenDirectory)
            return EISDIR;
        if (fid.State != FidState.OpenFile || (fid.OpenFlags & NinePOpenFlags.AccessMask) == NinePOpenFlags.ReadOnly)
            return EBADF;
        if (_fs.IsReadOnly)
            return EROFS;
        if (offset > long.MaxValue || offset + count > long.MaxValue)
            return EFBIG;
        int e = fid.File!.Write((long)offset, data, out int written);
        if (e != 0 && written == 0)
            return e;
        w.WriteUInt32((uint)Math.Clamp(written, 0, (int)count));
        return 0;
    }

    /// <summary>
    /// Treaddir fid[4] offset[8] count[4] → Rreaddir count[4] data[count], entries qid[13] offset[8] type[1]
    /// name[s]. The listing is taken when a read starts at offset 0 and served from that snapshot; an entry's
    /// offset is its index + 1, the cookie the client sends back to continue after it.
    /// </summary>
    private int ReadDir(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        uint count = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid))
            return EBADF;
        if (fid.State != FidState.OpenDirectory)
            return fid.State == FidState.OpenFile ? ENOTDIR : EBADF;
        var entries = fid.Listing;
        if (offset == 0 || entries == null)
        {
            DropListing(fid);
            int e = List(fid.Path, out entries);
            if (e != 0)
                return e;
            KeepListing(fid, entries);
        }
        var countField = w.Reserve(4);
        int limit = (int)Math.Min(count, (uint)w.Remaining);
        int used = 0;
        for (ulong i = offset; i < (ulong)entries.Count; i++)
        {
            var entry = entries[(int)i];
            int size = Qid.WireSize + 8 + 1 + 2 + Encoding.UTF8.GetByteCount(entry.Name);
            if (used + size > limit)
            {
                // getdents(2): a buffer too small for even one entry is EINVAL, not the end of the directory.
                if (used == 0 && count >= ReaddirEntryMinimum)
                    return EINVAL;
                break;
            }
            w.WriteQid(new Qid(Qid.TypeOf(entry.TypeMode), 0, entry.Inode));
            w.WriteUInt64(i + 1);
            w.WriteByte(LinuxFileMode.DirectoryEntryType(entry.TypeMode));
            w.WriteString(entry.Name);
            used += size;
        }
        if (!countField.IsEmpty)
            BinaryPrimitives.WriteUInt32LittleEndian(countField, (uint)used);
        return 0;
    }

    /// <summary>
    /// Keeps <paramref name="listing"/> as <paramref name="fid"/>'s snapshot within the listing budget, dropping
    /// the oldest snapshots first. A listing larger than the whole budget is kept alone: it was in memory anyway,
    /// and taking it again for every Treaddir would make reading it quadratic.
    /// </summary>
    private void KeepListing(Fid fid, List<DirectoryEntry> listing)
    {
        long cost = 0;
        foreach (var entry in listing)
            cost += ListingEntryOverhead + 2L * entry.Name.Length;
        while (_listingBytes + cost > _limits.ListingBudgetBytes && _listings.First != null)
            DropListing(_listings.First.Value);
        fid.Listing = listing;
        fid.ListingBytes = cost;
        fid.ListingNode = _listings.AddLast(fid);
        _listingBytes += cost;
    }

    private void DropListing(Fid fid)
    {
        if (fid.ListingNode != null)
        {
            _listings.Remove(fid.ListingNode);
            _listingBytes -= fid.ListingBytes;
        }
        fid.Listing = null;
        fid.ListingNode = null;
        fid.ListingBytes = 0;
    }

    private int List(string path, out List<DirectoryEntry> listing)
    {
        listing = [];
        int e = _fs.Stat(path, out var self);
        if (e != 0)
            return e;
        if (!LinuxFileMode.IsDirectory(self.Mode))
            return ENOTDIR;
        var parent = self;
        if (path.Length > 0 && _fs.Stat(Parent(path), out var p) == 0)
            parent = p;
        listing.Add(new DirectoryEntry(".", self.Inode, LinuxFileMode.Directory));
        listing.Add(new DirectoryEntry("..", parent.Inode, LinuxFileMode.Directory));
        return _fs.ReadDirectory(path, listing);
    }

    /// <summary>Tfsync fid[4] [datasync[4]] → Rfsync.</summary>
    private int Fsync(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid))
            return EBADF;
        return fid.File?.Sync() ?? 0;
    }

    /// <summary>Tclunk fid[4] → Rclunk.</summary>
    private int Clunk(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.Remove(fidNumber, out var fid))
            return EBADF;
        CloseFid(fid);
        return 0;
    }

    // --- creating, linking, renaming, removing -------------------------------------------------------------

    /// <summary>Tmkdir dfid[4] name[s] mode[4] gid[4] → Rmkdir qid[13].</summary>
    private int Mkdir(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint dfid = r.ReadUInt32();
        string name = r.ReadString();
        uint mode = r.ReadUInt32();
        uint gid = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        int e = NewEntry(dfid, name, out var dir, out string path);
        if (e != 0)
            return e;
        if (_fs.IsReadOnly)
            return EROFS;
        e = _fs.MakeDirectory(dir.Path, name, mode & LinuxFileMode.PermissionMask, dir.Uid, gid);
        return e != 0 ? e : WriteQidOf(path, ref w);
    }

    /// <summary>Tsymlink fid[4] name[s] symtgt[s] gid[4] → Rsymlink qid[13].</summary>
    private int Symlink(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint dfid = r.ReadUInt32();
        string name = r.ReadString();
        string target = r.ReadString();
        uint gid = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        int e = NewEntry(dfid, name, out var dir, out string path);
        if (e != 0)
            return e;
        if (target.Length == 0 || target.Contains('\0'))
            return target.Length == 0 ? ENOENT : EINVAL;
        if (Encoding.UTF8.GetByteCount(target) > MaxPathBytes)
            return ENAMETOOLONG;
        if (_fs.IsReadOnly)
            return EROFS;
        e = _fs.MakeSymbolicLink(dir.Path, name, target, dir.Uid, gid);
        return e != 0 ? e : WriteQidOf(path, ref w);
    }

    /// <summary>Tmknod dfid[4] name[s] mode[4] major[4] minor[4] gid[4] → Rmknod qid[13].</summary>
    private int Mknod(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint dfid = r.ReadUInt32();
        string name = r.ReadString();
        uint mode = r.ReadUInt32();
        uint major = r.ReadUInt32();
        uint minor = r.ReadUInt32();
        uint gid = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        int e = NewEntry(dfid, name, out var dir, out string path);
        if (e != 0)
            return e;
        if (_fs.IsReadOnly)
            return EROFS;
        uint type = mode & LinuxFileMode.TypeMask;
        if (type is not (LinuxFileMode.Regular or LinuxFileMode.Fifo or LinuxFileMode.Socket or LinuxFileMode.CharacterDevice or LinuxFileMode.BlockDevice))
            return EINVAL;
        e = _fs.MakeNode(dir.Path, name, mode & (LinuxFileMode.TypeMask | LinuxFileMode.PermissionMask), major, minor, dir.Uid, gid);
        return e != 0 ? e : WriteQidOf(path, ref w);
    }

    /// <summary>Treadlink fid[4] → Rreadlink target[s].</summary>
    private int Readlink(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        int e = _fs.ReadSymbolicLink(fid.Path, out string target);
        if (e != 0)
            return e;
        w.WriteString(target);
        return 0;
    }

    /// <summary>Tlink dfid[4] fid[4] name[s] → Rlink.</summary>
    private int Link(ref NinePMessageReader r)
    {
        uint dfid = r.ReadUInt32();
        uint fidNumber = r.ReadUInt32();
        string name = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!TryDirectoryFid(dfid, out var dir) || !_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        int e = CheckNewName(dir.Path, name, out _);
        if (e != 0)
            return e;
        if (_fs.IsReadOnly)
            return EROFS;
        if (fid.Path.Length == 0)
            return EPERM; // the root is a directory: no hard links
        return _fs.Link(fid.Path, dir.Path, name);
    }

    /// <summary>Trename fid[4] dfid[4] name[s] → Rrename.</summary>
    private int Rename(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        uint dfid = r.ReadUInt32();
        string name = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr || !TryDirectoryFid(dfid, out var dir))
            return EBADF;
        if (fid.Path.Length == 0)
            return EBUSY;
        return RenameCore(Parent(fid.Path), LastName(fid.Path), dir.Path, name);
    }

    /// <summary>Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s] → Rrenameat.</summary>
    private int RenameAt(ref NinePMessageReader r)
    {
        uint oldDirFid = r.ReadUInt32();
        string oldName = r.ReadString();
        uint newDirFid = r.ReadUInt32();
        string newName = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!TryDirectoryFid(oldDirFid, out var oldDir) || !TryDirectoryFid(newDirFid, out var newDir))
            return EBADF;
        int e = CheckName(oldName, allowDots: false);
        if (e != 0)
            return e == EEXIST ? EBUSY : e;
        return RenameCore(oldDir.Path, oldName, newDir.Path, newName);
    }

    private int RenameCore(string oldDir, string oldName, string newDir, string newName)
    {
        int e = CheckNewName(newDir, newName, out string newPath);
        if (e != 0)
            return e == EEXIST ? EBUSY : e;
        if (_fs.IsReadOnly)
            return EROFS;
        string oldPath = Join(oldDir, oldName);
        // rename(2): a directory cannot move below itself.
        if (newPath.StartsWith(oldPath + "/", StringComparison.Ordinal))
            return EINVAL;
        // The fids below the renamed path move with it: each path must stay within PATH_MAX (so no fid ever
        // names a path the backends would take long to resolve, however often the guest renames), and all of
        // them within the path budget.
        if (newPath.Length > oldPath.Length || Encoding.UTF8.GetByteCount(newPath) > Encoding.UTF8.GetByteCount(oldPath))
        {
            long carried = 0;
            int growth = Encoding.UTF8.GetByteCount(newPath) - Encoding.UTF8.GetByteCount(oldPath);
            foreach (var f in _fids.Values)
            {
                if (!IsAtOrBelow(f.Path, oldPath))
                    continue;
                if (Encoding.UTF8.GetByteCount(f.Path) + growth > MaxPathBytes)
                    return ENAMETOOLONG;
                carried++;
            }
            if (_pathChars + carried * Math.Max(newPath.Length - oldPath.Length, 0) > _limits.PathBudgetChars)
                return ENOMEM;
        }
        e = _fs.Rename(oldDir, oldName, newDir, newName);
        if (e != 0)
            return e;
        if (oldPath != newPath)
        {
            foreach (var f in _fids.Values)
                if (IsAtOrBelow(f.Path, oldPath))
                    SetPath(f, newPath + f.Path[oldPath.Length..], force: true);
        }
        return 0;
    }

    /// <summary>Tunlinkat dirfd[4] name[s] flags[4] → Runlinkat.</summary>
    private int UnlinkAt(ref NinePMessageReader r)
    {
        uint dfid = r.ReadUInt32();
        string name = r.ReadString();
        uint flags = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!TryDirectoryFid(dfid, out var dir))
            return EBADF;
        int e = CheckName(name, allowDots: false);
        if (e != 0)
            return e == EEXIST ? ((flags & AtRemoveDir) != 0 ? ENOTEMPTY : EISDIR) : e;
        if (_fs.IsReadOnly)
            return EROFS;
        return _fs.Remove(dir.Path, name, (flags & AtRemoveDir) != 0);
    }

    /// <summary>Tremove fid[4] → Rremove. The fid is clunked whether or not the removal succeeds (remove(5)).</summary>
    private int Remove(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.Remove(fidNumber, out var fid))
            return EBADF;
        CloseFid(fid);
        if (fid.State == FidState.Xattr)
            return EINVAL;
        if (fid.Path.Length == 0)
            return EBUSY;
        if (_fs.IsReadOnly)
            return EROFS;
        int e = _fs.Stat(fid.Path, out var st);
        if (e != 0)
            return e;
        return _fs.Remove(Parent(fid.Path), LastName(fid.Path), LinuxFileMode.IsDirectory(st.Mode));
    }

    // --- file system, xattrs, locks ------------------------------------------------------------------------

    /// <summary>
    /// Tstatfs fid[4] → Rstatfs type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8]
    /// namelen[4].
    /// </summary>
    private int StatFs(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.ContainsKey(fidNumber))
            return EBADF;
        int e = _fs.StatFileSystem(out var s);
        if (e != 0)
            return e;
        w.WriteUInt32(s.Type);
        w.WriteUInt32(s.BlockSize);
        w.WriteUInt64(s.Blocks);
        w.WriteUInt64(s.BlocksFree);
        w.WriteUInt64(s.BlocksAvailable);
        w.WriteUInt64(s.Files);
        w.WriteUInt64(s.FilesFree);
        w.WriteUInt64(s.FileSystemId);
        w.WriteUInt32(s.NameLength);
        return 0;
    }

    /// <summary>
    /// Txattrwalk fid[4] newfid[4] name[s] → Rxattrwalk size[8]. The share has no extended attributes: the list
    /// (empty name) is empty and every named attribute is ENODATA, so getxattr/listxattr behave as on a file
    /// system without any.
    /// </summary>
    private int XattrWalk(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        uint newFid = r.ReadUInt32();
        string name = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!_fids.TryGetValue(fidNumber, out var fid) || fid.State == FidState.Xattr)
            return EBADF;
        if (newFid == fidNumber || newFid == NoFid || _fids.ContainsKey(newFid))
            return EBADF;
        int e = _fs.Stat(fid.Path, out _);
        if (e != 0)
            return e;
        if (name.Length != 0)
            return ENODATA;
        if (_fids.Count >= _limits.MaxFids)
            return EMFILE;
        e = AddFid(newFid, new Fid(fid.Path, fid.Uid) { State = FidState.Xattr });
        if (e != 0)
            return e;
        w.WriteUInt64(0);
        return 0;
    }

    /// <summary>Txattrcreate fid[4] name[s] attr_size[8] flags[4]: setting attributes is not supported.</summary>
    private int XattrCreate(ref NinePMessageReader r)
    {
        uint fidNumber = r.ReadUInt32();
        r.ReadString();
        r.ReadUInt64();
        r.ReadUInt32();
        if (r.Failed)
            return EPROTO;
        if (!_fids.ContainsKey(fidNumber))
            return EBADF;
        return _fs.IsReadOnly ? EROFS : EOPNOTSUPP;
    }

    /// <summary>
    /// Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] → Rlock status[1]. One client
    /// per share, so every lock is granted (the guest kernel arbitrates between its own processes).
    /// </summary>
    private int Lock(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        r.ReadByte();
        r.ReadUInt32();
        r.ReadUInt64();
        r.ReadUInt64();
        r.ReadUInt32();
        r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!_fids.ContainsKey(fidNumber))
            return EBADF;
        w.WriteByte(LockSuccess);
        return 0;
    }

    /// <summary>
    /// Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] → Rgetlock type[1] start[8]
    /// length[8] proc_id[4] client_id[s]: no conflicting lock (F_UNLCK).
    /// </summary>
    private int GetLock(ref NinePMessageReader r, ref NinePMessageWriter w)
    {
        uint fidNumber = r.ReadUInt32();
        r.ReadByte();
        ulong start = r.ReadUInt64();
        ulong length = r.ReadUInt64();
        uint procId = r.ReadUInt32();
        string clientId = r.ReadString();
        if (r.Failed)
            return EPROTO;
        if (!_fids.ContainsKey(fidNumber))
            return EBADF;
        w.WriteByte(LockTypeUnlocked);
        w.WriteUInt64(start);
        w.WriteUInt64(length);
        w.WriteUInt32(procId);
        w.WriteString(clientId);
        return 0;
    }

    // --- names and paths -----------------------------------------------------------------------------------

    /// <summary>For the creating messages: <paramref name="dfid"/> must be a directory fid (else EBADF) and
    /// <paramref name="name"/> a valid new name in it (<see cref="CheckNewName"/>).</summary>
    private int NewEntry(uint dfid, string name, out Fid dir, out string path)
    {
        path = "";
        if (!TryDirectoryFid(dfid, out dir))
            return EBADF;
        return CheckNewName(dir.Path, name, out path);
    }

    private bool TryDirectoryFid(uint number, out Fid fid) =>
        _fids.TryGetValue(number, out fid!) && fid.State is FidState.Walkable or FidState.OpenDirectory;

    private int WriteQidOf(string path, ref NinePMessageWriter w)
    {
        int e = _fs.Stat(path, out var st);
        if (e != 0)
            return e;
        w.WriteQid(Qid.From(st));
        return 0;
    }

    /// <summary>
    /// A name a guest may use: not empty, no '/' or NUL, at most NAME_MAX bytes. "." and ".." are refused with
    /// EEXIST unless <paramref name="allowDots"/> (walks resolve them here, never in a backend).
    /// </summary>
    private static int CheckName(string name, bool allowDots)
    {
        if (name.Length == 0)
            return ENOENT;
        if (name.Contains('/') || name.Contains('\0'))
            return EINVAL;
        if (name is "." or "..")
            return allowDots ? 0 : EEXIST;
        return Encoding.UTF8.GetByteCount(name) > MaxNameBytes ? ENAMETOOLONG : 0;
    }

    private static int CheckNewName(string directory, string name, out string path)
    {
        path = "";
        int e = CheckName(name, allowDots: false);
        if (e != 0)
            return e;
        path = Join(directory, name);
        return Encoding.UTF8.GetByteCount(path) > MaxPathBytes ? ENAMETOOLONG : 0;
    }

    private static bool IsAtOrBelow(string path, string directory) =>
        path.StartsWith(directory, StringComparison.Ordinal) && (path.Length == directory.Length || path[directory.Length] == '/');

    /// <summary>Registers a new fid, charging its path to the path budget (ENOMEM beyond it).</summary>
    private int AddFid(uint number, Fid fid)
    {
        if (_pathChars + fid.Path.Length > _limits.PathBudgetChars)
            return ENOMEM;
        _fids[number] = fid;
        _pathChars += fid.Path.Length;
        return 0;
    }

    /// <summary>Changes a fid's path within the path budget (<paramref name="force"/>: already checked by the caller).</summary>
    private int SetPath(Fid fid, string path, bool force = false)
    {
        long delta = path.Length - fid.Path.Length;
        if (!force && delta > 0 && _pathChars + delta > _limits.PathBudgetChars)
            return ENOMEM;
        fid.Path = path;
        _pathChars += delta;
        return 0;
    }

    /// <summary>Clunks a fid already taken out of the table: closes its file and gives back what it held.</summary>
    private void CloseFid(Fid fid)
    {
        if (fid.File != null)
        {
            fid.File.Dispose();
            fid.File = null;
            _openFiles--;
        }
        DropListing(fid);
        _pathChars -= fid.Path.Length;
    }

    internal static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    internal static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    internal static string LastName(string path) => path[(path.LastIndexOf('/') + 1)..];

    private enum FidState
    {
        Walkable,
        OpenFile,
        OpenDirectory,
        Xattr,
    }

    private sealed class Fid(string path, uint uid)
    {
        public string Path = path;
        public readonly uint Uid = uid;
        public FidState State = FidState.Walkable;
        public int OpenFlags;
        public IOpenFile? File;
        public List<DirectoryEntry>? Listing;
        public LinkedListNode<Fid>? ListingNode;
        public long ListingBytes;
    }
}

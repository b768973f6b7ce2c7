using System.Buffers.Binary;

namespace Wemu.Devices.Virtio;

/// <summary>
/// virtio-blk (virtio spec 1.2 section 5.2), device ID 2: one request queue, requests handled synchronously when
/// the driver notifies. Supports IN, OUT, FLUSH and GET_ID; other types complete with VIRTIO_BLK_S_UNSUPP.
/// </summary>
public sealed class VirtioBlockDevice : IVirtioDevice, Snapshot.IStateful
{
    public const uint Id = 2;

    public const int SectorSize = 512;

    /// <summary>Length of the serial number GET_ID returns (VIRTIO_BLK_ID_BYTES).</summary>
    public const int IdBytes = 20;

    // Feature bits (spec 5.2.3).
    public const ulong FeatureSizeMax = 1UL << 1;
    public const ulong FeatureSegMax = 1UL << 2;
    public const ulong FeatureReadOnly = 1UL << 5;
    public const ulong FeatureBlockSize = 1UL << 6;
    public const ulong FeatureFlush = 1UL << 9;

    // Request types and status values (spec 5.2.6).
    public const uint RequestIn = 0, RequestOut = 1, RequestFlush = 4, RequestGetId = 8;
    public const byte StatusOk = 0, StatusIoError = 1, StatusUnsupported = 2;

    private const int HeaderSize = 16; // le32 type, le32 reserved, le64 sector

    /// <summary>
    /// size_max: the largest data segment the driver may post (spec 5.2.3, VIRTIO_BLK_F_SIZE_MAX). With seg_max it
    /// bounds one request to <see cref="MaxRequestBytes"/>, so descriptors that alias the same guest memory cannot
    /// turn one request into disk-sized I/O; a larger request completes with VIRTIO_BLK_S_IOERR.
    /// </summary>
    public const uint SegmentSizeMax = 1 << 20;

    private readonly IBlockBackend _backend;
    private readonly byte[] _id = new byte[IdBytes];
    private readonly byte[] _config = new byte[24];
    private IVirtioTransport? _transport;

    /// <param name="backend">The disk. Its length is rounded down to whole sectors.</param>
    /// <param name="serial">Returned by GET_ID (ASCII, at most 20 bytes kept, NUL-padded).</param>
    /// <param name="queueSize">QueueNumMax of the request queue (QEMU: 256).</param>
    public VirtioBlockDevice(IBlockBackend backend, string serial = "", ushort queueSize = 256)
    {
        if (queueSize < 4 || (queueSize & (queueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(queueSize), "queue size must be a power of two >= 4");
        _backend = backend;
        MaxQueueSize = queueSize;
        for (int i = 0; i < serial.Length && i < IdBytes; i++)
            _id[i] = serial[i] < 0x80 ? (byte)serial[i] : (byte)'?';
        CapacitySectors = (ulong)Math.Max(backend.Length, 0) / SectorSize;

        // Configuration layout (spec 5.2.4): capacity @0, size_max @8, seg_max @12, geometry @16, blk_size @20.
        BinaryPrimitives.WriteUInt64LittleEndian(_config, CapacitySectors);
        // As QEMU: a request may use every descriptor except header and status.
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(8), SegmentSizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(12), (uint)queueSize - 2);
        MaxRequestBytes = (ulong)(queueSize - 2) * SegmentSizeMax;
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(20), SectorSize);
    }

    public uint DeviceId => Id;

    public ulong DeviceFeatures =>
        FeatureSizeMax | FeatureSegMax | FeatureBlockSize | FeatureFlush | (_backend.IsReadOnly ? FeatureReadOnly : 0);

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => _config.Length;

    public ulong CapacitySectors { get; }

    /// <summary>The most data one request may carry: seg_max segments of size_max bytes.</summary>
    public ulong MaxRequestBytes { get; }

    public void Attach(IVirtioTransport transport) => _transport = transport;

    public string StateName => "virtio-blk";

    public int StateVersion => 1;

    /// <summary>
    /// The image the machine ran on, and for a disk with an overlay (snapshot=on, the page's disks) what the guest
    /// wrote to it (its requests are all complete between slices: nothing else to keep).
    /// </summary>
    public void SaveState(Snapshot.StateWriter writer)
    {
        writer.String(_backend.SnapshotIdentity());
        if (_backend is OverlayBlockBackend overlay)
            overlay.SaveClusters(writer);
    }

    public void LoadState(Snapshot.StateReader reader)
    {
        string saved = reader.String(), now = _backend.SnapshotIdentity();
        if (saved != now)
            Changed(reader, saved, now);
        LoadContent(reader);
    }

    private static void Changed(Snapshot.StateReader reader, string saved, string now)
    {
        string changed = $"the disk changed since the snapshot was made (then: {saved}; now: {now})";
        if (!reader.Force)
            throw new Snapshot.SnapshotException(changed + "; -force-resume resumes anyway");
        reader.Note?.Invoke(changed + ": resuming anyway (-force-resume); the guest's cached view of it may be wrong");
    }

    /// <summary>After the identity: an overlay's content, which only a disk with an overlay can take (the base is never written).</summary>
    private void LoadContent(Snapshot.StateReader reader)
    {
        if (_backend is OverlayBlockBackend overlay)
        {
            // (a file from before overlays were saved has no content: the overlay starts empty, as it was then)
            if (!reader.AtEnd)
                overlay.LoadClusters(reader);
            else if (overlay.DirtyClusterCount > 0 && !overlay.IsPersistent)
                overlay.Discard();
        }
        else if (!reader.AtEnd)
        {
            throw new Snapshot.SnapshotException("the snapshot holds writes to a disk with an overlay (snapshot=on), and this disk has none: add snapshot=on to its -drive");
        }
    }

    public void ReadConfig(int offset, Span<byte> destination) => _config.AsSpan(offset, destination.Length).CopyTo(destination);

    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        // Every field we expose is read-only (writeback needs VIRTIO_BLK_F_CONFIG_WCE, not offered).
    }

    public void Reset()
    {
    }

    public void OnQueueNotify(int queue)
    {
        if (_transport == null || queue != 0)
            return;
        var vq = _transport.GetQueue(0);
        while (vq.TryPop(out var chain))
        {
            // Spec 5.2.6: a 16-byte driver-readable header and a 1-byte device-writable status, at least.
            if (chain.ReadableLength < HeaderSize || chain.WritableLength < 1)
            {
                _transport.SetNeedsReset();
                return;
            }
            byte status = Execute(chain);
            chain.Write(chain.WritableLength - 1, [status]);
            // As QEMU, the used length covers the whole writable part (data in, then status).
            vq.Push(chain, (uint)Math.Min(chain.WritableLength, uint.MaxValue));
        }
        vq.NotifyDriver();
    }

    private byte Execute(DescriptorChain chain)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        chain.Read(0, header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        try
        {
            switch (type)
            {
                case RequestIn:
                    return ReadSectors(chain, sector, chain.WritableLength - 1);
                case RequestOut:
                    return _backend.IsReadOnly ? StatusIoError : WriteSectors(chain, sector, chain.ReadableLength - HeaderSize);
                case RequestFlush:
                    _backend.Flush();
                    return StatusOk;
                case RequestGetId:
                    chain.Write(0, _id.AsSpan(0, (int)Math.Min((ulong)IdBytes, chain.WritableLength - 1)));
                    return StatusOk;
                default:
                    return StatusUnsupported;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failing host file (EIO, ENOSPC, EFBIG, EACCES after a permission change, a full temporary
            // file under snapshot=on...) is the guest's disk error, not the emulator's.
            return StatusIoError;
        }
    }

    /// <summary>Requests must be whole sectors inside the disk (spec 5.2.6.1 for blk_size; QEMU checks the same).</summary>
    private bool InRange(ulong sector, ulong length) =>
        length % SectorSize == 0 && length <= MaxRequestBytes && sector <= CapacitySectors && length / SectorSize <= CapacitySectors - sector;

    private byte ReadSectors(DescriptorChain chain, ulong sector, ulong length)
    {
        if (!InRange(sector, length))
            return StatusIoError;
        long position = (long)(sector * SectorSize);
        ulong remaining = length;
        for (int i = 0; i < chain.WritableSegmentCount && remaining > 0; i++)
        {
            var segment = chain.GetWritableSegment(i);
            int n = (int)Math.Min((ulong)segment.Length, remaining);
            _backend.Read(position, segment[..n]);
            position += n;
            remaining -= (ulong)n;
        }
        return StatusOk;
    }

    private byte WriteSectors(DescriptorChain chain, ulong sector, ulong length)
    {
        if (!InRange(sector, length))
            return StatusIoError;
        long position = (long)(sector * SectorSize);
        ulong skip = HeaderSize;
        ulong remaining = length;
        for (int i = 0; i < chain.ReadableSegmentCount && remaining > 0; i++)
        {
            var segment = chain.GetReadableSegment(i);
            if (skip >= (ulong)segment.Length)
            {
                skip -= (ulong)segment.Length;
                continue;
            }
            segment = segment[(int)skip..];
            skip = 0;
            int n = (int)Math.Min((ulong)segment.Length, remaining);
            _backend.Write(position, segment[..n]);
            position += n;
            remaining -= (ulong)n;
        }
        return StatusOk;
    }
}

using System.Buffers.Binary;
using System.Text;
using Wemu.Devices.NineP;

namespace Wemu.Devices.Virtio;

/// <summary>
/// virtio-9p (virtio spec 1.2 section 5.9 mentions device ID 9; the layout is QEMU's hw/9pfs/virtio-9p-device.c
/// and Linux net/9p/trans_virtio.c): one request queue; each chain carries one T-message in its driver-readable
/// part and room for the R-message in its device-writable part. Configuration space: le16 tag_len, then the
/// mount tag (VIRTIO_9P_MOUNT_TAG). Requests are served synchronously on notify by a <see cref="NinePServer"/>.
/// </summary>
public sealed class VirtioNinePDevice : IVirtioDevice, Snapshot.IStateful
{
    public const uint Id = 9;

    /// <summary>VIRTIO_9P_MOUNT_TAG (bit 0): the configuration space holds the mount tag.</summary>
    public const ulong FeatureMountTag = 1UL << 0;

    /// <summary>Longest mount tag, in bytes (QEMU's limit is 31 on old versions, none on new ones; the field is 16-bit).</summary>
    public const int MaxTagBytes = 255;

    private readonly NinePServer _server;
    private readonly byte[] _config;
    private readonly byte[] _request;
    private readonly byte[] _reply;
    private IVirtioTransport? _transport;

    /// <param name="fileSystem">The shared tree.</param>
    /// <param name="mountTag">The name the guest mounts (<c>mount -t 9p TAG /mnt</c>).</param>
    /// <param name="maxMessageSize">Largest msize offered in Tversion.</param>
    /// <param name="queueSize">QueueNumMax (QEMU: 128).</param>
    public VirtioNinePDevice(IFileSystem fileSystem, string mountTag, uint maxMessageSize = NinePServer.DefaultMaxMessageSize,
        ushort queueSize = 128)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        byte[] tag = Encoding.UTF8.GetBytes(mountTag);
        if (tag.Length == 0 || tag.Length > MaxTagBytes || Array.IndexOf(tag, (byte)0) >= 0)
            throw new ArgumentException($"mount tag must be 1 to {MaxTagBytes} bytes without NUL", nameof(mountTag));
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(queueSize), "queue size must be a power of two");
        _server = new NinePServer(fileSystem, maxMessageSize);
        MountTag = mountTag;
        MaxQueueSize = queueSize;
        _config = new byte[2 + tag.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(_config, (ushort)tag.Length);
        tag.CopyTo(_config, 2);
        // One request and one reply buffer of msize each: a message is gathered from (and the reply scattered
        // to) the chain's guest-RAM segments with one copy each way, never allocating per request.
        _request = new byte[maxMessageSize];
        _reply = new byte[maxMessageSize];
    }

    public string MountTag { get; }

    public NinePServer Server => _server;

    public uint DeviceId => Id;

    public ulong DeviceFeatures => FeatureMountTag;

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => _config.Length;

    public string StateName => "virtio-9p";

    public int StateVersion => 1;

    /// <summary>The mount tag and the 9P session (its fids by path: open files are opened again on load).</summary>
    public void SaveState(Snapshot.StateWriter writer)
    {
        writer.String(MountTag);
        _server.SaveState(writer);
    }

    public void LoadState(Snapshot.StateReader reader)
    {
        string tag = reader.String();
        if (tag != MountTag)
            throw new Snapshot.SnapshotException($"snapshot: {reader.Where} was the 9p share '{tag}' where this machine has '{MountTag}'");
        _server.LoadState(reader);
    }

    public void Attach(IVirtioTransport transport) => _transport = transport;

    public void ReadConfig(int offset, Span<byte> destination) => _config.AsSpan(offset, destination.Length).CopyTo(destination);

    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        // tag_len and tag are read-only.
    }

    /// <summary>A device reset ends the 9P session: every fid is clunked and its host file closed.</summary>
    public void Reset() => _server.Reset();

    public void OnQueueNotify(int queue)
    {
        if (_transport == null || queue != 0)
            return;
        var vq = _transport.GetQueue(0);
        while (vq.TryPop(out var chain))
        {
            int requestLength = (int)Math.Min(chain.ReadableLength, (ulong)_request.Length);
            int replyRoom = (int)Math.Min(chain.WritableLength, (ulong)_reply.Length);
            var request = _request.AsSpan(0, requestLength);
            chain.Read(0, request);
            int replyLength = _server.Handle(request, _reply.AsSpan(0, replyRoom));
            chain.Write(0, _reply.AsSpan(0, replyLength));
            vq.Push(chain, (uint)replyLength);
        }
        vq.NotifyDriver();
    }
}

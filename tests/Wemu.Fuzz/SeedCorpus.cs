using System.Buffers.Binary;
using System.Text;

namespace Wemu.Fuzz;

/// <summary>
/// The seed corpus (committed as corpus/TARGET/*; `Wemu.Fuzz --seeds DIR` writes it again): small
/// valid inputs that reach each target's main paths, from which the fuzzer mutates.
/// </summary>
public static class SeedCorpus
{
    public static int Write(string dir)
    {
        int n = 0;
        foreach (var (target, name, bytes) in All())
        {
            Directory.CreateDirectory(Path.Combine(dir, target));
            File.WriteAllBytes(Path.Combine(dir, target, name), bytes);
            n++;
        }
        return n;
    }

    public static IEnumerable<(string Target, string Name, byte[] Bytes)> All()
    {
        // ---- 9P sessions, as Linux's 9p client sends them
        yield return ("ninep", "attach", Concat(Version(), Attach()));
        yield return ("ninep", "read-write", Concat(Version(), Attach(),
            Msg(110, 2, U32(1), U32(2), U16(1), Str("file")),             // Twalk 1 -> 2 "file"
            Msg(12, 3, U32(2), U32(2)),                                      // Tlopen RDWR
            Msg(116, 4, U32(2), U64(0), U32(64)),                            // Tread
            Msg(118, 5, U32(2), U64(4), U32(3), Encoding.ASCII.GetBytes("xyz")), // Twrite
            Msg(24, 6, U32(2), U64(0x3FFF)),                                 // Tgetattr
            Msg(26, 7, U32(2), U32(0x8 | 0x1), U32(0x1A4), U32(0), U32(0), U64(5), U64(0), U64(0), U64(0), U64(0)), // Tsetattr mode, size
            Msg(50, 8, U32(2), U32(0)),                                      // Tfsync
            Msg(52, 9, U32(2), U8(1), U32(0), U64(0), U64(0), U32(1), Str("c")), // Tlock
            Msg(54, 10, U32(2), U8(1), U64(0), U64(0), U32(1), Str("c")),    // Tgetlock
            Msg(120, 11, U32(2))));                                          // Tclunk
        yield return ("ninep", "directories", Concat(Version(), Attach(),
            Msg(110, 2, U32(1), U32(3), U16(0)),                              // Twalk clone
            Msg(12, 3, U32(3), U32(0)),                                      // Tlopen dir
            Msg(40, 4, U32(3), U64(0), U32(4096)),                           // Treaddir
            Msg(110, 5, U32(1), U32(4), U16(0)),
            Msg(14, 6, U32(4), Str("new"), U32(0x42), U32(0x1A4), U32(0)),  // Tlcreate
            Msg(72, 7, U32(1), Str("d2"), U32(0x1ED), U32(0)),               // Tmkdir
            Msg(16, 8, U32(1), Str("ln"), Str("file"), U32(0)),              // Tsymlink
            Msg(110, 9, U32(1), U32(5), U16(1), Str("ln")),
            Msg(22, 10, U32(5)),                                             // Treadlink
            Msg(74, 11, U32(1), Str("new"), U32(1), Str("new2")),            // Trenameat
            Msg(70, 12, U32(1), U32(5), Str("hard")),                        // Tlink
            Msg(18, 13, U32(1), Str("fifo"), U32(0x11A4), U32(0), U32(0), U32(0)), // Tmknod FIFO
            Msg(8, 14, U32(1)),                                              // Tstatfs
            Msg(30, 15, U32(1), U32(6), Str("user.x")),                      // Txattrwalk
            Msg(110, 16, U32(1), U32(7), U16(2), Str("dir"), Str("..")),
            Msg(76, 17, U32(1), Str("d2"), U32(0x200)),                      // Tunlinkat dir
            Msg(20, 18, U32(5), U32(1), Str("ln2")),                         // Trename
            Msg(122, 19, U32(5)),                                            // Tremove
            Msg(108, 20, U16(3))));                                          // Tflush

        // ---- virtqueues: queue size, notify count, then guest RAM (descriptors, avail ring, data)
        yield return ("virtio-blk", "read", Virtq(ram =>
        {
            Desc(ram, 0, 0x400, 16, Next, 1);
            Desc(ram, 1, 0x410, 512, Next | WriteOnly, 2);
            Desc(ram, 2, 0x610, 1, WriteOnly, 0);
            Put(ram, 0x400, U32(0), U32(0), U64(1));                         // VIRTIO_BLK_T_IN, sector 1
            Avail(ram, 0);
        }));
        yield return ("virtio-blk", "write-flush-id", Virtq(ram =>
        {
            Desc(ram, 0, 0x400, 16, Next, 1);
            Desc(ram, 1, 0x410, 512, Next, 2);
            Desc(ram, 2, 0x610, 1, WriteOnly, 0);
            Put(ram, 0x400, U32(1), U32(0), U64(2));                         // VIRTIO_BLK_T_OUT
            Desc(ram, 3, 0x620, 16, Next, 4);
            Desc(ram, 4, 0x630, 1, WriteOnly, 0);
            Put(ram, 0x620, U32(4), U32(0), U64(0));                         // VIRTIO_BLK_T_FLUSH
            Desc(ram, 5, 0x640, 16, Next, 6);
            Desc(ram, 6, 0x650, 20, Next | WriteOnly, 7);
            Desc(ram, 7, 0x670, 1, WriteOnly, 0);
            Put(ram, 0x640, U32(8), U32(0), U64(0));                         // VIRTIO_BLK_T_GET_ID
            Avail(ram, 0, 3, 5);
        }, notifies: 1));
        yield return ("virtio-9p", "version", Virtq(ram =>
        {
            var request = Version();
            Desc(ram, 0, 0x400, (uint)request.Length, Next, 1);
            Desc(ram, 1, 0x500, 0x400, WriteOnly, 0);
            Put(ram, 0x400, request);
            Avail(ram, 0);
        }));
        yield return ("virtio-9p", "version-indirect-attach", Virtq(ram =>
        {
            var version = Version();
            Desc(ram, 0, 0x400, (uint)version.Length, Next, 1);
            Desc(ram, 1, 0x500, 0x100, WriteOnly, 0);
            Put(ram, 0x400, version);
            var attach = Attach();
            Desc(ram, 2, 0x300, 32, Indirect, 0);                            // an indirect table of 2
            Desc(ram, 0, 0x600, (uint)attach.Length, Next, 1, table: 0x300);
            Desc(ram, 1, 0x700, 0x100, WriteOnly, 0, table: 0x300);
            Put(ram, 0x600, attach);
            Avail(ram, 0, 2);
        }));
        yield return ("virtio-rng", "one", Virtq(ram =>
        {
            Desc(ram, 0, 0x400, 64, WriteOnly, 0);
            Avail(ram, 0);
        }));
        yield return ("virtio-rng", "chain", Virtq(ram =>
        {
            Desc(ram, 0, 0x500, 8, Next, 1);
            Desc(ram, 1, 0x400, 16, WriteOnly | Next, 2);
            Desc(ram, 2, 0x600, 32, WriteOnly, 0);
            Avail(ram, 0, 0);
        }, notifies: 1));
        yield return ("virtio-net", "one-buffer", Virtq(ram =>
        {
            Desc(ram, 0, 0x400, 0x700, WriteOnly, 0);
            Avail(ram, 0);
        }));
        yield return ("virtio-net", "merged-small-buffers", Virtq(ram =>
        {
            for (int i = 0; i < 8; i++)
                Desc(ram, i, 0x400 + 0x100 * (uint)i, 0x100, WriteOnly, 0);
            Avail(ram, 0, 1, 2, 3, 4, 5, 6, 7);
        }, notifies: 2));

        // ---- images
        byte[] elf = Elf(withSymbols: false);
        byte[] elfSymbols = Elf(withSymbols: true);
        yield return ("elf", "exec", elf);
        yield return ("elf", "symbols", elfSymbols);
        yield return ("loader", "kernel-elf", Concat([0, 0, 0], elfSymbols));
        yield return ("loader", "firmware-elf", Concat([1, 0, 0], elf));
        byte[] image = new byte[128];
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0), 0x0000006F);   // j . (Linux Image code0)
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(8), 0x200000);     // text_offset
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(16), 128);         // image_size
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x38), 0x05435352); // magic2 "RSC\x05"
        byte[] initrd = Encoding.ASCII.GetBytes("070701initrd");
        yield return ("loader", "image-initrd", Concat([2, (byte)initrd.Length, 0], image, initrd));
        yield return ("loader", "firmware-raw-kernel", Concat([3, (byte)initrd.Length, 0], image, initrd));
        yield return ("loader", "x86-bzimage-initrd", Concat([6, (byte)initrd.Length, 0], BzImage(), initrd));

        // ---- command lines: the page's ?args= string, and the CLI's argv (NUL-separated)
        yield return ("cmdline", "page", Encoding.UTF8.GetBytes(
            "-M virt -m 128M -smp 1 -kernel Image -initrd initrd -append \"console=ttyS0 quiet\" -nographic -no-reboot"));
        yield return ("cmdline", "drives", Encoding.UTF8.GetBytes(
            "-drive file=a.img,if=virtio,format=raw,snapshot=on -hda 'b c.img' -snapshot -serial mon:stdio -accel tcg,thresh=10,tb-size=64"));
        yield return ("cmdline", "shares", Encoding.UTF8.GetBytes(
            "-virtfs local,path=/tmp,mount_tag=host,security_model=none,readonly=on -fsdev local,id=f,path=/srv,security_model=mapped-xattr -device virtio-9p-device,fsdev=f,mount_tag=t"));
        yield return ("cmdline", "argv", Encoding.UTF8.GetBytes(
            "\0riscv64\0-machine\0spike\0-bios\0none\0-kernel\0k.elf\0-icount\0shift=3\0-d\0stats,jit\0-accel\0interp\0-m\0512M\0-display\0none\0-monitor\0none"));
        yield return ("cmdline", "network", Encoding.UTF8.GetBytes(
            "-nic user,hostfwd=tcp::8080-:80,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,restrict=off,mac=52:54:00:12:34:57 -netdev user,id=n0 -device virtio-net-device,netdev=n0"));
        yield return ("cmdline", "network-relay", Encoding.UTF8.GetBytes(
            "-netdev websocket,id=n1,url=wss://[::1]:9/net -device virtio-net-device,netdev=n1,mac=52:54:00:12:34:58"));

        foreach (var seed in NetworkSeeds())
            yield return seed;

        // ---- HTTP in the page (FuzzTargets.Http: a side byte, then chunks of u16 length + bytes)
        yield return ("http", "requests", Concat([0], Frames(
            Encoding.ASCII.GetBytes("GET /a HTTP/1.1\r\nHost: 10.0.2.2\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbo"),
            Encoding.ASCII.GetBytes("dyPUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
            Encoding.ASCII.GetBytes("HEAD /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))));
        yield return ("http", "responses", Concat([1], Frames(
            Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
            Encoding.ASCII.GetBytes("lo\r\n0\r\n\r\n"))));
        yield return ("http", "response-to-close", Concat([1], Frames(
            Encoding.ASCII.GetBytes("HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot here\n"))));
    }

    // ---- Ethernet frames from the guest (FuzzTargets.Network: each a u16 big-endian length, then the frame)

    private const uint Guest = 0x0A00020F, Gateway = 0x0A000202, DnsServer = 0x0A000203;

    private static IEnumerable<(string, string, byte[])> NetworkSeeds()
    {
        var arp = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), 1);
        BinaryPrimitives.WriteUInt32BigEndian(arp.AsSpan(14), Guest);
        BinaryPrimitives.WriteUInt32BigEndian(arp.AsSpan(24), Gateway);
        var dhcp = new byte[244];
        dhcp[0] = 1;
        dhcp[1] = 1;
        dhcp[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(dhcp.AsSpan(236), 0x63825363);
        byte[] discover = Concat(dhcp, [53, 1, 1, 255]);
        byte[] dns = Concat([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7], Encoding.ASCII.GetBytes("example"), [4], Encoding.ASCII.GetBytes("test"), [0, 0, 1, 0, 1]);
        byte[] echo = [8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4];
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(2), Net.InternetChecksum.Finish(Net.InternetChecksum.Add(0, echo)));
        yield return ("net", "arp-dhcp-dns-ping", Frames(Ethernet(0x0806, arp), Ipv4(17, 0, 0xFFFFFFFF, UdpSegment(0, 68, 0xFFFFFFFF, 67, discover)),
            Ipv4(17, Guest, DnsServer, UdpSegment(Guest, 40000, DnsServer, 53, dns)), Ipv4(1, Guest, Gateway, echo)));
        yield return ("net", "tcp-session", Frames(
            Ipv4(6, Guest, Gateway, TcpSegment(40000, Gateway, 80, 100, 0, 2, [2, 4, 5, 180], [])),
            Ipv4(6, Guest, Gateway, TcpSegment(40000, Gateway, 80, 101, 0, 0x10, [], [])),   // ack 0: the fuzzer learns the real one
            Ipv4(6, Guest, Gateway, TcpSegment(40000, Gateway, 80, 101, 0, 0x18, [], Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"))),
            Ipv4(6, Guest, Gateway, TcpSegment(40000, Gateway, 80, 119, 0, 0x11, [], []))));
        yield return ("net", "udp-fragment", Frames(Ipv4(17, Guest, 0x08080808, UdpSegment(Guest, 5000, 0x08080808, 53, dns)),
            Ipv4(17, Guest, 0x08080808, UdpSegment(Guest, 5000, 0x08080808, 53, dns), flags: 0x2000)));
    }

    private static byte[] Frames(params byte[][] frames) => Concat([.. frames.Select(f => Concat([(byte)(f.Length >> 8), (byte)f.Length], f))]);

    private static byte[] Ethernet(ushort type, byte[] payload)
    {
        byte[] header = [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, (byte)(type >> 8), (byte)type];
        return Concat(header, payload);
    }

    private static byte[] Ipv4(byte protocol, uint source, uint destination, byte[] payload, ushort flags = 0x4000)
    {
        var ip = new byte[20];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)(20 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), flags);
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), source);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Net.InternetChecksum.Finish(Net.InternetChecksum.Add(0, ip)));
        return Ethernet(0x0800, Concat(ip, payload));
    }

    private static byte[] UdpSegment(uint source, ushort sourcePort, uint destination, ushort destinationPort, byte[] payload)
    {
        var u = Concat(new byte[8], payload);
        BinaryPrimitives.WriteUInt16BigEndian(u, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), Net.InternetChecksum.Finish(
            Net.InternetChecksum.Add(Net.InternetChecksum.PseudoHeader(source, destination, 17, u.Length), u)));
        return u;
    }

    private static byte[] TcpSegment(ushort sourcePort, uint destination, ushort destinationPort, uint seq, uint ack, byte flags, byte[] options, byte[] payload)
    {
        var t = Concat(new byte[20], options, payload);
        BinaryPrimitives.WriteUInt16BigEndian(t, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)((20 + options.Length) / 4 << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 64240);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), Net.InternetChecksum.Finish(
            Net.InternetChecksum.Add(Net.InternetChecksum.PseudoHeader(Guest, destination, 6, t.Length), t)));
        return t;
    }

    // ---- 9P message building

    private static byte[] Version() => Msg(100, 0xFFFF, U32(FuzzTargets.NinePMessageSize), Str("9P2000.L"));

    private static byte[] Attach() => Msg(104, 1, U32(1), U32(0xFFFF_FFFF), Str(""), Str(""), U32(0));

    private static byte[] Msg(byte type, ushort tag, params byte[][] fields)
    {
        byte[] body = Concat(fields);
        return Concat(U32((uint)(7 + body.Length)), [type], U16(tag), body);
    }

    private static byte[] U8(byte v) => [v];

    private static byte[] U16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }

    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }

    private static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    private static byte[] Str(string s) { var b = Encoding.UTF8.GetBytes(s); return Concat(U16((ushort)b.Length), b); }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    // ---- virtqueue building (offsets from RAM base; see FuzzTargets.Virtio)

    private const ushort Next = 1, WriteOnly = 2, Indirect = 4;

    private static byte[] Virtq(Action<byte[]> fill, byte queueSize = 16, byte notifies = 0)
    {
        var ram = new byte[0x800];
        fill(ram);
        int used = ram.Length;
        while (used > 0x300 && ram[used - 1] == 0)
            used--;
        return Concat([queueSize, notifies], ram[..used]);
    }

    private static void Desc(byte[] ram, int index, uint offset, uint length, ushort flags, ushort next, uint table = 0)
    {
        var d = ram.AsSpan((int)(table + 16 * index), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, FuzzTargets.RamBase + offset);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    private static void Avail(byte[] ram, params ushort[] heads)
    {
        int a = (int)(FuzzTargets.AvailRing - FuzzTargets.RamBase);
        BinaryPrimitives.WriteUInt16LittleEndian(ram.AsSpan(a + 2), (ushort)heads.Length);
        for (int i = 0; i < heads.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(ram.AsSpan(a + 4 + 2 * i), heads[i]);
    }

    private static void Put(byte[] ram, int offset, params byte[][] parts) => Concat(parts).CopyTo(ram, offset);

    // ---- a small RISC-V ELF: one PT_LOAD at 0x80000000 (li a0,0; j .), optionally .symtab/.strtab

    /// <summary>The smallest bzImage the x86 loader accepts: one setup sector with a 2.15 header, a 1 KiB payload.</summary>
    private static byte[] BzImage()
    {
        byte[] b = new byte[1024 + 1024];
        b[0x1F1] = 1;                                                        // setup_sects
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x1F4), 1024 / 16); // syssize
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x1FE), 0xAA55);   // boot_flag
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x202), 0x53726448); // "HdrS"
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x206), 0x020F);   // protocol 2.15
        b[0x211] = 1;                                                        // loadflags: LOADED_HIGH
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x230), 0x200000); // kernel_alignment
        b[0x234] = 1;                                                        // relocatable_kernel
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x236), 1);        // xloadflags: XLF_KERNEL_64
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(0x258), 0x1000000); // pref_address
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x260), 0x100000); // init_size
        b[0x201] = 0x6A;                                                     // header end (jump offset): 0x202 + 0x6A
        return b;
    }

    private static byte[] Elf(bool withSymbols)
    {
        byte[] code = Concat(U32(0x00000513), U32(0x0000006F));
        byte[] strtab = Encoding.ASCII.GetBytes("\0_start\0tohost\0");
        byte[] symtab = Concat(new byte[24],
            U32(1), [0x12, 0], U16(1), U64(0x8000_0000), U64(8),
            U32(8), [0x11, 0], U16(1), U64(0x8000_1000), U64(8));
        const int phoff = 64, codeOff = 120;
        int symOff = codeOff + code.Length, strOff = symOff + symtab.Length, shOff = (strOff + strtab.Length + 7) & ~7;
        var f = new byte[withSymbols ? shOff + 3 * 64 : codeOff + code.Length];
        "\x7f\x45\x4c\x46\x02\x01\x01"u8.CopyTo(f);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(16), 2);           // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(18), 243);         // EM_RISCV
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(24), 0x8000_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(32), phoff);
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(40), withSymbols ? (ulong)shOff : 0);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(52), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(54), 56);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(56), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(58), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(60), (ushort)(withSymbols ? 3 : 0));
        var ph = f.AsSpan(phoff, 56);
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);                     // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5);                // R X
        BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], codeOff);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], 0x8000_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], 0x8000_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)code.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], 0x1000);
        code.CopyTo(f, codeOff);
        if (withSymbols)
        {
            symtab.CopyTo(f, symOff);
            strtab.CopyTo(f, strOff);
            var sym = f.AsSpan(shOff + 64, 64);                               // [1] .symtab, link 2
            BinaryPrimitives.WriteUInt32LittleEndian(sym[4..], 2);
            BinaryPrimitives.WriteUInt64LittleEndian(sym[24..], (ulong)symOff);
            BinaryPrimitives.WriteUInt64LittleEndian(sym[32..], (ulong)symtab.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(sym[40..], 2);
            BinaryPrimitives.WriteUInt64LittleEndian(sym[56..], 24);
            var str = f.AsSpan(shOff + 128, 64);                              // [2] .strtab
            BinaryPrimitives.WriteUInt32LittleEndian(str[4..], 3);
            BinaryPrimitives.WriteUInt64LittleEndian(str[24..], (ulong)strOff);
            BinaryPrimitives.WriteUInt64LittleEndian(str[32..], (ulong)strtab.Length);
        }
        return f;
    }
}

#!/usr/bin/env bash
# Builds the guest run.sh boots: Debian's stock amd64 kernel (vmlinuz, and the uncompressed vmlinux cut
# from its payload) and a BusyBox initramfs that lists the ACPI/platform devices, loads the virtio
# modules, reads the first bytes of /dev/vda and powers off.   debian-guest.sh OUTDIR
# Then: run.sh OUTDIR/vmlinuz OUTDIR/initramfs.cpio.gz on 90   (and with OUTDIR/vmlinux; and "off")
# Needs apt (Debian), python3 (lzma), cpio. The kernel package is the one linux-image-amd64 depends on.
set -euo pipefail
out="$(mkdir -p "$1" && cd "$1" && pwd)"
cd "$out"
pkg="$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)-unsigned"
echo "debian-guest.sh: $pkg, busybox-static"
apt-get download "$pkg" busybox-static >/dev/null
rm -rf root && mkdir -p root/bin root/proc root/sys root/dev root/lib/modules
dpkg-deb --fsys-tarfile busybox-static_*.deb | tar -x -O ./bin/busybox > root/bin/busybox
chmod +x root/bin/busybox
dpkg-deb --fsys-tarfile "$pkg"_*.deb | tar -x --wildcards './boot/vmlinuz-*' \
  './lib/modules/*/kernel/drivers/virtio/virtio.ko' './lib/modules/*/kernel/drivers/virtio/virtio_ring.ko' \
  './lib/modules/*/kernel/drivers/virtio/virtio_mmio.ko' './lib/modules/*/kernel/drivers/block/virtio_blk.ko'
mv boot/vmlinuz-* vmlinuz
find lib -name '*.ko' -exec mv {} root/lib/modules/ \;
cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "INIT OK: $(uname -m) $(uname -r)"
echo "ACPI devices: $(ls /sys/bus/acpi/devices 2>/dev/null | tr '\n' ' ')"
echo "platform devices: $(ls /sys/bus/platform/devices | tr '\n' ' ')"
# twice: the order virtio/virtio_ring depend on each other in differs between kernel versions
for pass in 1 2; do for m in virtio_ring virtio virtio_mmio virtio_blk; do insmod /lib/modules/$m.ko 2>/dev/null; done; done
sleep 1
echo "block: $(ls /sys/block | tr '\n' ' ')"
[ -b /dev/vda ] && echo "vda says: $(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 12)"
grep -E 'timer|ttyS|acpi|virtio' /proc/interrupts
echo "poweroff now"
poweroff -f
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -1 > ../initramfs.cpio.gz)
# bzImage payload (boot.rst payload_offset/payload_length, XZ for Debian) = the stripped vmlinux ELF.
python3 - <<'PY'
import lzma, struct
f = open('vmlinuz', 'rb').read()
pm = ((f[0x1f1] or 4) + 1) * 512
off, length = struct.unpack_from('<II', f, 0x248)
# The XZ stream is followed by the 4-byte decompressed size (scripts/Makefile.lib size_append).
open('vmlinux', 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(f[pm + off:pm + off + length]))
PY
rm -rf boot lib root ./*.deb
ls -l "$out"

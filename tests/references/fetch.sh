#!/usr/bin/env bash
# Fetches (once) what the x86 reference tests take from Debian, into artifacts/references/ (gitignored):
#   qemu-tcg/tests/tcg/{i386,x86_64,multiarch}  QEMU's own TCG tests, from Debian's qemu source package
#                                              (only the orig tarball is downloaded, ~24 MB; ~1 MB kept)
#   debian-kernel/<package>/                   linux-image-amd64's vmlinuz and the modules the microvm
#                                              test loads (virtio-mmio, virtio-blk, 9p, ext4; ~12 MB kept
#                                              of the ~70 MB .deb); debian-kernel/current names <package>
# tests/Wemu.Tests/Machines/X86QemuTcgTests.cs and X86DebianKernelTests.cs use them. Debian (apt) only.
# usage: tests/references/fetch.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="$root/artifacts/references"
mkdir -p "$dest"
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
log() { echo "references: $*"; }

# --- QEMU's TCG tests ---------------------------------------------------------------------------
if [ ! -f "$dest/qemu-tcg/VERSION" ]; then
  if ! apt-cache showsrc qemu 2>/dev/null | grep '^Package: qemu' >/dev/null; then
    log "enabling deb-src (as images/build.sh does)"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        | $sudo_cmd tee /etc/apt/sources.list.d/wemu-deb-src.sources >/dev/null
    else
      grep -hE '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
        | $sudo_cmd tee /etc/apt/sources.list.d/wemu-deb-src.list >/dev/null
    fi
    $sudo_cmd apt-get update -q >/dev/null
  fi
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  log "downloading Debian's qemu source package (orig tarball, ~24 MB)"
  # --download-only fetches .dsc, orig and debian tarballs; only the orig one is read
  (cd "$work" && apt-get source --download-only qemu 2>&1 | grep -E '^(Get|Fetched|E:)' || true)
  orig=$(ls "$work"/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
  [ -n "$orig" ] || { log "could not download the qemu source package"; exit 1; }
  log "extracting tests/tcg/{i386,x86_64,multiarch} from $(basename "$orig")"
  tar -xf "$orig" -C "$work" --wildcards '*/tests/tcg/i386/*' '*/tests/tcg/x86_64/*' '*/tests/tcg/multiarch/*'
  rm -rf "$dest/qemu-tcg"; mkdir -p "$dest/qemu-tcg/tests"
  mv "$work"/qemu-*/tests/tcg "$dest/qemu-tcg/tests/"
  basename "$(ls "$work"/qemu_*.dsc)" .dsc > "$dest/qemu-tcg/VERSION"
  rm -rf "$work"; trap - EXIT
fi
log "qemu-tcg: $(cat "$dest/qemu-tcg/VERSION")"

# --- Debian's stock kernel -----------------------------------------------------------------------
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { log "linux-image-amd64 not found by apt-cache"; exit 1; }
if [ ! -f "$dest/debian-kernel/$pkg/vmlinuz" ]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  log "downloading $pkg (~70 MB)"
  (cd "$work" && apt-get download "$pkg" 2>&1 | grep -E '^(Get|E:)' || true)
  deb=$(ls "$work"/"$pkg"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || { log "could not download $pkg"; exit 1; }
  # the modules for virtio-mmio (ACPI), virtio-blk, 9p over virtio and ext4, with their dependencies
  # (the test orders them by each module's depends=); Debian's 6.1 modules are not compressed
  mods='drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko drivers/virtio/virtio_mmio.ko
        drivers/block/virtio_blk.ko net/9p/9pnet.ko net/9p/9pnet_virtio.ko fs/9p/9p.ko fs/netfs/netfs.ko
        fs/fscache/fscache.ko fs/ext4/ext4.ko fs/jbd2/jbd2.ko fs/mbcache.ko lib/crc16.ko crypto/crc32c_generic.ko'
  patterns=('./boot/vmlinuz-*' './boot/config-*')
  for m in $mods; do patterns+=("./lib/modules/*/kernel/$m"); done
  log "extracting vmlinuz and $(echo $mods | wc -w) modules"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards "${patterns[@]}"
  out="$dest/debian-kernel/$pkg"
  rm -rf "$dest/debian-kernel"; mkdir -p "$out/modules"   # (an older ABI's kernel goes)
  mv "$work"/boot/vmlinuz-* "$out/vmlinuz"
  mv "$work"/boot/config-* "$out/config"
  find "$work/lib/modules" -name '*.ko*' -exec mv {} "$out/modules/" \;
  basename "$deb" > "$out/VERSION"
  rm -rf "$work"; trap - EXIT
fi
echo "$pkg" > "$dest/debian-kernel/current"
log "debian-kernel: $(cat "$dest/debian-kernel/$pkg/VERSION")"

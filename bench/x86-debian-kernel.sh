#!/usr/bin/env bash
# Debian's stock x86_64 kernel (linux-image-amd64: XZ-compressed vmlinuz, drivers as modules) on the
# microvm board with Wemu's BusyBox initramfs: boot to its shell on Wemu and on
# qemu-system-x86_64 -M microvm (TCG), one run each. Downloads the .deb with apt-get (Debian only).
# usage: bench/x86-debian-kernel.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
dpkg-deb --fsys-tarfile "$work"/"$pkg"_*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
kernel=$(ls "$work"/boot/vmlinuz-*)
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null
field() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const v=r['$1']; console.log(typeof v==='number'?v.toFixed(2):v)"; }
echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); kernel $pkg"
w=$(node "$root/bench/run-guest.js" -- "$root/wemu" x86_64 -m 512M -nographic -kernel "$kernel" \
  -initrd "$root/images/x86_64/initramfs.cpio.gz" -append console=ttyS0 -d stats)
q=$(node "$root/bench/run-guest.js" -- qemu-system-x86_64 -M microvm -cpu qemu64 -m 512M -nographic -no-reboot \
  -kernel "$kernel" -initrd "$root/images/x86_64/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz")
echo "boot to the initramfs prompt: wemu $(echo "$w" | field bootSeconds) s, qemu $(echo "$q" | field bootSeconds) s"
echo "wemu: $(echo "$w" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/stats: .*/)||[''])[0])")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

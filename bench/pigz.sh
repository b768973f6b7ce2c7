#!/usr/bin/env bash
# The seed's benchmark: pigz compressing 10,000,000 bytes of random data (tmpfs) in the x86_64 guest,
# `pigz -n -c FILE | md5sum`, with `-p 1` and pigz's default thread count, timed inside the guest:
# Wemu (microvm, -accel tcg: the x86 JIT) beside qemu-system-x86_64 -M microvm (TCG, same kernel,
# initramfs and machine type) and the host CPU running the same pigz binary natively (Debian's
# amd64 pigz with its loader and libraries, taken out of the initramfs), in one run.
# Also Wemu's guest instructions/s over the whole run (-d stats) and its JIT counters (-d jit).
# usage: bench/pigz.sh [MB]   (default 10; the data is random on each side, so the md5s differ)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
mb=${1:-10}
bytes=$((mb * 1000000))
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
command -v cpio >/dev/null || { echo "bench: install cpio" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && mkdir rootfs && cd rootfs && gzip -dc "$img/initramfs.cpio.gz" | cpio -id --quiet 2>/dev/null)
# the initramfs's own loader (its lib64/ld-linux-x86-64.so.2 is an absolute symlink: the host's)
native_pigz=("$tmp/rootfs/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$tmp/rootfs/lib/x86_64-linux-gnu" "$tmp/rootfs/usr/bin/pigz")
head -c "$bytes" /dev/urandom > "$tmp/data"
secs() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=r.workOutput.match(/real\s+(\d+)m\s*([\d.]+)s/); console.log(m ? (60*+m[1] + +m[2]).toFixed(2) : 'none')"; }
stat_line() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log(((r.stderr.match(/$1: .*/)||[''])[0]))"; }
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load before: $(cut -d' ' -f1-3 /proc/loadavg); $mb MB"
"$root/bench/host-costs.sh"
for threads in "-p 1" ""; do
  label=${threads:-default}
  workload="head -c $bytes /dev/urandom > /tmp/data; time sh -c 'pigz $threads -n -c /tmp/data | md5sum'"
  w=$(node "$root/bench/run-guest.js" --workload "$workload" -- "$root/wemu" x86_64 -m 256M -nographic -d stats,jit)
  q=$(node "$root/bench/run-guest.js" --workload "$workload" -- qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic \
    -no-reboot -kernel "$img/bzImage" -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "${native_pigz[@]}" $threads -n -c "$tmp/data" | md5sum >/dev/null
  t1=$(date +%s.%N)
  ws=$(echo "$w" | secs); qs=$(echo "$q" | secs); ns=$(awk "BEGIN{printf \"%.2f\", $t1-$t0}")
  echo "pigz $label: wemu $ws s, qemu $qs s, host native $ns s; wemu/qemu $(awk "BEGIN{printf \"%.2f\", $ws/$qs}"), wemu/native $(awk "BEGIN{printf \"%.1f\", $ws/$ns}"), qemu/native $(awk "BEGIN{printf \"%.1f\", $qs/$ns}")"
  echo "  wemu $(echo "$w" | stat_line stats)"
  echo "  wemu $(echo "$w" | stat_line jit)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# What each kind of work costs per step in the x86_64 guest: bench/x86-kernels/kernels.c (dependent loads over a
# cache-resident random cycle, independent loads, a dependent register chain, calls and returns), built static with
# the host's gcc and added to the bundled initramfs (a second cpio archive after it), run natively on the host, in
# Wemu (microvm, the x86 JIT) and in qemu-system-x86_64 -M microvm (TCG, same kernel and initramfs), in one run.
# Each prints nanoseconds per step by its own clock (the guest's CLOCK_MONOTONIC inside a guest); REPEAT runs per
# boot, the table gives the medians. Where pigz's time goes between these is a question of its mix.
# usage: bench/x86-kernels.sh [REPEAT] [STEPS]   (defaults 3 and 20,000,000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
repeat=${1:-3}
steps=${2:-20000000}
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
command -v gcc >/dev/null || { echo "bench: install gcc (the kernels are built static for the guest)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "bench: install cpio" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null   # build once, outside the timings
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/extra/bin"
gcc -O2 -static -o "$tmp/extra/bin/kernels" "$root/bench/x86-kernels/kernels.c"
(cd "$tmp/extra" && find . | cpio -o -H newc --quiet | gzip) > "$tmp/extra.cpio.gz"
cat "$img/initramfs.cpio.gz" "$tmp/extra.cpio.gz" > "$tmp/initramfs.cpio.gz"
work=""
for r in $(seq "$repeat"); do work="${work:+$work; }/bin/kernels $steps"; done
lines() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=[...r.workOutput.matchAll(/chase [\d.]+ stream [\d.]+ alu [\d.]+ call [\d.]+/g)].map(x=>x[0]); if (m.length !== $repeat) { console.error('bench: expected $repeat result lines, got ' + m.length + '\n' + r.workOutput.slice(-2000)); process.exit(1); } console.log(m.join('\n'))"; }
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load before: $(cut -d' ' -f1-3 /proc/loadavg); $steps steps"
n=$(for r in $(seq "$repeat"); do "$tmp/extra/bin/kernels" "$steps"; done)
w=$(node "$root/bench/run-guest.js" --workload "$work" -- "$root/wemu" x86_64 -m 256M -nographic -initrd "$tmp/initramfs.cpio.gz" | lines)
q=$(node "$root/bench/run-guest.js" --workload "$work" -- qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic \
  -no-reboot -kernel "$img/bzImage" -initrd "$tmp/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz" | lines)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i+1)}' | median; }
printf '%-7s %9s %9s %9s %11s %11s %10s\n' kernel "host ns" "wemu ns" "qemu ns" wemu/host qemu/host wemu/qemu
for k in chase stream alu call; do
  hn=$(col "$n" $k); wn=$(col "$w" $k); qn=$(col "$q" $k)
  printf '%-7s %9s %9s %9s %11s %11s %10s\n' "$k" "$hn" "$wn" "$qn" \
    "$(awk "BEGIN{printf \"%.1f\", $wn/$hn}")" "$(awk "BEGIN{printf \"%.1f\", $qn/$hn}")" "$(awk "BEGIN{printf \"%.2f\", $wn/$qn}")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

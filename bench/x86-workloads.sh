#!/usr/bin/env bash
# x86_64 guest workloads beyond pigz, each timed inside the guest (`time`), Wemu (microvm, the x86
# JIT) beside qemu-system-x86_64 -M microvm (TCG, same kernel and initramfs), in one run: one boot per
# emulator runs them all, in this order, REPEAT times; the table gives each workload's median.
#   awk-fp   BusyBox awk's floating-point loop (its interpreter: bit tests, SSE2 scalar doubles, memset)
#   sort     `sort -n` of 200,000 shuffled numbers (BusyBox)
#   sha256   sha256sum of 10 MB (BusyBox: 32-bit integer rotates and adds)
#   gzip     BusyBox gzip -1 of 10 MB of text (`seq`)
#   md5      md5sum of 10 MB
# usage: bench/x86-workloads.sh [REPEAT]   (default 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
repeat=${1:-3}
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null   # build once, outside the timings
names=(awk-fp sort sha256 gzip md5)
cmds=(
  'awk "BEGIN{for(i=0;i<1000000;i++)s+=i*0.5; print s}" >/dev/null'
  'sort -n /tmp/nums | md5sum >/dev/null'
  'sha256sum /tmp/data >/dev/null'
  'gzip -1 -c /tmp/text | md5sum >/dev/null'
  'md5sum /tmp/data >/dev/null'
)
prep='head -c 10000000 /dev/urandom > /tmp/data; seq 1500000 | head -c 10000000 > /tmp/text; awk "BEGIN{srand(1); for(i=0;i<200000;i++) print int(rand()*1000000)}" > /tmp/nums'
work="$prep"
for r in $(seq "$repeat"); do
  for c in "${cmds[@]}"; do work="$work; time sh -c '$c'"; done
done
# the workload's `real` lines in order: workload w of round r is entry r * count + w
reals() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=[...r.workOutput.matchAll(/real\s+(\d+)m\s*([\d.]+)s/g)].map(x=>60*+x[1]+ +x[2]); if (m.length !== $repeat * ${#names[@]}) { console.error('bench: expected $repeat x ${#names[@]} timings, got ' + m.length + '\n' + r.workOutput.slice(-2000)); process.exit(1); } console.log(m.join(' '))"; }
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
w=$(node "$root/bench/run-guest.js" --workload "$work" -- "$root/wemu" x86_64 -m 256M -nographic -d stats | reals)
q=$(node "$root/bench/run-guest.js" --workload "$work" -- qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic \
  -no-reboot -kernel "$img/bzImage" -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz" | reals)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-8s %8s %8s %10s\n' workload wemu qemu wemu/qemu
read -ra wa <<< "$w"; read -ra qa <<< "$q"
n=${#names[@]}
for i in $(seq 0 $((n - 1))); do
  wm=$(for r in $(seq 0 $((repeat - 1))); do echo "${wa[$((r * n + i))]}"; done | median)
  qm=$(for r in $(seq 0 $((repeat - 1))); do echo "${qa[$((r * n + i))]}"; done | median)
  printf '%-8s %7.2fs %7.2fs %10.2f\n' "${names[$i]}" "$wm" "$qm" "$(awk "BEGIN{print $wm/$qm}")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

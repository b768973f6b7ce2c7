#!/usr/bin/env bash
# x86_64 boot to the shell prompt: Wemu's microvm (interpreter; -accel tcg runs it too until the x86
# JIT exists) and qemu-system-x86_64 -M microvm (TCG), same bzImage + initramfs, in one run.
# usage: bench/x86-boot.sh [runs]   (medians, ratio, guest instructions and M instructions/s)
# QEMU gets tsc_early_khz= with the host's TSC rate (its TCG guest TSC is the host TSC; Wemu appends
# its own 1 GHz rate itself): with ACPI on, Linux has nothing else to calibrate against (images/README.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
runs=${1:-3}
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
qemu_cmd=(qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic -no-reboot
  -kernel "$img/bzImage" -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz")
wemu_cmd=("$root/wemu" x86_64 -M microvm -cpu qemu64 -m 256M -nographic -no-reboot
  -kernel "$img/bzImage" -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0" -d stats)
"$root/wemu" --version >/dev/null   # build once, outside the timings
field() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const v=r['$1']; console.log(typeof v==='number'?v.toFixed(2):v)"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg), host TSC $khz kHz"
w_=(); q_=(); stats=""
for i in $(seq "$runs"); do
  wres=$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}")
  w_+=("$(echo "$wres" | field bootSeconds)")
  stats=$(echo "$wres" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/stats: .*/)||[''])[0])")
  q_+=("$(node "$root/bench/run-guest.js" -- "${qemu_cmd[@]}" | field bootSeconds)")
  echo "run $i: wemu ${w_[-1]} s, qemu ${q_[-1]} s"
done
wm=$(printf '%s\n' "${w_[@]}" | median); qm=$(printf '%s\n' "${q_[@]}" | median)
echo "x86_64 microvm boot to prompt (median of $runs): wemu $wm s, qemu $qm s, wemu/qemu $(awk "BEGIN{printf \"%.2f\", $wm/$qm}")"
echo "last wemu run (boot + poweroff): $stats"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# pigz in the x86_64 guest: N MB (default 10) of random data in tmpfs, then
# `pigz -p 1 -n -c FILE | md5sum` timed inside the guest, on Wemu's microvm (interpreter) and on
# qemu-system-x86_64 -M microvm (TCG), same images, in one run; plus Wemu's guest instructions/s:
# over the whole run (-d stats), and in the pigz step alone (the instructions of a second Wemu run
# that only boots and writes the data, subtracted, over the step's guest time).
# usage: bench/x86-pigz.sh [MB]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
mb=${1:-10}
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null
workload="head -c $((mb * 1000000)) /dev/urandom > /tmp/data; time sh -c 'pigz -p 1 -n -c /tmp/data | md5sum'"
run() { node "$root/bench/run-guest.js" --workload "$workload" -- "$@"; }
secs() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=r.workOutput.match(/real\s+(\d+)m\s*([\d.]+)s/); console.log(m ? (60*+m[1] + +m[2]).toFixed(2) : 'none')"; }
echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); pigz -p 1 on $mb MB"
w=$(run "$root/wemu" x86_64 -m 256M -nographic -d stats)
base=$(node "$root/bench/run-guest.js" --workload "head -c $((mb * 1000000)) /dev/urandom > /tmp/data" -- "$root/wemu" x86_64 -m 256M -nographic -d stats)
q=$(run qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic -no-reboot -kernel "$img/bzImage" \
  -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz")
ws=$(echo "$w" | secs); qs=$(echo "$q" | secs)
echo "pigz step (guest time): wemu $ws s, qemu $qs s, wemu/qemu $(awk "BEGIN{printf \"%.2f\", $ws/$qs}")"
instr() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=r.stderr.match(/stats: (\d+) instructions/); console.log(m ? m[1] : 0)"; }
wi=$(echo "$w" | instr); bi=$(echo "$base" | instr)
echo "wemu: $(echo "$w" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/stats: .*/)||[''])[0])")"
echo "wemu pigz step: $(awk "BEGIN{printf \"%.0f M instructions in %s s: %.1f M instructions/s\", ($wi-$bi)/1e6, $ws, ($wi-$bi)/1e6/$ws}")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

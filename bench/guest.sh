#!/usr/bin/env bash
# A fixed guest workload (8 MiB from /dev/urandom, gzip, sha256sum) in Wemu and in
# qemu-system-riscv64 (TCG), in one run: times, ratio, and Wemu's guest instructions per second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
work='dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; gzip -c /tmp/r > /tmp/r.gz; sha256sum /tmp/r.gz'
insns() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/stats: (\d+) instructions/)||[])[1]||0)"; }
base=$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}")
wres=$(node "$root/bench/run-guest.js" --workload "$work" -- "${wemu_cmd[@]}")
qres=$(node "$root/bench/run-guest.js" --workload "$work" -- "${qemu_cmd[@]}")
wt=$(echo "$wres" | field workloadSeconds); qt=$(echo "$qres" | field workloadSeconds)
n=$(( $(echo "$wres" | insns) - $(echo "$base" | insns) ))
echo "workload: wemu $wt s, qemu $qt s, ratio wemu/qemu $(awk "BEGIN{printf \"%.2f\", $wt/$qt}")"
echo "wemu guest instructions in the workload: $n ($(awk "BEGIN{printf \"%.0f\", $n/$wt/1e6}") M instructions/s, engine interp)"

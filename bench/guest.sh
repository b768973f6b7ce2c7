#!/usr/bin/env bash
# A fixed guest workload (8 MiB from /dev/urandom, gzip, sha256sum) in Wemu's interpreter, Wemu's
# JIT and qemu-system-riscv64 (TCG), in one run: times, ratios, guest instructions per second and
# the JIT's counters.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
work='dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; gzip -c /tmp/r > /tmp/r.gz; sha256sum /tmp/r.gz'
insns() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/stats: (\d+) instructions/)||[])[1]||0)"; }
qres=$(node "$root/bench/run-guest.js" --workload "$work" -- "${qemu_cmd[@]}")
qt=$(echo "$qres" | field workloadSeconds)
echo "qemu: workload $qt s"
for accel in interp tcg; do
  base=$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" -accel $accel)
  wres=$(node "$root/bench/run-guest.js" --workload "$work" -- "${wemu_cmd[@]}" -accel $accel -d jit)
  wt=$(echo "$wres" | field workloadSeconds)
  n=$(( $(echo "$wres" | insns) - $(echo "$base" | insns) ))
  echo "wemu $accel: workload $wt s, ratio wemu/qemu $(awk "BEGIN{printf \"%.2f\", $wt/$qt}"), $n guest instructions ($(awk "BEGIN{printf \"%.0f\", $n/$wt/1e6}") M/s)"
  [ "$accel" = tcg ] && echo "$wres" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log('  ' + ((r.stderr.match(/jit: .*/)||[''])[0]))"
done

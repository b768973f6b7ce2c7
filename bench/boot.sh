#!/usr/bin/env bash
# Boot to the shell prompt: Wemu's interpreter, Wemu's JIT and qemu-system-riscv64 (TCG), same
# kernel + initramfs, in one run. usage: bench/boot.sh [runs]   (medians, ratios, JIT counters)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
runs=${1:-3}
i_=(); j_=(); q_=(); jit=""
for i in $(seq "$runs"); do
  i_+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" -accel interp | field bootSeconds)")
  jres=$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" -accel tcg -d jit)
  j_+=("$(echo "$jres" | field bootSeconds)")
  jit=$(echo "$jres" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log((r.stderr.match(/jit: .*/)||[''])[0])")
  q_+=("$(node "$root/bench/run-guest.js" -- "${qemu_cmd[@]}" | field bootSeconds)")
  echo "run $i: wemu interp ${i_[-1]} s, wemu jit ${j_[-1]} s, qemu ${q_[-1]} s"
done
im=$(printf '%s\n' "${i_[@]}" | median); jm=$(printf '%s\n' "${j_[@]}" | median); qm=$(printf '%s\n' "${q_[@]}" | median)
echo "boot to prompt (median of $runs): wemu interp $im s, wemu jit $jm s, qemu $qm s"
echo "ratios: interp/qemu $(awk "BEGIN{printf \"%.2f\", $im/$qm}"), jit/qemu $(awk "BEGIN{printf \"%.2f\", $jm/$qm}"), interp/jit $(awk "BEGIN{printf \"%.2f\", $im/$jm}")"
echo "last JIT run: $jit"

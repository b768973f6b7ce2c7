#!/usr/bin/env bash
# Boot to the shell prompt: Wemu vs qemu-system-riscv64 (TCG), same kernel + initramfs, in one run.
# usage: bench/boot.sh [runs]   (prints the median of each and the ratio)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
runs=${1:-3}
w=(); q=()
for i in $(seq "$runs"); do
  w+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" | field bootSeconds)")
  q+=("$(node "$root/bench/run-guest.js" -- "${qemu_cmd[@]}" | field bootSeconds)")
  echo "run $i: wemu ${w[-1]} s, qemu ${q[-1]} s"
done
wm=$(printf '%s\n' "${w[@]}" | median); qm=$(printf '%s\n' "${q[@]}" | median)
echo "boot to prompt (median of $runs): wemu $wm s, qemu $qm s, ratio wemu/qemu $(awk "BEGIN{printf \"%.2f\", $wm/$qm}")"

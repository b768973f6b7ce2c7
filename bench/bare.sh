#!/usr/bin/env bash
# CPU-bound bare-metal loop (bench/riscv-bare/bench.elf) on the spike machine: Wemu vs QEMU.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
elf="$root/bench/riscv-bare/bench.elf"
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>/tmp/wemu-bare.err; echo "$(date +%s.%N) - $s" | bc; }
wt=$(t "$root/wemu" -M spike -bios none -kernel "$elf" -d stats); cat /tmp/wemu-bare.err
qt=$(t qemu-system-riscv64 -M spike -bios none -nographic -kernel "$elf")
echo "bare-metal loop: wemu $wt s, qemu $qt s, ratio $(awk "BEGIN{printf \"%.2f\", $wt/$qt}")"

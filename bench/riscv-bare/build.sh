#!/usr/bin/env bash
# Builds bench.elf (committed) with Debian's riscv64 cross gcc.
set -euo pipefail
cd "$(dirname "$0")"
riscv64-linux-gnu-gcc -O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding -fno-pic -nostdlib -static \
  -Wl,--build-id=none -T link.ld -o bench.elf start.S bench.c

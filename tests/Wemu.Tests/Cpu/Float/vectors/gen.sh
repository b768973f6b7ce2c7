#!/bin/sh
# Regenerates the SoftFloat reference vectors from real RISC-V instructions
# run under qemu-riscv64 (QEMU's softfloat with RISC-V specialisation).
# Needs: apt-get install qemu-user gcc-riscv64-linux-gnu
set -e
cd "$(dirname "$0")"
riscv64-linux-gnu-gcc -static -O2 -march=rv64gc -mabi=lp64d -o /tmp/wemu-softfloat-gen gen.c
echo "running generator under qemu-riscv64..." >&2
qemu-riscv64 /tmp/wemu-softfloat-gen > /tmp/wemu-softfloat-vectors.txt
echo "$(wc -l < /tmp/wemu-softfloat-vectors.txt) vectors" >&2
gzip -9 -n -c /tmp/wemu-softfloat-vectors.txt > softfloat-vectors.txt.gz
ls -l softfloat-vectors.txt.gz >&2

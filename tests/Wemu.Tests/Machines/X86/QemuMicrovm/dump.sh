#!/usr/bin/env bash
# Regenerates the reference firmware tables of QEMU 7.2's microvm that MpTableTests and
# AcpiTablesTests compare against: boots `qemu-system-x86_64 -M microvm` (qboot, no kernel: it
# installs the MP table and QEMU's ACPI tables, then finds nothing to boot), saves the first MiB of
# guest memory through the monitor, and cuts out the MP table (0x9fc00) and each ACPI table.
# Machine: 256 MiB, a serial port, one virtio-blk-device (QEMU puts the first device in slot 23:
# 0xfeb02e00, GSI 47). Needs: qemu-system-x86 (Debian), python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
qemu-system-x86_64 --version | head -n 1 > "$here/qemu-version.txt"
: > "$tmp/disk"
(sleep 3; echo "pmemsave 0 0x100000 \"$tmp/low.bin\""; sleep 1; echo quit) \
  | timeout 30 qemu-system-x86_64 -M microvm -m 256M -display none -nodefaults -serial null -monitor stdio \
      -drive "file=$tmp/disk,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0 >/dev/null 2>&1 || true
python3 - "$tmp/low.bin" "$here" <<'PY'
import struct, sys
m = open(sys.argv[1], 'rb').read()
out = sys.argv[2]
mp = 0x9fc00
assert m[mp:mp + 4] == b'_MP_'
length, = struct.unpack_from('<H', m, mp + 16 + 4)
open(out + '/mptable.bin', 'wb').write(m[mp:mp + 16 + length])
rsdp = next(o for o in range(0xe0000, 0x100000, 16) if m[o:o + 8] == b'RSD PTR ' and sum(m[o:o + 20]) & 0xff == 0)
open(out + '/rsdp.dat', 'wb').write(m[rsdp:rsdp + 36])
def table(a):
    sig = m[a:a + 4].decode()
    n, = struct.unpack_from('<I', m, a + 4)
    open(out + '/' + sig.lower() + '.dat', 'wb').write(m[a:a + n])
    return sig, n
xsdt, = struct.unpack_from('<Q', m, rsdp + 24)
_, n = table(xsdt)
for i in range((n - 36) // 8):
    a, = struct.unpack_from('<Q', m, xsdt + 36 + 8 * i)
    if table(a)[0] == 'FACP':
        table(struct.unpack_from('<Q', m, a + 140)[0])
PY
ls -l "$here"

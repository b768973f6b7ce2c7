#!/usr/bin/env bash
# Boots a kernel under QEMU 7.2's own microvm with the memory Wemu's X86LinuxLoader writes (zero
# page, E820, page tables, GDT, MP table, ACPI tables, kernel, initrd) and the CPU state it returns,
# entered by entry-rom.S instead of qboot: the reference check that a real Linux accepts all of it.
#   run.sh KERNEL INITRD [acpi=on|off] [seconds]     (needs qemu-system-x86, binutils, dotnet)
# The guest's serial output goes to stdout; QEMU's exit status is the script's. debian-guest.sh builds a
# guest (Debian's kernel + a BusyBox initramfs). Seen with Debian 6.1.0-47/-57 (2026-12): bzImage and
# vmlinux reach /init with ACPI (every DSDT device listed, virtio-blk reads /dev/vda on GSI 47,
# poweroff -f ends QEMU with status 0 through the GED) and without (MP table, virtio_mmio.device=).
# With ACPI under TCG add APPEND="console=ttyS0 tsc_early_khz=2000000": a HW-reduced machine has no
# PIT clock event, and Linux hangs after "tsc: Unable to calibrate against PIT" (QEMU's own tables too).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../../.." && pwd)"
kernel="$(realpath "$1")"; initrd="$(realpath "$2")"; acpi="${3:-on}"; seconds="${4:-60}"
dump="$(mktemp -d)"
trap 'rm -rf "$dump"' EXIT
# Two virtio devices as QEMU numbers them: the first -device gets the last slot (23 with ACPI, 7 without).
slots=23,22; [ "$acpi" = off ] && slots=7,6
WEMU_X86_KERNEL="$kernel" WEMU_X86_INITRD="$initrd" WEMU_X86_DUMP="$dump" WEMU_X86_VIRTIO=$slots \
WEMU_X86_ACPI="$acpi" WEMU_X86_APPEND="${APPEND:-console=ttyS0 panic=-1}" \
  dotnet test "$root/tests/Wemu.Tests" -c Release --no-build --nologo --filter "FullyQualifiedName~X86BootPlanTests" >/dev/null
syms=()
while IFS='=' read -r name value; do syms+=(--defsym "$name=$value"); done < "$dump/entry.txt"
# shellcheck disable=SC1091
. "$dump/entry.txt"
as --64 "${syms[@]}" -o "$dump/rom.o" "$here/entry-rom.S"
ld -Ttext=0 --oformat binary -o "$dump/rom.bin" "$dump/rom.o"
printf "WEMU-DISK-OK" > "$dump/disk"; truncate -s 1M "$dump/disk"
machine=microvm; [ "$acpi" = off ] && machine=microvm,acpi=off
set +e
timeout "$seconds" qemu-system-x86_64 -M "$machine" -cpu qemu64 -m 512M -nographic -no-reboot -bios "$dump/rom.bin" \
  -device loader,file="$dump/low.bin",addr=0,force-raw=on \
  -device loader,file="$dump/kernel.bin",addr="$KERNEL_ADDR",force-raw=on \
  -device loader,file="$dump/initrd.bin",addr="$INITRD_ADDR",force-raw=on \
  -drive file="$dump/disk",if=none,id=d0,format=raw -device virtio-blk-device,drive=d0 -device virtio-rng-device </dev/null
status=$?
echo "qemu exit status: $status"
exit $status

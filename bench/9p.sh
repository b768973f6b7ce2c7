#!/usr/bin/env bash
# virtio-9p throughput: copy a 64 MiB file from a host folder shared with -fsdev/-device virtio-9p-device
# (mount_tag=host, mounted by the guest's init at /mnt/host, msize 512000) into the guest's tmpfs and back,
# in Wemu and in qemu-system-riscv64 (TCG) on the same images, in one run. Two copy programs: BusyBox cp
# (4 KiB reads and writes: one 9P round trip per 4 KiB) and dd bs=1M (large requests that use the big msize).
# Times are taken inside the guest (/proc/uptime); copies are checked byte for byte on the host.
# usage: bench/9p.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
share=$(mktemp -d /tmp/wemu-bench-9p.XXXXXX)
trap 'rm -rf "$share"' EXIT
head -c 64M /dev/urandom > "$share/big.bin"
mib=64
share_flags=(-fsdev "local,id=fs0,path=$share,security_model=none" -device "virtio-9p-device,fsdev=fs0,mount_tag=host")
work='f=/mnt/host; u() { cut -d" " -f1 /proc/uptime; }; t0=$(u); cp $f/big.bin /tmp/a.bin; t1=$(u); cp /tmp/a.bin $f/back-cp.bin; t2=$(u); rm /tmp/a.bin; t3=$(u); dd if=$f/big.bin of=/tmp/b.bin bs=1M 2>/dev/null; t4=$(u); dd if=/tmp/b.bin of=$f/back-dd.bin bs=1M 2>/dev/null; t5=$(u); rm /tmp/b.bin; echo TIMES $t0 $t1 $t2 $t3 $t4 $t5'

# Prints "cp-in cp-out dd-in dd-out" in MiB/s for one machine command.
measure() {
  local res times
  res=$(node "$root/bench/run-guest.js" --workload "$work" -- "$@")
  times=$(echo "$res" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=(r.workOutput||'').match(/TIMES ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)/); if(!m){console.error('bench: no timings:\n'+r.workOutput+r.output);process.exit(1)} console.log(m.slice(1).join(' '))")
  for f in back-cp.bin back-dd.bin; do
    cmp -s "$share/big.bin" "$share/$f" || { echo "bench: $f differs from the original" >&2; exit 1; }
    rm -f "$share/$f"
  done
  echo "$times" | awk -v m=$mib '{printf "%.1f %.1f %.1f %.1f\n", m/($2-$1), m/($3-$2), m/($5-$4), m/($6-$5)}'
}

read -r w1 w2 w3 w4 <<<"$(measure "${wemu_cmd[@]}" "${share_flags[@]}")"
read -r q1 q2 q3 q4 <<<"$(measure "${qemu_cmd[@]}" "${share_flags[@]}")"
row() { printf "%-32s %9s %9s %9s\n" "$1" "$2" "$3" "$(awk "BEGIN{printf \"%.2f\", $2/$3}")"; }
printf "%-32s %9s %9s %9s\n" "64 MiB over virtio-9p" "wemu" "qemu" "wemu/qemu"
row "cp share -> tmpfs (MB/s)" "$w1" "$q1"
row "cp tmpfs -> share (MB/s)" "$w2" "$q2"
row "dd bs=1M share -> tmpfs (MB/s)" "$w3" "$q3"
row "dd bs=1M tmpfs -> share (MB/s)" "$w4" "$q4"

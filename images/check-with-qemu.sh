#!/usr/bin/env bash
# Boot-test the Wemu riscv64 guest images under QEMU (qemu-system-riscv64 -M virt).
#
#   1. initramfs : -kernel Image -initrd initramfs.cpio.gz, append "console=ttyS0";
#                  also checks HOME=/root (login shell read /etc/profile) and hostname wemu
#   2. ext2-pci  : rootfs.ext2 as -drive if=virtio (virtio-blk-pci), "console=ttyS0 root=/dev/vda rw"
#   3. ext2-mmio : rootfs.ext2 as virtio-blk-device (virtio-mmio) + a virtio-9p-device
#                  with mount_tag=host, -smp 2, "console=ttyS0 earlycon=sbi root=/dev/vda rw";
#                  checks rcS mounted the share on /mnt/host and both harts are up.
#
# For each: wait (<= 60 s) for rcS's "Wemu guest ready" and the "/ # " prompt, run `uname -m` (expects riscv64),
# run `poweroff`, expect QEMU to exit. Prints PASS/FAIL lines; exit 0 only if all pass.
# Installs qemu-system-misc and expect (pinned, see debian-pins.sh) when run as root.
set -uo pipefail

IMAGES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
R=$IMAGES/riscv64
export WEMU_BOOT_TIMEOUT=${WEMU_BOOT_TIMEOUT:-60}   # read by boot.exp
# shellcheck source=debian-pins.sh
. "$IMAGES/debian-pins.sh"

if [ "$(id -u)" = 0 ]; then
  install_pinned "${WEMU_CHECK_PKGS[@]}" || { echo "FAIL: could not install ${WEMU_CHECK_PKGS[*]}"; exit 1; }
fi
for t in qemu-system-riscv64 expect; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not found (run as root to install it)"; exit 1; }
done

WORK=$(mktemp -d /tmp/wemu-qemu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
pass=0; fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

if (cd "$IMAGES" && sha256sum --quiet -c SHA256SUMS); then ok "SHA256SUMS match"; else bad "SHA256SUMS mismatch"; fi
for f in Image initramfs.cpio.gz rootfs.ext2 fw_dynamic.bin; do
  [ -s "$R/$f" ] || { bad "missing $R/$f"; echo "0 passed, $((fail)) failed"; exit 1; }
done

# expect driver: boot.exp NAME LOGFILE EXTRA_CMD EXTRA_EXPECT -- qemu args...
cat >"$WORK/boot.exp" <<'EOF'
set name [lindex $argv 0]
set logfile [lindex $argv 1]
set extra_cmd [lindex $argv 2]
set extra_re [lindex $argv 3]
set qemu [lrange $argv 5 end]
set tmo [expr {[info exists env(WEMU_BOOT_TIMEOUT)] ? $env(WEMU_BOOT_TIMEOUT) : 60}]
log_user 0
log_file -a -noappend $logfile
proc fail {msg} {
    global name
    puts "FAIL: $name: $msg"
    # drain whatever is still unmatched so that it reaches the log file
    catch {expect -timeout 1 -re {[^\x00]+} {}}
    catch {exec kill -9 [exp_pid]}
    exit 1
}
set t0 [clock milliseconds]
spawn -noecho {*}$qemu
set timeout $tmo
expect {
    -re {Kernel panic[^\r\n]*} { fail "kernel panic: $expect_out(0,string)" }
    "Wemu guest ready" {}
    timeout { fail "no 'Wemu guest ready' (end of rcS) within $tmo s" }
    eof { fail "qemu exited before rcS finished" }
}
expect {
    "/ # " {}
    timeout { fail "no '/ # ' prompt within $tmo s" }
    eof { fail "qemu exited before the prompt" }
}
set tprompt [expr {([clock milliseconds] - $t0) / 1000.0}]
puts "PASS: $name: '/ # ' prompt after $tprompt s"
set timeout 15
send "uname -m\r"
expect {
    -re {\n(riscv64)\r*\n} {}
    timeout { fail "uname -m did not print riscv64" }
    eof { fail "qemu exited during uname -m" }
}
expect "/ # "
puts "PASS: $name: uname -m = riscv64"
if {$extra_cmd ne ""} {
    send "$extra_cmd\r"
    expect {
        -re $extra_re {}
        timeout { fail "'$extra_cmd' did not match /$extra_re/" }
        eof { fail "qemu exited during '$extra_cmd'" }
    }
    expect "/ # "
    puts "PASS: $name: '$extra_cmd' matched /$extra_re/"
}
send "poweroff\r"
set timeout 30
expect {
    eof {}
    timeout { fail "qemu still running 30 s after poweroff" }
}
set st [wait]
set code [lindex $st 3]
set total [expr {([clock milliseconds] - $t0) / 1000.0}]
if {[lindex $st 2] != 0 || $code != 0} { fail "qemu exit status $st after poweroff" }
puts "PASS: $name: poweroff, qemu exited 0 (total $total s)"
exit 0
EOF

QEMU=(qemu-system-riscv64 -M virt -smp 1 -m 256M -nographic -bios "$R/fw_dynamic.bin" -kernel "$R/Image")
run_boot() { # NAME EXTRA_CMD EXTRA_RE QEMU_ARGS...
  local name=$1 cmd=$2 re=$3; shift 3
  echo "--- $name: $*"
  local out
  out=$(expect -f "$WORK/boot.exp" "$name" "$WORK/$name.log" "$cmd" "$re" -- "$@" 2>&1)
  local rc=$?
  printf '%s\n' "$out"
  pass=$((pass + $(grep -c '^PASS' <<<"$out")))
  if [ $rc -ne 0 ]; then
    fail=$((fail + 1))
    echo "    last console output ($name):"; tail -n 25 "$WORK/$name.log" | sed 's/^/    | /'
  fi
}

# 1. initramfs
# (also: /etc/profile was read by the login shell, hostname was set by rcS)
# shellcheck disable=SC2016  # $HOME is for the guest shell
run_boot initramfs 'echo $HOME; hostname' "\\n/root\\r*\\nwemu\\r*\\n" "${QEMU[@]}" -initrd "$R/initramfs.cpio.gz" -append "console=ttyS0"

# 2. ext2 root on virtio-blk (PCI, QEMU's if=virtio default), no initrd
cp "$R/rootfs.ext2" "$WORK/disk-pci.ext2"
run_boot ext2-pci "" "" "${QEMU[@]}" -drive "file=$WORK/disk-pci.ext2,if=virtio,format=raw" \
  -append "console=ttyS0 root=/dev/vda rw"

# 3. ext2 root on virtio-mmio + 9p share "host" + 2 harts + SBI earlycon
cp "$R/rootfs.ext2" "$WORK/disk-mmio.ext2"
mkdir -p "$WORK/share"; token="wemu-9p-$$-$RANDOM"; echo "$token" >"$WORK/share/token"
QEMU_SMP2=("${QEMU[@]}"); QEMU_SMP2[4]=2
run_boot ext2-mmio-9p 'cat /mnt/host/token; nproc' "\\n$token\\r*\\n2\\r*\\n" "${QEMU_SMP2[@]}" \
  -drive "file=$WORK/disk-mmio.ext2,if=none,format=raw,id=hd0" -device virtio-blk-device,drive=hd0 \
  -fsdev "local,id=fs0,path=$WORK/share,security_model=none" -device virtio-9p-device,fsdev=fs0,mount_tag=host \
  -append "console=ttyS0 earlycon=sbi root=/dev/vda rw"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

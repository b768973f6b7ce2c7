#!/usr/bin/env bash
# Boot-test the Wemu guest images under QEMU.
#
#   images/check-with-qemu.sh [riscv64|x86_64]...     (default: both)
#
# riscv64 (qemu-system-riscv64 -M virt):
#   1. initramfs : -kernel Image -initrd initramfs.cpio.gz, append "console=ttyS0";
#                  also checks HOME=/root (login shell read /etc/profile) and hostname wemu
#   2. ext2-pci  : rootfs.ext2 as -drive if=virtio (virtio-blk-pci), "console=ttyS0 root=/dev/vda rw"
#   3. ext2-mmio : rootfs.ext2 as virtio-blk-device (virtio-mmio) + a virtio-9p-device
#                  with mount_tag=host, -smp 2, "console=ttyS0 earlycon=sbi root=/dev/vda rw";
#                  checks rcS mounted the share on /mnt/host and both harts are up.
#   4. initramfs-net: as 1 with -netdev user + virtio-net-device: eth0 got 10.0.2.15, the default
#                  route and the name server by DHCP at boot, and pings the gateway.
#
# x86_64 (qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic -no-reboot):
#   a. x86-initramfs-acpi    : -kernel bzImage -initrd initramfs.cpio.gz (ACPI on, the microvm default),
#                              "console=ttyS0 tsc_early_khz=<host TSC kHz>" (see below)
#   b. x86-initramfs-noacpi  : the same with -M microvm,acpi=off and just "console=ttyS0" (MP table,
#                              PIT tick) + a virtio-9p share whose token file is read (QEMU appends
#                              virtio_mmio.device=... for it); Linux has no way to power off here
#   c. x86-ext2-9p           : rootfs.ext2 on virtio-blk-device + virtio-9p-device mount_tag=host,
#                              ACPI on, "console=ttyS0 root=/dev/vda rw tsc_early_khz=..."; reads a
#                              token file on /mnt/host
#   d. x86-vmlinux-pvh       : -kernel vmlinux (PVH entry) -initrd initramfs.cpio.gz, ACPI on; uses
#                              images/x86_64/vmlinux, else $WEMU_VMLINUX, else the build tree's
#                              vmlinux-x86_64 (not committed: > 8 MiB); skipped if none exists
#   e. x86-initramfs-net     : as a with -netdev user + virtio-net-device: the boot-time DHCP lease, as 4.
#   Why tsc_early_khz in a/c/d/e: the FADT is HW-reduced, so once ACPI is parsed Linux
#   (acpi_reduced_hw_init) drops the legacy PIC and the PIT; microvm has no HPET or ACPI PM timer,
#   and -cpu qemu64 (AMD vendor) has no CPUID 0x15/0x16. The only TSC reference left is the
#   *early* quick PIT calibration (tsc_early_init, before ACPI): under TCG it succeeds on a quiet
#   host only some of the time (its error bound is tight; TCG hiccups break it), and when it fails
#   calibrate_delay() waits forever for a jiffy (seen: 2 of 3 plain boots at load ~1 got through,
#   none at load ~5). tsc_early_khz=<rate> removes that dependency. Under TCG the guest
#   TSC is the host's TSC (cpu_get_host_ticks), so the check measures the host TSC rate (small C
#   helper, or WEMU_TSC_KHZ=...); the LAPIC timer is then calibrated against the TSC.
#   Each: /proc/cmdline is printed (INFO line); in the initramfs shapes pigz compresses and
#   decompresses a file (pigz -p 2, several blocks) and its md5 is checked.
#
# For each: wait (<= 60 s) for rcS's "Wemu guest ready" and the "/ # " prompt, run `uname -m`,
# run `poweroff`, expect QEMU to exit with status 0 -- except x86-initramfs-noacpi, where the
# kernel must reach "reboot: System halted" (Linux turns poweroff into halt when it has no
# power-off method) and QEMU, which then idles forever, is killed.
# Prints PASS/FAIL lines; exit 0 only if all pass.
# Installs the QEMU packages and expect (pinned, see debian-pins.sh) when run as root.
# Env: WEMU_BOOT_TIMEOUT (60), WEMU_CHECK_LOGS=DIR (keep the console logs there),
#      WEMU_ICOUNT=1 (x86: also boot shape a with -icount shift=0 and report the guest's
#      virtual time at the prompt = an upper bound of the instructions executed).
set -uo pipefail

IMAGES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ARCHS=${*:-riscv64 x86_64}
for a in $ARCHS; do
  case "$a" in riscv64|x86_64) ;; *) echo "usage: check-with-qemu.sh [riscv64|x86_64]... (got '$a')" >&2; exit 2 ;; esac
done
want() { case " $ARCHS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
R=$IMAGES/riscv64
X=$IMAGES/x86_64
export WEMU_BOOT_TIMEOUT=${WEMU_BOOT_TIMEOUT:-60}   # read by boot.exp
# shellcheck source=debian-pins.sh
. "$IMAGES/debian-pins.sh"

PKGS=("${WEMU_CHECK_PKGS[@]}"); TOOLS=(expect)
want riscv64 && { PKGS+=("${WEMU_CHECK_PKGS_RISCV64[@]}"); TOOLS+=(qemu-system-riscv64); }
want x86_64 && { PKGS+=("${WEMU_CHECK_PKGS_X86_64[@]}"); TOOLS+=(qemu-system-x86_64); }
if [ "$(id -u)" = 0 ]; then
  install_pinned "${PKGS[@]}" || { echo "FAIL: could not install ${PKGS[*]}"; exit 1; }
fi
for t in "${TOOLS[@]}"; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not found (run as root to install it)"; exit 1; }
done

WORK=$(mktemp -d /tmp/wemu-qemu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
pass=0; fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

if (cd "$IMAGES" && sha256sum --quiet -c SHA256SUMS); then ok "SHA256SUMS match"; else bad "SHA256SUMS mismatch"; fi
if want riscv64; then
  for f in Image initramfs.cpio.gz rootfs.ext2 fw_dynamic.bin; do
    [ -s "$R/$f" ] || { bad "missing $R/$f"; echo "0 passed, $((fail)) failed"; exit 1; }
  done
fi
if want x86_64; then
  for f in bzImage initramfs.cpio.gz rootfs.ext2; do
    [ -s "$X/$f" ] || { bad "missing $X/$f"; echo "0 passed, $((fail)) failed"; exit 1; }
  done
fi

# expect driver: boot.exp NAME LOGFILE EXTRA_CMD EXTRA_EXPECT -- qemu args...
# Env (per run): WEMU_UNAME (expected `uname -m`, default riscv64), WEMU_SHOW_CMDLINE=1
# (print the guest's /proc/cmdline), WEMU_SHOW_UPTIME=1 (print /proc/uptime at the prompt),
# WEMU_POWEROFF=exit (default: QEMU must exit 0) | kill (the kernel must print
# "reboot: Power down" or, with no power-off method, "reboot: System halted"; QEMU is then
# given 10 s and killed if still running).
cat >"$WORK/boot.exp" <<'EOF'
set name [lindex $argv 0]
set logfile [lindex $argv 1]
set extra_cmd [lindex $argv 2]
set extra_re [lindex $argv 3]
set qemu [lrange $argv 5 end]
set tmo [expr {[info exists env(WEMU_BOOT_TIMEOUT)] ? $env(WEMU_BOOT_TIMEOUT) : 60}]
set uname [expr {[info exists env(WEMU_UNAME)] ? $env(WEMU_UNAME) : "riscv64"}]
set pmode [expr {[info exists env(WEMU_POWEROFF)] ? $env(WEMU_POWEROFF) : "exit"}]
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
if {[info exists env(WEMU_SHOW_UPTIME)] && $env(WEMU_SHOW_UPTIME) eq "1"} {
    send "cat /proc/uptime\r"
    expect {
        -re {\n([0-9.]+) [0-9.]+\r*\n} { puts "INFO: $name: guest /proc/uptime at the prompt: $expect_out(1,string) s" }
        timeout { fail "cat /proc/uptime printed nothing" }
    }
    expect "/ # "
}
if {[info exists env(WEMU_SHOW_CMDLINE)] && $env(WEMU_SHOW_CMDLINE) eq "1"} {
    send "cat /proc/cmdline\r"
    expect {
        -re {cat /proc/cmdline\r*\n([^\r\n]*)\r*\n} { puts "INFO: $name: /proc/cmdline: $expect_out(1,string)" }
        timeout { fail "cat /proc/cmdline printed nothing" }
    }
    expect "/ # "
}
send "uname -m\r"
expect {
    -re "\\n($uname)\\r*\\n" {}
    timeout { fail "uname -m did not print $uname" }
    eof { fail "qemu exited during uname -m" }
}
expect "/ # "
puts "PASS: $name: uname -m = $uname"
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
if {$pmode eq "kill"} {
    set timeout 30
    expect {
        -re {reboot: (Power down|System halted)} { set down $expect_out(0,string) }
        -re {Kernel panic[^\r\n]*} { fail "kernel panic before 'reboot: ...': $expect_out(0,string)" }
        timeout { fail "no 'reboot: Power down' / 'reboot: System halted' within 30 s of poweroff" }
        eof { fail "qemu exited before the kernel printed 'reboot: ...'" }
    }
    set tdown [clock milliseconds]
    set timeout 10
    set after ""
    expect {
        -re {Kernel panic[^\r\n]*} { set after $expect_out(0,string); exp_continue }
        eof {
            set st [wait]
            puts "PASS: $name: poweroff reached '$down'; qemu exited by itself, status $st"
            exit 0
        }
        timeout {}
    }
    catch {exec kill -9 [exp_pid]}
    catch {wait}
    set msg "poweroff reached '$down'; qemu did not exit within 10 s (no power-off device without ACPI), killed"
    if {$after ne ""} { append msg "; the kernel then printed: $after" }
    puts "PASS: $name: $msg"
    exit 0
}
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
  if [ -n "${WEMU_CHECK_LOGS:-}" ]; then mkdir -p "$WEMU_CHECK_LOGS"; cp "$WORK/$name.log" "$WEMU_CHECK_LOGS/"; fi
}

# With a NIC: wait (<= 30 s) for the boot-time lease, then address, default route, name server, and
# a ping of slirp's gateway.
# shellcheck disable=SC2016  # for the guest shell
NET_CMD='n=0; until [ -s /etc/resolv.conf ] || [ $n -ge 300 ]; do sleep 0.1; n=$((n+1)); done; ifconfig eth0 | grep -o "inet addr:[0-9.]*"; route -n | grep ^0.0.0.0; cat /etc/resolv.conf; ping -c 1 -W 5 10.0.2.2 | grep -o "1 packets received"'
# ('.' matches newlines in Tcl: a late kernel message may land between the lines, as for pigz below)
NET_RE='inet addr:10\.0\.2\.15\r*\n.*0\.0\.0\.0 +10\.0\.2\.2 +0\.0\.0\.0 +UG[^\n]*eth0\r*\n.*nameserver 10\.0\.2\.3\r*\n.*1 packets received\r*\n'

if want riscv64; then
QEMU=(qemu-system-riscv64 -M virt -smp 1 -m 256M -nographic -bios "$R/fw_dynamic.bin" -kernel "$R/Image")

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

# 4. a NIC on QEMU's slirp (virtio-net-device on virtio-mmio): rcS brings eth0 up by DHCP at boot in
# the background (udhcpc + /usr/share/udhcpc/default.script, which writes /etc/resolv.conf last)
run_boot initramfs-net "$NET_CMD" "$NET_RE" "${QEMU[@]}" -initrd "$R/initramfs.cpio.gz" \
  -netdev user,id=n0 -device virtio-net-device,netdev=n0 -append "console=ttyS0"
fi # riscv64

if want x86_64; then
export WEMU_UNAME=x86_64 WEMU_SHOW_CMDLINE=1
# host TSC rate in kHz (= the guest's TSC rate under TCG without -icount)
if [ -z "${WEMU_TSC_KHZ:-}" ]; then
  WEMU_TSC_KHZ=$("$(dirname "${BASH_SOURCE[0]}")/../bench/host-tsc-khz.sh" 2>/dev/null) || WEMU_TSC_KHZ=""
fi
if [ -z "${WEMU_TSC_KHZ:-}" ]; then
  bad "x86_64: cannot measure the host TSC rate (no gcc?); set WEMU_TSC_KHZ"; WEMU_TSC_KHZ=1000000
fi
echo "--- x86_64: host TSC $WEMU_TSC_KHZ kHz -> tsc_early_khz=$WEMU_TSC_KHZ for shapes a, c and d"
TSC="tsc_early_khz=$WEMU_TSC_KHZ"
XQ=(qemu-system-x86_64 -cpu qemu64 -m 256M -nographic -no-reboot)
# pigz: several 32 KiB blocks with 2 threads, then decompress; md5 of `seq 1 20000` is fixed
PIGZ_CMD='pigz --version; seq 1 20000 | pigz -p 2 -b 32 -c | pigz -dc | md5sum'
# ('.' also matches newlines in Tcl: a late kernel message, e.g. "clocksource: Switched to
# clocksource tsc", may land between the two lines)
PIGZ_RE='pigz 2\.6\r*\n.*e071f707df7bbeee2a6a1eb48011ddd0  -\r*\n'

# a. bzImage + initramfs, ACPI on (microvm default); tsc_early_khz: see the header
run_boot x86-initramfs-acpi "$PIGZ_CMD" "$PIGZ_RE" "${XQ[@]}" -M microvm \
  -kernel "$X/bzImage" -initrd "$X/initramfs.cpio.gz" -append "console=ttyS0 $TSC"

# b. the same with ACPI off: MP table (qboot), PIT tick, no power-off path. Plus a 9p share:
# with ACPI off the virtio-mmio devices reach Linux only through the virtio_mmio.device=
# options QEMU appends to the command line (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
mkdir -p "$WORK/x86-share-b"; btoken="wemu-x86-noacpi-$$-$RANDOM"; echo "$btoken" >"$WORK/x86-share-b/token"
WEMU_POWEROFF=kill run_boot x86-initramfs-noacpi "$PIGZ_CMD; cat /mnt/host/token" "${PIGZ_RE}$btoken\\r*\\n" \
  "${XQ[@]}" -M microvm,acpi=off -kernel "$X/bzImage" -initrd "$X/initramfs.cpio.gz" \
  -fsdev "local,id=fs0,path=$WORK/x86-share-b,security_model=none" -device virtio-9p-device,fsdev=fs0,mount_tag=host \
  -append "console=ttyS0"

# c. ext2 root on virtio-blk-device + 9p share "host" (ACPI on)
cp "$X/rootfs.ext2" "$WORK/x86-disk.ext2"
mkdir -p "$WORK/x86-share"; xtoken="wemu-x86-9p-$$-$RANDOM"; echo "$xtoken" >"$WORK/x86-share/token"
run_boot x86-ext2-9p 'cat /mnt/host/token; pigz --version' "\\n$xtoken\\r*\\npigz 2\\.6\\r*\\n" "${XQ[@]}" -M microvm \
  -kernel "$X/bzImage" \
  -drive "file=$WORK/x86-disk.ext2,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0 \
  -fsdev "local,id=fs0,path=$WORK/x86-share,security_model=none" -device virtio-9p-device,fsdev=fs0,mount_tag=host \
  -append "console=ttyS0 root=/dev/vda rw $TSC"

# d. the ELF vmlinux through its PVH entry point
VMLINUX=${WEMU_VMLINUX:-}
[ -z "$VMLINUX" ] && [ -f "$X/vmlinux" ] && VMLINUX=$X/vmlinux
[ -z "$VMLINUX" ] && VMLINUX=${WEMU_IMAGES_BUILD_DIR:-/tmp/wemu-images-build}/vmlinux-x86_64
if [ -f "$VMLINUX" ]; then
  run_boot x86-vmlinux-pvh "$PIGZ_CMD" "$PIGZ_RE" "${XQ[@]}" -M microvm \
    -kernel "$VMLINUX" -initrd "$X/initramfs.cpio.gz" -append "console=ttyS0 $TSC"
else
  echo "--- x86-vmlinux-pvh: skipped (no vmlinux in images/x86_64/, \$WEMU_VMLINUX or $VMLINUX)"
fi

# e. a NIC on QEMU's slirp on microvm's virtio-mmio transport: the boot-time DHCP lease. (QEMU 7.2's
# `-nic user,model=virtio-net-device` gives microvm no NIC at all; -netdev + -device does.)
run_boot x86-initramfs-net "$NET_CMD" "$NET_RE" "${XQ[@]}" -M microvm \
  -kernel "$X/bzImage" -initrd "$X/initramfs.cpio.gz" -netdev user,id=n0 -device virtio-net-device,netdev=n0 \
  -append "console=ttyS0 $TSC"

# optional: guest virtual time under -icount shift=0 (1 virtual ns per instruction, and the
# TSC then runs at exactly 1 GHz; idle time also advances the clock, so this is an upper
# bound of the instructions executed up to the prompt)
if [ "${WEMU_ICOUNT:-0}" = 1 ]; then
  WEMU_SHOW_UPTIME=1 run_boot x86-initramfs-acpi-icount "" "" "${XQ[@]}" -M microvm -icount shift=0 \
    -kernel "$X/bzImage" -initrd "$X/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=1000000"
fi
fi # x86_64

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

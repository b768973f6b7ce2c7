# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Debian (bookworm) package versions the Wemu guest images are built/checked with.
# Sourced by images/build.sh and images/check-with-qemu.sh.
#
# Policy (install_pinned):
#   * installed version == pin            -> nothing to do
#   * pin available from the archive      -> apt-get install pkg=pin
#   * pin gone (e.g. superseded by a bookworm point/security release)
#                                         -> WARN and install the current candidate,
#                                            or fail if WEMU_STRICT_PINS=1
# Whatever was really used is written to images/VERSIONS by build.sh.

declare -A WEMU_PINS=(
  # inputs that end up inside the images
  [linux-source-6.1]="6.1.192-2"
  [gcc-riscv64-linux-gnu]="4:12.2.0-5"
  [gcc-12-riscv64-linux-gnu]="12.2.0-13cross1"
  [binutils-riscv64-linux-gnu]="2.40-2"
  [libc6-dev-riscv64-cross]="2.36-8cross1"
  [linux-libc-dev-riscv64-cross]="6.1.4-1cross1"
  [opensbi]="1.1-2"
  [e2fsprogs]="1.47.0-2+b2"
  [cpio]="2.13+dfsg-7.1"
  [gzip]="1.12-1"
  # x86_64 guest: LZ4 compresses the bzImage payload (CONFIG_KERNEL_LZ4)
  [lz4]="1.9.4-1"
  # x86_64 guest: the native toolchain (the kernel and the static BusyBox are built with it)
  [gcc-12]="12.2.0-14+deb12u1"
  [binutils]="2.40-2"
  [libc6-dev]="2.36-9+deb12u14"
  [linux-libc-dev]="6.1.187-1"
  # x86_64 guest: Debian amd64 binary packages unpacked (dpkg-deb -x, not installed)
  # into the rootfs: pigz and the shared objects it loads
  [pigz]="2.6-1"
  [libc6]="2.36-9+deb12u14"
  [zlib1g]="1:1.2.13.dfsg-1+deb12u1"
  # host build tools
  [make]="4.3-4.1"
  [gcc]="4:12.2.0-3"
  [bc]="1.07.1-3+b1"
  [flex]="2.6.4-8.2"
  [bison]="2:3.8.2+dfsg-1+b1"
  [libssl-dev]="3.0.22-1~deb12u2"
  [libelf-dev]="0.188-2.1"
  [dpkg-dev]="1.21.23"
  [bzip2]="1.0.8-5+b1"
  # only for images/check-with-qemu.sh
  [qemu-system-misc]="1:7.2+dfsg-7+deb12u18+b3"
  [qemu-system-x86]="1:7.2+dfsg-7+deb12u18+b3"
  [expect]="5.45.4-2+b1"
)
# Debian *source* package BusyBox is built from (apt-get source busybox=VERSION).
WEMU_BUSYBOX_SRC_VERSION="1:1.35.0-4+deb12u1"

# build.sh installs WEMU_BUILD_PKGS plus the list of each architecture it builds.
WEMU_BUILD_PKGS=(linux-source-6.1 e2fsprogs cpio gzip make gcc bc flex bison libssl-dev
  libelf-dev dpkg-dev bzip2)
WEMU_BUILD_PKGS_RISCV64=(gcc-riscv64-linux-gnu gcc-12-riscv64-linux-gnu
  binutils-riscv64-linux-gnu libc6-dev-riscv64-cross linux-libc-dev-riscv64-cross opensbi)
WEMU_BUILD_PKGS_X86_64=(lz4 gcc-12 binutils libc6-dev linux-libc-dev)
# downloaded with `apt-get download PKG=PIN` and unpacked into the x86_64 rootfs
WEMU_GUEST_DEBS_X86_64=(pigz libc6 zlib1g)
# check-with-qemu.sh: the emulator for each architecture it checks, plus expect
WEMU_CHECK_PKGS=(expect)
WEMU_CHECK_PKGS_RISCV64=(qemu-system-misc)
WEMU_CHECK_PKGS_X86_64=(qemu-system-x86)

wemu_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

wemu_apt_updated=0
wemu_apt_update() {
  if [ "$wemu_apt_updated" = 0 ]; then
    wemu_log "apt-get update"
    apt-get update -qq
    wemu_apt_updated=1
  fi
}

# install_pinned PKG... : make sure each package is installed, at its pin if possible.
install_pinned() {
  local want=() p pin inst
  for p in "$@"; do
    pin=${WEMU_PINS[$p]:-}
    inst=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$p" 2>/dev/null || true)
    case "$inst" in
      "ii  $pin") continue ;;                       # installed at the pin
    esac
    if [ -z "$pin" ]; then
      case "$inst" in "ii "*) continue ;; esac
      want+=("$p"); continue
    fi
    # Not at the pin: is the pinned version downloadable?
    if ! apt-cache madison "$p" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -xF "$pin" >/dev/null; then
      wemu_apt_update
    fi
    if apt-cache madison "$p" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -xF "$pin" >/dev/null; then
      want+=("$p=$pin")
    elif [ "${WEMU_STRICT_PINS:-0}" = 1 ]; then
      wemu_log "ERROR: $p=$pin is not available (WEMU_STRICT_PINS=1)"; return 1
    else
      case "$inst" in
        "ii "*) wemu_log "WARNING: $p pinned $pin not available; keeping installed ${inst#ii  }" ;;
        *) wemu_log "WARNING: $p pinned $pin not available; installing current candidate"; want+=("$p") ;;
      esac
    fi
  done
  if [ "${#want[@]}" -gt 0 ]; then
    wemu_apt_update
    wemu_log "apt-get install ${want[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      --allow-downgrades "${want[@]}" >/dev/null
  fi
}

# pkg_version PKG : installed version (or "none")
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }

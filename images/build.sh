#!/usr/bin/env bash
# Rebuild the Wemu riscv64 guest images from Debian packages only.
#
#   images/riscv64/Image               Linux 6.1 (Debian linux-source-6.1), tinyconfig + riscv64/kernel.config
#   images/riscv64/initramfs.cpio.gz   BusyBox (Debian source package, static) + images/rootfs skeleton
#   images/riscv64/rootfs.ext2         same tree as an 8 MiB ext2 image (root=/dev/vda)
#   images/riscv64/fw_dynamic.bin      OpenSBI fw_dynamic, generic platform, from Debian's opensbi
#
# Then writes images/VERSIONS and images/SHA256SUMS.
# Needs root (apt-get, mknod). Scratch tree: $WEMU_IMAGES_BUILD_DIR (default
# /tmp/wemu-images-build); it is kept, so a rerun is incremental.
# Outputs are reproducible (fixed SOURCE_DATE_EPOCH, build user/host, uuids).
#
# Env: WEMU_IMAGES_BUILD_DIR, JOBS (default 2), WEMU_STRICT_PINS=1 (fail when a
#      pinned Debian version is no longer downloadable), SOURCE_DATE_EPOCH.
set -euo pipefail

IMAGES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${WEMU_IMAGES_BUILD_DIR:-/tmp/wemu-images-build}
JOBS=${JOBS:-2}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}   # 2024-01-01 00:00:00 UTC
export LC_ALL=C TZ=UTC
OUT=$IMAGES/riscv64
KFRAG=$OUT/kernel.config
BBFRAG=$IMAGES/busybox.config-fragment
SKEL=$IMAGES/rootfs
EXT2_SIZE=8M
EXT2_UUID=5e3b1d2a-7c1f-4b55-9c3e-77656d750001       # fixed => reproducible image
EXT2_HASH_SEED=5e3b1d2a-7c1f-4b55-9c3e-77656d750002

# shellcheck source=debian-pins.sh
. "$IMAGES/debian-pins.sh"

[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (apt-get, mknod)" >&2; exit 1; }
REPO=$(cd "$IMAGES/.." && pwd)
case "$(realpath -m "$BUILD")/" in "$REPO"/*) echo "build.sh: build dir must be outside the repo ($REPO)" >&2; exit 1;; esac
mkdir -p "$BUILD" "$OUT"
T0=$(date +%s)
declare -A TIMES=()
stage_start() { STAGE=$1; STAGE_T0=$(date +%s); wemu_log "=== $1"; }
stage_end() { TIMES[$STAGE]=$(( $(date +%s) - STAGE_T0 )); wemu_log "=== $STAGE done in ${TIMES[$STAGE]} s"; }

# Replace every symbol listed in fragment $1 inside .config $2 by the fragment's line.
apply_fragment() {
  local frag=$1 cfg=$2 line sym
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) sym=${line%%=*} ;;
      "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
      *) continue ;;
    esac
    sed -i -E "/^(${sym}=|# ${sym} is not set)/d" "$cfg"
    printf '%s\n' "$line" >>"$cfg"
  done <"$frag"
}

# Print every fragment line that is not exactly in .config; return 1 if any.
# "# CONFIG_X is not set" in the fragment is also satisfied by X being absent.
verify_fragment() {
  local frag=$1 cfg=$2 what=$3 line sym actual bad=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) sym=${line%%=*} ;;
      "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
      *) continue ;;
    esac
    actual=$(grep -E "^(${sym}=|# ${sym} is not set)" "$cfg" || true)
    [ "$actual" = "$line" ] && continue
    case "$line" in "# "*) [ -z "$actual" ] && continue ;; esac
    echo "  MISMATCH ($what): wanted '$line', got '${actual:-<absent>}'" >&2
    bad=$((bad + 1))
  done <"$frag"
  if [ "$bad" -ne 0 ]; then
    wemu_log "ERROR: $bad option(s) of $frag did not end up in $cfg"
    return 1
  fi
  wemu_log "$what config: all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$frag") fragment options verified"
}

# ---------------------------------------------------------------------------
stage_start prerequisites
install_pinned "${WEMU_BUILD_PKGS[@]}"
# apt-get source needs deb-src entries
if ! apt-cache showsrc busybox 2>/dev/null | grep '^Package: busybox' >/dev/null; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    wemu_log "enabling deb-src (/etc/apt/sources.list.d/wemu-deb-src.sources)"
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/wemu-deb-src.sources
  else
    wemu_log "enabling deb-src (/etc/apt/sources.list.d/wemu-deb-src.list)"
    grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' \
      >/etc/apt/sources.list.d/wemu-deb-src.list
  fi
  wemu_apt_updated=0; wemu_apt_update
fi
stage_end

# ---------------------------------------------------------------------------
stage_start kernel
KVER_PKG=$(pkg_version linux-source-6.1)
KSRC=$BUILD/linux-source-6.1
KOBJ=$BUILD/kbuild
if [ "$(cat "$KSRC/.wemu-pkg-version" 2>/dev/null)" != "$KVER_PKG" ]; then
  wemu_log "extracting /usr/src/linux-source-6.1.tar.xz ($KVER_PKG)"
  rm -rf "$KSRC" "$KOBJ"
  tar -C "$BUILD" -xf /usr/src/linux-source-6.1.tar.xz
  echo "$KVER_PKG" >"$KSRC/.wemu-pkg-version"
fi
mkdir -p "$KOBJ"
KMAKE=(make -C "$KSRC" O="$KOBJ" ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-
       KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH" KBUILD_BUILD_USER=wemu
       KBUILD_BUILD_HOST=wemu-build KBUILD_BUILD_VERSION=1)
# `make tinyconfig`, append the fragment, `make olddefconfig` (later assignments
# win). Rewriting .config with the same content keeps the rebuild incremental.
"${KMAKE[@]}" -s tinyconfig >/dev/null
cat "$KFRAG" >>"$KOBJ/.config"
"${KMAKE[@]}" -s olddefconfig >/dev/null 2>&1
verify_fragment "$KFRAG" "$KOBJ/.config" kernel
wemu_log "building Image (make -j$JOBS, log: $BUILD/kernel-build.log)"
if ! nice -n 10 "${KMAKE[@]}" -j"$JOBS" Image >"$BUILD/kernel-build.log" 2>&1; then
  tail -40 "$BUILD/kernel-build.log" >&2; exit 1
fi
verify_fragment "$KFRAG" "$KOBJ/.config" kernel   # again, on what was really built
if grep -q '^CONFIG_RISCV_ISA_V=y' "$KOBJ/.config"; then wemu_log "ERROR: RISCV_ISA_V is on"; exit 1; fi
KRELEASE=$("${KMAKE[@]}" -s kernelrelease)
install -m 0644 "$KOBJ/arch/riscv/boot/Image" "$OUT/Image"
wemu_log "Image: $(stat -c %s "$OUT/Image") bytes, kernel $KRELEASE"
stage_end

# ---------------------------------------------------------------------------
stage_start busybox
BBSRCDIR=$BUILD/busybox-src
BBOBJ=$BUILD/bbbuild
if [ "$(cat "$BBSRCDIR/.wemu-src-version" 2>/dev/null)" != "$WEMU_BUSYBOX_SRC_VERSION" ]; then
  rm -rf "$BBSRCDIR" "$BBOBJ"; mkdir -p "$BBSRCDIR"
  if (cd "$BBSRCDIR" && apt-get source -qq "busybox=$WEMU_BUSYBOX_SRC_VERSION" >"$BUILD/busybox-source.log" 2>&1); then
    echo "$WEMU_BUSYBOX_SRC_VERSION" >"$BBSRCDIR/.wemu-src-version"
  elif [ "${WEMU_STRICT_PINS:-0}" = 1 ]; then
    wemu_log "ERROR: busybox source $WEMU_BUSYBOX_SRC_VERSION not available"; exit 1
  else
    wemu_log "WARNING: busybox source $WEMU_BUSYBOX_SRC_VERSION not available, using current"
    rm -rf "$BBSRCDIR"; mkdir -p "$BBSRCDIR"
    (cd "$BBSRCDIR" && apt-get source -qq busybox >"$BUILD/busybox-source.log" 2>&1)
    sed -n 's/^Version: //p' "$BBSRCDIR"/busybox_*.dsc | head -1 >"$BBSRCDIR/.wemu-src-version"
  fi
fi
BBVER=$(cat "$BBSRCDIR/.wemu-src-version")
BBSRC=$(find "$BBSRCDIR" -mindepth 1 -maxdepth 1 -type d -name 'busybox-*' | head -1)
mkdir -p "$BBOBJ"
BBMAKE=(make -C "$BBSRC" O="$BBOBJ" CROSS_COMPILE=riscv64-linux-gnu-
        BB_EXTRA_VERSION="Debian $BBVER, Wemu" KCONFIG_NOTIMESTAMP=1)
"${BBMAKE[@]}" -s defconfig >/dev/null
apply_fragment "$BBFRAG" "$BBOBJ/.config"
{ yes "" || true; } | "${BBMAKE[@]}" -s oldconfig >/dev/null
verify_fragment "$BBFRAG" "$BBOBJ/.config" busybox
wemu_log "building busybox (make -j$JOBS, log: $BUILD/busybox-build.log)"
if ! nice -n 10 "${BBMAKE[@]}" -j"$JOBS" busybox busybox.links >"$BUILD/busybox-build.log" 2>&1; then
  tail -40 "$BUILD/busybox-build.log" >&2; exit 1
fi
verify_fragment "$BBFRAG" "$BBOBJ/.config" busybox
file -b "$BBOBJ/busybox" 2>/dev/null | grep 'statically linked' >/dev/null || \
  { command -v file >/dev/null && { wemu_log "ERROR: busybox is not static"; exit 1; }; }
wemu_log "busybox: $(stat -c %s "$BBOBJ/busybox") bytes, $(wc -l <"$BBOBJ/busybox.links") applet links"
stage_end

# ---------------------------------------------------------------------------
stage_start rootfs
ROOT=$BUILD/rootfs
rm -rf "$ROOT"; mkdir -p "$ROOT"
umask 022
for d in bin sbin usr/bin usr/sbin etc/init.d root tmp proc sys dev mnt/host mnt/disk; do
  mkdir -p "$ROOT/$d"
done
install -m 0755 "$BBOBJ/busybox" "$ROOT/bin/busybox"
# `busybox --install -s` semantics: one symlink per applet, at its --list-full path
while IFS= read -r link; do
  link=${link#/}
  case "$link" in bin/busybox|linuxrc|'') continue ;; esac
  mkdir -p "$ROOT/$(dirname "$link")"
  case "$link" in
    bin/*)      ln -sfn busybox "$ROOT/$link" ;;
    sbin/*)     ln -sfn ../bin/busybox "$ROOT/$link" ;;
    usr/bin/*|usr/sbin/*) ln -sfn ../../bin/busybox "$ROOT/$link" ;;
    *) echo "unexpected applet path $link" >&2; exit 1 ;;
  esac
done <"$BBOBJ/busybox.links"
# skeleton
for f in etc/inittab etc/passwd etc/group etc/hostname etc/profile; do
  install -m 0644 "$SKEL/$f" "$ROOT/$f"
done
install -m 0755 "$SKEL/etc/init.d/rcS" "$ROOT/etc/init.d/rcS"
chmod 0700 "$ROOT/root"; chmod 1777 "$ROOT/tmp"
mknod -m 0600 "$ROOT/dev/console" c 5 1
mknod -m 0666 "$ROOT/dev/null" c 1 3
chown -R -h 0:0 "$ROOT"
find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
for a in sh init mount cttyhack poweroff reboot gzip gunzip sha256sum md5sum dd head awk seq sync uname; do
  [ -e "$ROOT/bin/$a" ] || [ -e "$ROOT/sbin/$a" ] || [ -e "$ROOT/usr/bin/$a" ] || [ -e "$ROOT/usr/sbin/$a" ] \
    || { wemu_log "ERROR: applet $a missing"; exit 1; }
done
stage_end

# ---------------------------------------------------------------------------
stage_start initramfs
IRD=$BUILD/initramfs-root
rm -rf "$IRD"; cp -a "$ROOT" "$IRD"
ln -s bin/busybox "$IRD/init"          # BusyBox init as pid 1
touch -h -d "@$SOURCE_DATE_EPOCH" "$IRD/init" "$IRD"
(cd "$IRD" && find . -mindepth 1 | sed 's,^\./,,' | sort |
   cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$BUILD/initramfs.cpio.gz"
install -m 0644 "$BUILD/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
wemu_log "initramfs.cpio.gz: $(stat -c %s "$OUT/initramfs.cpio.gz") bytes"
stage_end

# ---------------------------------------------------------------------------
stage_start ext2
rm -f "$BUILD/rootfs.ext2"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext2 -L wemu-root -m 0 \
  -U "$EXT2_UUID" -E "hash_seed=$EXT2_HASH_SEED,root_owner=0:0" \
  -d "$ROOT" "$BUILD/rootfs.ext2" "$EXT2_SIZE" >/dev/null
# mke2fs -d copies each file's ctime/atime from the staging tree; pin them so the
# image is byte-reproducible.
(cd "$ROOT" && find . | sed 's,^\.,,; s,^$,/,') | while IFS= read -r p; do
  printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\n' "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH"
done >"$BUILD/ext2-times.debugfs"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$BUILD/ext2-times.debugfs" "$BUILD/rootfs.ext2" >/dev/null 2>&1
e2fsck -fn "$BUILD/rootfs.ext2" >/dev/null 2>&1
install -m 0644 "$BUILD/rootfs.ext2" "$OUT/rootfs.ext2"
wemu_log "rootfs.ext2: $(stat -c %s "$OUT/rootfs.ext2") bytes ($(du -k "$OUT/rootfs.ext2" | cut -f1) KiB allocated)"
stage_end

# ---------------------------------------------------------------------------
stage_start opensbi
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
[ -f "$FW" ] || FW=$(dpkg -L opensbi | grep '/generic/fw_dynamic.bin$' | head -1)
install -m 0644 "$FW" "$OUT/fw_dynamic.bin"
wemu_log "fw_dynamic.bin: from $FW (opensbi $(pkg_version opensbi))"
stage_end

# ---------------------------------------------------------------------------
stage_start records
{
  echo "# Debian (bookworm) inputs of the last images/build.sh run (generated)."
  echo "kernel-release $KRELEASE"
  echo "busybox-source busybox $BBVER"
  echo "opensbi-firmware $FW"
  for p in "${WEMU_BUILD_PKGS[@]}"; do
    v=$(pkg_version "$p")
    if [ "$v" = "${WEMU_PINS[$p]:-}" ]; then echo "package $p $v"; else echo "package $p $v (pinned ${WEMU_PINS[$p]:-none})"; fi
  done
} >"$IMAGES/VERSIONS"
(cd "$IMAGES" && sha256sum riscv64/Image riscv64/initramfs.cpio.gz riscv64/rootfs.ext2 riscv64/fw_dynamic.bin >SHA256SUMS)
stage_end

wemu_log "stage times (s): $(for s in kernel busybox rootfs initramfs ext2; do printf '%s=%s ' "$s" "${TIMES[$s]}"; done)total=$(( $(date +%s) - T0 ))"
cat "$IMAGES/SHA256SUMS"

#!/usr/bin/env bash
# Rebuild the Wemu guest images from Debian packages only.
#
#   images/build.sh [riscv64|x86_64]...     (default: both)
#
#   images/riscv64/Image               Linux 6.1 (Debian linux-source-6.1), tinyconfig + riscv64/kernel.config
#   images/riscv64/initramfs.cpio.gz   BusyBox (Debian source package, static) + images/rootfs skeleton
#   images/riscv64/rootfs.ext2         same tree as an 8 MiB ext2 image (root=/dev/vda)
#   images/riscv64/fw_dynamic.bin      OpenSBI fw_dynamic, generic platform, from Debian's opensbi
#
#   images/x86_64/bzImage              Linux 6.1 (same source), native gcc, tinyconfig + x86_64/kernel.config (LZ4)
#   images/x86_64/vmlinux              the same kernel as a stripped ELF (PVH entry), only if < 8 MiB
#   images/x86_64/initramfs.cpio.gz    BusyBox (same source/fragment, native static) + images/rootfs
#                                      + Debian's amd64 pigz with its shared libraries (dpkg-deb -x)
#   images/x86_64/rootfs.ext2          same tree as an ext2 image (root=/dev/vda)
#
# Then writes images/VERSIONS and images/SHA256SUMS (lines of an architecture that
# was not rebuilt are carried over).
# Needs root (apt-get, mknod). Scratch tree: $WEMU_IMAGES_BUILD_DIR (default
# /tmp/wemu-images-build); it is kept, so a rerun is incremental.
# Outputs are reproducible (fixed SOURCE_DATE_EPOCH, build user/host, uuids).
#
# Env: WEMU_IMAGES_BUILD_DIR, JOBS (default 2), WEMU_STRICT_PINS=1 (fail when a
#      pinned Debian version is no longer downloadable), SOURCE_DATE_EPOCH.
set -euo pipefail

IMAGES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ARCHS=${*:-riscv64 x86_64}
for a in $ARCHS; do
  case "$a" in riscv64|x86_64) ;; *) echo "usage: build.sh [riscv64|x86_64]... (got '$a')" >&2; exit 2 ;; esac
done
want() { case " $ARCHS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
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
OUT_X86=$IMAGES/x86_64
KFRAG_X86=$OUT_X86/kernel.config
EXT2_SIZE_X86=12M                                     # pigz + glibc make the tree ~6 MiB
EXT2_UUID_X86=5e3b1d2a-7c1f-4b55-9c3e-77656d750003
EXT2_HASH_SEED_X86=5e3b1d2a-7c1f-4b55-9c3e-77656d750004

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

# --- steps shared by the architectures (same commands for each) -------------

# Extract Debian's linux-source-6.1 tarball once into $KSRC (sets KVER_PKG, KSRC).
extract_kernel_source() {
  KVER_PKG=$(pkg_version linux-source-6.1)
  KSRC=$BUILD/linux-source-6.1
  if [ "$(cat "$KSRC/.wemu-pkg-version" 2>/dev/null)" != "$KVER_PKG" ]; then
    wemu_log "extracting /usr/src/linux-source-6.1.tar.xz ($KVER_PKG)"
    rm -rf "$KSRC" "$BUILD/kbuild" "$BUILD/kbuild-x86_64"
    tar -C "$BUILD" -xf /usr/src/linux-source-6.1.tar.xz
    echo "$KVER_PKG" >"$KSRC/.wemu-pkg-version"
  fi
}

# `apt-get source busybox=PIN` once into $BBSRCDIR (sets BBSRCDIR, BBVER, BBSRC).
fetch_busybox_source() {
  BBSRCDIR=$BUILD/busybox-src
  if [ "$(cat "$BBSRCDIR/.wemu-src-version" 2>/dev/null)" != "$WEMU_BUSYBOX_SRC_VERSION" ]; then
    rm -rf "$BBSRCDIR" "$BUILD/bbbuild" "$BUILD/bbbuild-x86_64"; mkdir -p "$BBSRCDIR"
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
}

# populate_rootfs ROOT BBOBJ: BusyBox + applet links + images/rootfs skeleton + 2 device nodes.
populate_rootfs() {
  local ROOT=$1 BBOBJ=$2 d link f a
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  umask 022
  for d in bin sbin usr/bin usr/sbin etc/init.d root tmp proc sys dev mnt/host mnt/disk var/log; do
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
  install -D -m 0755 "$SKEL/usr/share/udhcpc/default.script" "$ROOT/usr/share/udhcpc/default.script"
  chmod 0700 "$ROOT/root"; chmod 1777 "$ROOT/tmp"
  mknod -m 0600 "$ROOT/dev/console" c 5 1
  mknod -m 0666 "$ROOT/dev/null" c 1 3
  for a in sh init mount cttyhack poweroff reboot gzip gunzip sha256sum md5sum dd head awk seq sync uname \
           setsid udhcpc ifconfig route mv wget nc httpd; do
    [ -e "$ROOT/bin/$a" ] || [ -e "$ROOT/sbin/$a" ] || [ -e "$ROOT/usr/bin/$a" ] || [ -e "$ROOT/usr/sbin/$a" ] \
      || { wemu_log "ERROR: applet $a missing"; exit 1; }
  done
}

# finish_rootfs ROOT: owner root, every timestamp = SOURCE_DATE_EPOCH.
finish_rootfs() {
  chown -R -h 0:0 "$1"
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# make_initramfs ROOT SCRATCH_DIR OUT_FILE: ROOT + /init -> bin/busybox as a gzip'd newc cpio.
make_initramfs() {
  local ROOT=$1 IRD=$2 out=$3
  rm -rf "$IRD"; cp -a "$ROOT" "$IRD"
  ln -s bin/busybox "$IRD/init"          # BusyBox init as pid 1
  touch -h -d "@$SOURCE_DATE_EPOCH" "$IRD/init" "$IRD"
  (cd "$IRD" && find . -mindepth 1 | sed 's,^\./,,' | sort |
     cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$out"
}

# make_ext2 ROOT IMAGE SIZE UUID HASH_SEED
make_ext2() {
  local ROOT=$1 img=$2 size=$3 uuid=$4 seed=$5
  rm -f "$img"
  E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext2 -L wemu-root -m 0 \
    -U "$uuid" -E "hash_seed=$seed,root_owner=0:0" \
    -d "$ROOT" "$img" "$size" >/dev/null
  # mke2fs -d copies each file's ctime/atime from the staging tree; pin them so the
  # image is byte-reproducible.
  (cd "$ROOT" && find . | sed 's,^\.,,; s,^$,/,') | while IFS= read -r p; do
    printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\n' "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH"
  done >"$img.debugfs"
  E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$img.debugfs" "$img" >/dev/null 2>&1
  e2fsck -fn "$img" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
stage_start prerequisites
PKGS=("${WEMU_BUILD_PKGS[@]}")
want riscv64 && PKGS+=("${WEMU_BUILD_PKGS_RISCV64[@]}")
want x86_64 && PKGS+=("${WEMU_BUILD_PKGS_X86_64[@]}")
install_pinned "${PKGS[@]}"
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
extract_kernel_source
fetch_busybox_source
stage_end

# ===========================================================================
# riscv64
# ===========================================================================
if want riscv64; then
mkdir -p "$OUT"

# ---------------------------------------------------------------------------
stage_start kernel
KOBJ=$BUILD/kbuild
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
BBOBJ=$BUILD/bbbuild
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
populate_rootfs "$ROOT" "$BBOBJ"
finish_rootfs "$ROOT"
stage_end

# ---------------------------------------------------------------------------
stage_start initramfs
make_initramfs "$ROOT" "$BUILD/initramfs-root" "$BUILD/initramfs.cpio.gz"
install -m 0644 "$BUILD/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
wemu_log "initramfs.cpio.gz: $(stat -c %s "$OUT/initramfs.cpio.gz") bytes"
stage_end

# ---------------------------------------------------------------------------
stage_start ext2
make_ext2 "$ROOT" "$BUILD/rootfs.ext2" "$EXT2_SIZE" "$EXT2_UUID" "$EXT2_HASH_SEED"
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
fi # riscv64

# ===========================================================================
# x86_64 (QEMU -M microvm; native gcc, the build host is amd64)
# ===========================================================================
if want x86_64; then
[ "$(dpkg --print-architecture)" = amd64 ] || { wemu_log "ERROR: the x86_64 images are built natively on amd64"; exit 1; }
mkdir -p "$OUT_X86"

# ---------------------------------------------------------------------------
stage_start x86_64-kernel
KOBJ_X86=$BUILD/kbuild-x86_64
mkdir -p "$KOBJ_X86"
KMAKE_X86=(make -C "$KSRC" O="$KOBJ_X86" ARCH=x86_64
           KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH" KBUILD_BUILD_USER=wemu
           KBUILD_BUILD_HOST=wemu-build KBUILD_BUILD_VERSION=1)
"${KMAKE_X86[@]}" -s tinyconfig >/dev/null
cat "$KFRAG_X86" >>"$KOBJ_X86/.config"
"${KMAKE_X86[@]}" -s olddefconfig >/dev/null 2>&1
verify_fragment "$KFRAG_X86" "$KOBJ_X86/.config" x86_64-kernel
wemu_log "building bzImage (make -j$JOBS, log: $BUILD/kernel-x86_64-build.log)"
if ! nice -n 10 "${KMAKE_X86[@]}" -j"$JOBS" bzImage >"$BUILD/kernel-x86_64-build.log" 2>&1; then
  tail -40 "$BUILD/kernel-x86_64-build.log" >&2; exit 1
fi
verify_fragment "$KFRAG_X86" "$KOBJ_X86/.config" x86_64-kernel
KRELEASE_X86=$("${KMAKE_X86[@]}" -s kernelrelease)
install -m 0644 "$KOBJ_X86/arch/x86/boot/bzImage" "$OUT_X86/bzImage"
wemu_log "bzImage: $(stat -c %s "$OUT_X86/bzImage") bytes, kernel $KRELEASE_X86"
# The ELF (for PVH boot: QEMU -kernel vmlinux enters pvh_start_xen through the
# XEN_ELFNOTE_PHYS32_ENTRY note), stripped; committed only when it is small.
strip --strip-all -o "$BUILD/vmlinux-x86_64" "$KOBJ_X86/vmlinux"
readelf -n "$BUILD/vmlinux-x86_64" | grep -q 'Xen.*0x00000012' \
  || { wemu_log "ERROR: stripped vmlinux lost its PVH entry note"; exit 1; }
if [ "$(stat -c %s "$BUILD/vmlinux-x86_64")" -lt $((8 * 1024 * 1024)) ]; then
  install -m 0644 "$BUILD/vmlinux-x86_64" "$OUT_X86/vmlinux"
  wemu_log "vmlinux: $(stat -c %s "$OUT_X86/vmlinux") bytes (stripped ELF, PVH note)"
else
  rm -f "$OUT_X86/vmlinux"
  wemu_log "vmlinux: $(stat -c %s "$BUILD/vmlinux-x86_64") bytes >= 8 MiB, not kept"
fi
stage_end

# ---------------------------------------------------------------------------
stage_start x86_64-busybox
BBOBJ_X86=$BUILD/bbbuild-x86_64
mkdir -p "$BBOBJ_X86"
# The shared fragment, with the riscv64 cross prefix replaced by none (native gcc).
sed -E 's/^CONFIG_CROSS_COMPILER_PREFIX=.*/CONFIG_CROSS_COMPILER_PREFIX=""/' "$BBFRAG" >"$BUILD/busybox-x86_64.config-fragment"
BBFRAG_X86=$BUILD/busybox-x86_64.config-fragment
BBMAKE_X86=(make -C "$BBSRC" O="$BBOBJ_X86"
            BB_EXTRA_VERSION="Debian $BBVER, Wemu" KCONFIG_NOTIMESTAMP=1)
"${BBMAKE_X86[@]}" -s defconfig >/dev/null
apply_fragment "$BBFRAG_X86" "$BBOBJ_X86/.config"
{ yes "" || true; } | "${BBMAKE_X86[@]}" -s oldconfig >/dev/null
verify_fragment "$BBFRAG_X86" "$BBOBJ_X86/.config" x86_64-busybox
wemu_log "building busybox (make -j$JOBS, log: $BUILD/busybox-x86_64-build.log)"
if ! nice -n 10 "${BBMAKE_X86[@]}" -j"$JOBS" busybox busybox.links >"$BUILD/busybox-x86_64-build.log" 2>&1; then
  tail -40 "$BUILD/busybox-x86_64-build.log" >&2; exit 1
fi
verify_fragment "$BBFRAG_X86" "$BBOBJ_X86/.config" x86_64-busybox
file -b "$BBOBJ_X86/busybox" 2>/dev/null | grep 'statically linked' >/dev/null || \
  { command -v file >/dev/null && { wemu_log "ERROR: busybox is not static"; exit 1; }; }
wemu_log "busybox: $(stat -c %s "$BBOBJ_X86/busybox") bytes, $(wc -l <"$BBOBJ_X86/busybox.links") applet links"
stage_end

# ---------------------------------------------------------------------------
# Debian's amd64 pigz (dynamically linked) + exactly the shared objects it loads,
# at their Debian paths: /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...
stage_start x86_64-pigz
DEBS=$BUILD/x86_64-debs
mkdir -p "$DEBS"
GUEST_DEB_VERSIONS=()
for p in "${WEMU_GUEST_DEBS_X86_64[@]}"; do
  pin=${WEMU_PINS[$p]}
  deb=$(find "$DEBS" -maxdepth 1 -name "${p}_*_amd64.deb" | head -1)
  if [ -n "$deb" ] && [ "$(dpkg-deb -f "$deb" Version)" != "$pin" ]; then rm -f "$deb"; deb=; fi
  if [ -z "$deb" ]; then
    if ! (cd "$DEBS" && apt-get download -qq "$p=$pin" >/dev/null 2>&1); then
      wemu_apt_update
      if (cd "$DEBS" && apt-get download -qq "$p=$pin" >/dev/null 2>&1); then :
      elif [ "${WEMU_STRICT_PINS:-0}" = 1 ]; then
        wemu_log "ERROR: $p=$pin is not downloadable (WEMU_STRICT_PINS=1)"; exit 1
      else
        wemu_log "WARNING: $p pinned $pin not downloadable; using the current candidate"
        rm -f "$DEBS/${p}_"*_amd64.deb
        (cd "$DEBS" && apt-get download -qq "$p" >/dev/null 2>&1)
      fi
    fi
    deb=$(find "$DEBS" -maxdepth 1 -name "${p}_*_amd64.deb" | head -1)
  fi
  GUEST_DEB_VERSIONS+=("$p $(dpkg-deb -f "$deb" Version)")
done
XDEB=$BUILD/x86_64-debs-extracted
rm -rf "$XDEB"; mkdir -p "$XDEB"
for p in "${WEMU_GUEST_DEBS_X86_64[@]}"; do
  dpkg-deb -x "$(find "$DEBS" -maxdepth 1 -name "${p}_*_amd64.deb" | head -1)" "$XDEB"
done
stage_end

# ---------------------------------------------------------------------------
stage_start x86_64-rootfs
ROOT_X86=$BUILD/rootfs-x86_64
populate_rootfs "$ROOT_X86" "$BBOBJ_X86"
ML=lib/x86_64-linux-gnu
mkdir -p "$ROOT_X86/$ML" "$ROOT_X86/lib64"
install -m 0755 "$XDEB/usr/bin/pigz" "$ROOT_X86/usr/bin/pigz"
ln -s pigz "$ROOT_X86/usr/bin/unpigz"            # Debian ships a hard link; pigz looks at argv[0]
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0; do
  install -m "$(stat -c %a "$XDEB/$ML/$f")" "$XDEB/$ML/$f" "$ROOT_X86/$ML/$f"
done
ZLIB=$(readlink "$XDEB/$ML/libz.so.1")
install -m 0644 "$XDEB/$ML/$ZLIB" "$ROOT_X86/$ML/$ZLIB"
ln -s "$ZLIB" "$ROOT_X86/$ML/libz.so.1"
ln -s "/$ML/ld-linux-x86-64.so.2" "$ROOT_X86/lib64/ld-linux-x86-64.so.2"   # as in Debian's libc6
# every DT_NEEDED of every ELF we copied must be there
for f in "$ROOT_X86/usr/bin/pigz" "$ROOT_X86/$ML"/*.so*; do
  for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$ROOT_X86/$ML/$n" ] || { wemu_log "ERROR: $f needs $n, not in the rootfs"; exit 1; }
  done
done
finish_rootfs "$ROOT_X86"
# the host is amd64: run the guest's pigz with the guest's loader and libraries
echo wemu | chroot "$ROOT_X86" /usr/bin/pigz -c | chroot "$ROOT_X86" /usr/bin/unpigz -c | grep -qx wemu \
  || { wemu_log "ERROR: pigz does not run inside the x86_64 rootfs (chroot test)"; exit 1; }
wemu_log "rootfs: $(du -sk "$ROOT_X86" | cut -f1) KiB, $(chroot "$ROOT_X86" /usr/bin/pigz --version 2>&1)"
stage_end

# ---------------------------------------------------------------------------
stage_start x86_64-initramfs
make_initramfs "$ROOT_X86" "$BUILD/initramfs-root-x86_64" "$BUILD/initramfs-x86_64.cpio.gz"
install -m 0644 "$BUILD/initramfs-x86_64.cpio.gz" "$OUT_X86/initramfs.cpio.gz"
wemu_log "initramfs.cpio.gz: $(stat -c %s "$OUT_X86/initramfs.cpio.gz") bytes"
stage_end

# ---------------------------------------------------------------------------
stage_start x86_64-ext2
make_ext2 "$ROOT_X86" "$BUILD/rootfs-x86_64.ext2" "$EXT2_SIZE_X86" "$EXT2_UUID_X86" "$EXT2_HASH_SEED_X86"
install -m 0644 "$BUILD/rootfs-x86_64.ext2" "$OUT_X86/rootfs.ext2"
wemu_log "rootfs.ext2: $(stat -c %s "$OUT_X86/rootfs.ext2") bytes ($(du -k "$OUT_X86/rootfs.ext2" | cut -f1) KiB allocated)"
stage_end
fi # x86_64

# ---------------------------------------------------------------------------
stage_start records
OLDV=$IMAGES/VERSIONS
[ -f "$OLDV" ] && cp "$OLDV" "$BUILD/VERSIONS.old" || : >"$BUILD/VERSIONS.old"
# carry KEY's line(s) over from the previous VERSIONS (architecture not rebuilt now)
old() { grep -E "^$1( |\$)" "$BUILD/VERSIONS.old" || true; }
{
  echo "# Debian (bookworm) inputs of the last images/build.sh run (generated)."
  if want riscv64; then
    echo "kernel-release $KRELEASE"
    echo "busybox-source busybox $BBVER"
    echo "opensbi-firmware $FW"
  else
    old kernel-release; old busybox-source; old opensbi-firmware
  fi
  if want x86_64; then
    echo "x86_64-kernel-release $KRELEASE_X86"
    echo "x86_64-busybox-source busybox $BBVER"
    for l in "${GUEST_DEB_VERSIONS[@]}"; do echo "x86_64-guest-deb $l"; done
  else
    old x86_64-kernel-release; old x86_64-busybox-source; old x86_64-guest-deb
  fi
  for p in "${WEMU_BUILD_PKGS[@]}" "${WEMU_BUILD_PKGS_RISCV64[@]}" "${WEMU_BUILD_PKGS_X86_64[@]}"; do
    v=$(pkg_version "$p")
    if [ "$v" = none ] && [ -n "$(old "package $p")" ]; then old "package $p"; continue; fi
    if [ "$v" = "${WEMU_PINS[$p]:-}" ]; then echo "package $p $v"; else echo "package $p $v (pinned ${WEMU_PINS[$p]:-none})"; fi
  done
} >"$IMAGES/VERSIONS"
(cd "$IMAGES" && for f in riscv64/Image riscv64/initramfs.cpio.gz riscv64/rootfs.ext2 riscv64/fw_dynamic.bin \
                          x86_64/bzImage x86_64/vmlinux x86_64/initramfs.cpio.gz x86_64/rootfs.ext2; do
                   [ -f "$f" ] && echo "$f"; done | xargs sha256sum >SHA256SUMS)
stage_end

wemu_log "stage times (s): $(for s in "${!TIMES[@]}"; do printf '%s=%s ' "$s" "${TIMES[$s]}"; done)total=$(( $(date +%s) - T0 ))"
cat "$IMAGES/SHA256SUMS"

#!/usr/bin/env bash
# Builds the static site of Wemu's browser host into OUT (default artifacts/site):
#   the .NET WebAssembly app (dotnet publish), the page and JS API (wwwroot/), xterm.js from npm
#   (node_modules -> vendor/, bundled at build time: no CDN), and the default guest's images.
# Rebuilds only what changed. usage: build-site.sh [OUT]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/artifacts/site}"
publish="$root/artifacts/web-publish"
say() { echo "build-site: $*" >&2; }

# 1. npm packages (xterm.js and the test's playwright-core), from package-lock.json
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm packages (npm ci)..."
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# 2. the WebAssembly app, when its sources (or the core's) changed
stamp="$publish/.stamp"
if [ ! -f "$stamp" ] || [ -n "$(find "$root/src/Wemu" "$here" \( -name obj -o -name bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -newer "$stamp" -print -quit)" ] \
   || [ "$root/Directory.Build.props" -nt "$stamp" ] || [ "$root/src/Directory.Build.props" -nt "$stamp" ]; then
  say "publishing src/Wemu.Web (Release, WebAssembly)..."
  rm -rf "$publish"
  if ! log=$(dotnet publish "$here/Wemu.Web.csproj" -c Release -o "$publish" --nologo -v q 2>&1); then
    echo "$log" >&2; say "dotnet publish failed"; exit 1
  fi
  touch "$stamp"
fi

# 3. the site: a fresh copy every time (it is small), so no stale file survives
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/.wemu-site" ]; then
  say "$out exists and is not a Wemu site; refusing to overwrite it"; exit 1
fi
rm -rf "$out"
mkdir -p "$out/vendor" "$out/images/riscv64" "$out/images/x86_64"
cp -a "$publish/wwwroot/_framework" "$out/"   # the runtime and assemblies (with .br/.gz beside each)
cp -a "$here/wwwroot/." "$out/"              # the page's own files, as edited (no rebuild needed for them)
x="$root/node_modules/@xterm"
cp "$x/xterm/lib/xterm.mjs" "$x/xterm/css/xterm.css" "$x/addon-fit/lib/addon-fit.mjs" "$out/vendor/"
cp "$x/xterm/LICENSE" "$out/vendor/xterm.LICENSE"
# the default guest, and its root file system as a disk to try: ?args=-drive file=images/riscv64/rootfs.ext2
for f in fw_dynamic.bin Image initramfs.cpio.gz rootfs.ext2; do cp "$root/images/riscv64/$f" "$out/images/riscv64/"; done
# the x86_64 guest (?arch=x86_64): the page downloads a guest's images only when that guest is chosen
for f in bzImage initramfs.cpio.gz rootfs.ext2; do cp "$root/images/x86_64/$f" "$out/images/x86_64/"; done
touch "$out/.nojekyll"                   # GitHub Pages: serve _framework/ as is
echo "Wemu static site; rebuilt by src/Wemu.Web/build-site.sh" > "$out/.wemu-site"
say "site ready in $out ($(du -sh "$out" | cut -f1))"

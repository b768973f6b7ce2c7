#!/usr/bin/env bash
# Boot to the shell prompt in headless Chromium (the default page, bench/browser-boot.mjs) beside
# the native CLI (bench/run-guest.js), alternating, in one run; medians and the ratio browser/native.
# Native: process start -> "/ # ". Browser: page navigation -> "/ # " (runtime download and start,
# image downloads, machine creation, guest boot), with the guest-only part shown too. Both sides run
# their default engine (the JIT: IL natively, WebAssembly in the page) and natively -accel interp too.
# bench/browser-workload.sh compares the page's two engines (boot and a guest workload).
# usage: bench/browser-boot.sh [runs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
runs=${1:-5}
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
n=(); ni=(); b=(); g=(); m=()
for i in $(seq "$runs"); do
  n+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" | field bootSeconds)")
  ni+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" -accel interp | field bootSeconds)")
  r=$(node "$root/bench/browser-boot.mjs" "$root/artifacts/site")
  b+=("$(echo "$r" | field promptSeconds)"); g+=("$(echo "$r" | field guestSeconds)"); m+=("$(echo "$r" | field mips)")
  echo "run $i: native ${n[-1]} s (interp ${ni[-1]} s), browser ${b[-1]} s (guest ${g[-1]} s at ${m[-1]} M instructions/s; $(echo "$r" | node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log('runtime', r.runtimeSeconds.toFixed(2), 's, download', r.downloadSeconds.toFixed(2), 's, create', r.createSeconds.toFixed(2), 's')"))"
done
nm=$(printf '%s\n' "${n[@]}" | median); nim=$(printf '%s\n' "${ni[@]}" | median); bm=$(printf '%s\n' "${b[@]}" | median); gm=$(printf '%s\n' "${g[@]}" | median)
echo "boot to prompt (median of $runs): native $nm s (interp $nim s), browser $bm s (guest part $gm s)"
echo "ratio browser/native $(awk "BEGIN{printf \"%.2f\", $bm/$nm}") (browser/native interp $(awk "BEGIN{printf \"%.2f\", $bm/$nim}"))"

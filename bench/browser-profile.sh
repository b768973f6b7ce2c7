#!/usr/bin/env bash
# Where the page's boot time goes (bench/browser-profile.mjs: a CPU profile of the worker, by kind of
# code), for the default page and for -accel interp, beside the native boot (bench/run-guest.js) as
# the reference, in one run. usage: bench/browser-profile.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
echo "native boot: $(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" | field bootSeconds) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== the default page (wasm JIT)"
node "$root/bench/browser-profile.mjs" "$root/artifacts/site"
echo "== -accel interp"
node "$root/bench/browser-profile.mjs" "$root/artifacts/site" --query "args=-accel interp"
echo "native boot: $(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" | field bootSeconds) s (load $(cut -d' ' -f1-3 /proc/loadavg))"

#!/usr/bin/env bash
# The browser's two engines side by side, in headless Chromium (bench/browser-boot.mjs), alternating
# in one run: boot to the shell prompt, then the guest workload of bench/guest.sh (8 MiB from
# /dev/urandom, gzip, sha256sum), under -accel interp and under the default -accel tcg (the JIT,
# compiling to WebAssembly in the page). Medians, and the ratio interp/JIT for each.
# With REFERENCE_SITE, a second site (e.g. an older build) runs the default engine in the same runs.
# usage: [REFERENCE_SITE=dir] bench/browser-workload.sh [runs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
runs=${1:-3}
work='dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; gzip -c /tmp/r > /tmp/r.gz; sha256sum /tmp/r.gz'
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
bi=(); wi=(); bj=(); wj=()
summary() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8'));
  const j=r.after&&r.after.jit; console.log('boot (guest part)', r.guestSeconds.toFixed(2), 's, workload', r.workloadSeconds.toFixed(2), 's,',
    (r.workloadInstructions/r.workloadSeconds/1e6).toFixed(0), 'M instructions/s' + (j ? '; jit: ' + j.blocksCompiled + ' blocks, compile ' + j.compileMs.toFixed(0) +
    ' ms (wasm load ' + j.loadMs.toFixed(0) + ' ms), ' + (j.compiledInstructions/1e6).toFixed(0) + ' M compiled, ' + (j.coldInstructions/1e6).toFixed(0) +
    ' M cold, ' + j.entries + ' entries, exits chain/interpret/stop/slow ' + j.exits : ''))"; }
for i in $(seq "$runs"); do
  echo "run $i: load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  ri=$(node "$root/bench/browser-boot.mjs" "$root/artifacts/site" --query "args=-accel interp" --workload "$work")
  rj=$(node "$root/bench/browser-boot.mjs" "$root/artifacts/site" --workload "$work")
  bi+=("$(echo "$ri" | field guestSeconds)"); wi+=("$(echo "$ri" | field workloadSeconds)")
  bj+=("$(echo "$rj" | field guestSeconds)"); wj+=("$(echo "$rj" | field workloadSeconds)")
  echo "run $i: interp: $(echo "$ri" | summary)"
  echo "run $i: jit:    $(echo "$rj" | summary)"
  if [ -n "${REFERENCE_SITE:-}" ]; then
    rr=$(node "$root/bench/browser-boot.mjs" "$REFERENCE_SITE" --workload "$work")
    echo "run $i: reference site, default engine: $(echo "$rr" | summary)"
  fi
  echo "run $i: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
m() { printf '%s\n' "$@" | median; }
bim=$(m "${bi[@]}"); wim=$(m "${wi[@]}"); bjm=$(m "${bj[@]}"); wjm=$(m "${wj[@]}")
echo "boot to prompt, guest part (median of $runs): interp $bim s, wasm JIT $bjm s, ratio interp/JIT $(awk "BEGIN{printf \"%.2f\", $bim/$bjm}")"
echo "workload (median of $runs): interp $wim s, wasm JIT $wjm s, ratio interp/JIT $(awk "BEGIN{printf \"%.2f\", $wim/$wjm}")"

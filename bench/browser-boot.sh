#!/usr/bin/env bash
# Boot to the shell prompt in headless Chromium (the default page, bench/browser-boot.mjs) beside
# the native CLI (bench/run-guest.js), alternating, in one run; medians and the ratio browser/native.
# Native: process start -> "/ # ". Browser: page navigation -> "/ # " (runtime download and start,
# image downloads, machine creation, guest boot), with the guest-only part shown too. Both sides run
# their default engine (the JIT: x86-64 code natively, WebAssembly in the page) and natively -accel
# interp too. Each run prints the page's phases, seconds from navigation: page (window.wemu exists),
# runtime (the worker's .NET runtime ready), running (machine built, guest starts), prompt.
# Each run also resumes the bundled guest saved at its prompt (a snapshot made once, natively, by
# src/Wemu.Web/save-snapshot.mjs): natively (wemu -incoming) and in the page (?args=-incoming ...), both
# pressing Enter at once and timed to the prompt that answers it; "after runtime" is the page's time
# from its .NET runtime being up to that prompt (issue 14's goals: <= 1.0 s after the runtime, <= 3 s in all).
# With REFERENCE_SITE, a second site (e.g. an older build) boots in the same runs, alternating; with
# REFERENCE_WEMU (another checkout's ./wemu launcher), that build's native boot too.
# The load average is printed before each run (the machine is shared: read figures beside it).
# bench/browser-workload.sh compares the page's two engines (boot and a guest workload).
# usage: [REFERENCE_SITE=dir] [REFERENCE_WEMU=path/to/wemu] bench/browser-boot.sh [runs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
runs=${1:-5}
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
snap_name=bench-prompt.snap
snap="$root/artifacts/site/$snap_name"
node "$root/src/Wemu.Web/save-snapshot.mjs" "$root/wemu" "$snap"
trap 'rm -f "$snap"' EXIT
phases() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const f=v=>v==null||isNaN(v)?'-':v.toFixed(2);
  const t=r.timings||{}; console.log('prompt', f(r.promptSeconds), 's = page', f(r.pageSeconds), '+ worker start', f(r.workerStartSeconds),
  '| runtime', f(r.runtimeSeconds), 'configure', f(t.configureMs/1000), 'download wait', f(r.downloadSeconds), 'create', f(r.createSeconds),
  '| running at', f(r.runningAtSeconds), '+ guest', f(r.guestSeconds), 's at', f(r.mips), 'M instructions/s; worker CPU', f(r.workerCpuSeconds), 's' +
  (r.jit ? '; jit ' + r.jit.blocksCompiled + ' regions, compile ' + (r.jit.compileMs/1000).toFixed(2) + ' s, ' + (r.jit.coldInstructions/1e6).toFixed(0) + ' M cold of ' + (r.instructions/1e6).toFixed(0) + ' M, ' + r.jit.entries + ' entries' : ''))"; }
n=(); ni=(); b=(); g=(); rb=(); rn=(); sn=(); sb=(); sa=()
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -1)"
"$root/bench/host-costs.sh"
[ -z "${REFERENCE_WEMU:-}" ] || "$REFERENCE_WEMU" --version >/dev/null   # build once, outside the timings
for i in $(seq "$runs"); do
  echo "run $i: load $(cut -d' ' -f1-3 /proc/loadavg)"
  n+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" | field bootSeconds)")
  ni+=("$(node "$root/bench/run-guest.js" -- "${wemu_cmd[@]}" -accel interp | field bootSeconds)")
  r=$(node "$root/bench/browser-boot.mjs" "$root/artifacts/site")
  b+=("$(echo "$r" | field promptSeconds)"); g+=("$(echo "$r" | field guestSeconds)")
  echo "  native ${n[-1]} s (interp ${ni[-1]} s)"
  if [ -n "${REFERENCE_WEMU:-}" ]; then
    rn+=("$(node "$root/bench/run-guest.js" -- "$REFERENCE_WEMU" "${wemu_cmd[@]:1}" | field bootSeconds)")
    echo "  reference native ${rn[-1]} s"
  fi
  echo "  browser:   $(echo "$r" | phases)"
  sn+=("$(node "$root/bench/run-guest.js" --poke -- "$root/wemu" -incoming "file:$snap" | field bootSeconds)")
  rs=$(node "$root/bench/browser-boot.mjs" "$root/artifacts/site" --query "args=-incoming $snap_name" --poke)
  sb+=("$(echo "$rs" | field promptSeconds)"); sa+=("$(echo "$rs" | field afterRuntimeSeconds)")
  echo "  resume: native ${sn[-1]} s; browser ${sb[-1]} s from navigation, ${sa[-1]} s after the runtime; $(echo "$rs" | phases); load $(echo "$rs" | field resumeDetail)"
  if [ -n "${REFERENCE_SITE:-}" ]; then
    rr=$(node "$root/bench/browser-boot.mjs" "$REFERENCE_SITE")
    rb+=("$(echo "$rr" | field promptSeconds)")
    echo "  reference: $(echo "$rr" | phases)"
  fi
done
nm=$(printf '%s\n' "${n[@]}" | median); nim=$(printf '%s\n' "${ni[@]}" | median); bm=$(printf '%s\n' "${b[@]}" | median); gm=$(printf '%s\n' "${g[@]}" | median)
echo "boot to prompt (median of $runs): native $nm s (interp $nim s), browser $bm s (guest part $gm s)"
echo "ratio browser/native $(awk "BEGIN{printf \"%.2f\", $bm/$nm}") (browser/native interp $(awk "BEGIN{printf \"%.2f\", $bm/$nim}"))"
echo "resume to a live prompt (median of $runs): native $(printf '%s\n' "${sn[@]}" | median) s, browser $(printf '%s\n' "${sb[@]}" | median) s from navigation, $(printf '%s\n' "${sa[@]}" | median) s after the runtime (cold boot $bm s)"
if [ -n "${REFERENCE_SITE:-}" ]; then
  rm_=$(printf '%s\n' "${rb[@]}" | median)
  echo "reference site $REFERENCE_SITE: browser $rm_ s, ratio reference/native $(awk "BEGIN{printf \"%.2f\", $rm_/$nm}")"
fi
[ -z "${REFERENCE_WEMU:-}" ] || echo "reference native (median of $runs): $(printf '%s\n' "${rn[@]}" | median) s"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

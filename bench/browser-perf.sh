#!/usr/bin/env bash
# Where the page's generated WebAssembly spends its time, instruction by instruction: Linux perf (software clock,
# the whole headless Chromium) over one page boot (bench/browser-boot.mjs, QUERY passed as its --query), with V8
# writing its compiled code for perf (--js-flags=--perf-prof, `perf inject --jit`). Prints the hottest symbols, then
# the hottest instructions of the hottest WebAssembly function (for the RISC-V page: the interpreter in wasm,
# RiscVWasmInterpreter; a sample lands on the instruction after the one that waited). Needs perf (linux-perf) and
# perf_event_paranoid <= 2. The data stays in artifacts/browser-perf/ (perf report -i .../perf.jit.data).
# usage: [QUERY="args=..."] bench/browser-perf.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
command -v perf >/dev/null || { echo "bench: install linux-perf" >&2; exit 1; }
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
out="$root/artifacts/browser-perf"
rm -rf "$out"; mkdir -p "$out"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# (V8 writes its jit-PID.dump files into the working directory)
(cd "$out" && CHROMIUM_FLAGS="--js-flags=--perf-prof" perf record -q -e cpu-clock -F 2000 -k mono -o "$out/perf.data" -- \
  node "$root/bench/browser-boot.mjs" "$root/artifacts/site" ${QUERY:+--query "$QUERY"} > "$out/boot.json")
echo "page: prompt $(field promptSeconds < "$out/boot.json") s, guest $(field guestSeconds < "$out/boot.json") s"
(cd "$out" && perf inject --jit -i perf.data -o perf.jit.data > /dev/null 2>&1)
# (through files: with pipefail, a head that stops reading early would fail the script)
perf report -i "$out/perf.jit.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' > "$out/report.txt" || true
sed -n 1,15p "$out/report.txt"
hot=$(grep -m1 'wasm-function' "$out/report.txt" | awk '{print $2, $4}' || true)
if [ -n "$hot" ]; then
  set -- $hot
  echo "== the hottest instructions of $2 ($1; percent of its samples)"
  perf annotate -i "$out/perf.jit.data" --stdio --dsos "$out/$1" "$2" 2>/dev/null | grep -E '^ +[0-9]+\.[0-9]+ +:' | sort -rn > "$out/annotate.txt" || true
  sed -n 1,30p "$out/annotate.txt"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

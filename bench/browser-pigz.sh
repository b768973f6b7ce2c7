#!/usr/bin/env bash
# The seed's benchmark (bench/pigz.sh) in the page: MB (default 10) million bytes of random data in
# the x86_64 guest's tmpfs, then `time sh -c 'pigz -p 1 -n -c /tmp/data | md5sum'`, timed inside the
# guest (BusyBox `time`), in one run, one after the other:
#   page JIT     the default page, ?arch=x86_64 (the x86 translator on the WebAssembly backend), in
#                headless Chromium through bench/browser-boot.mjs
#   page interp  the same page with ?args=-accel interp (slow: ~2.3 G guest instructions for 10 MB)
#   native       ./wemu x86_64 -m 256M -nographic (the x86-64 JIT; -d stats,jit as bench/pigz.sh)
#   QEMU         qemu-system-x86_64 -M microvm, TCG, exactly as bench/pigz.sh runs it
# Prints each guest time, the page JIT's pigz step by the host's clock as well, the page's wall time for the
# whole command (data and pigz, measured by the host) with its guest instructions/s, the ratios, the machine's CPU and the load average before each.
# The data is random on each side, so the md5s differ; each must print one (pigz ran to its end).
# SKIP_INTERP=1 leaves out the page's interpreter; INTERP_TIMEOUT (seconds, default 3600) bounds it.
# usage: [SKIP_INTERP=1] bench/browser-pigz.sh [MB]   (MB may be a fraction: 0.5 = 500,000 bytes)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/x86_64"
mb=${1:-10}
[[ "$mb" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "usage: bench/browser-pigz.sh [MB]" >&2; exit 2; }
bytes=$(awk "BEGIN{printf \"%d\", $mb * 1000000}")
command -v qemu-system-x86_64 >/dev/null || { echo "bench: install qemu-system-x86" >&2; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "bench: install chromium (or set CHROMIUM)" >&2; exit 1; }
khz=$("$root/bench/host-tsc-khz.sh")
"$root/wemu" --version >/dev/null                        # build once, outside the timings
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site"
site="$root/artifacts/site"
# (the TIMEMARK lines let the page's harness time the pigz step by the host's clock too, as a check of the guest's
# clock. The page sees a line when the worker's slice that printed it ends: ~25 ms at most since session 24, and up
# to 0.7 s before, which made the host's clock read 0.3-0.5 s short of the guest's; docs/PERFORMANCE.md)
workload="head -c $bytes /dev/urandom > /tmp/data; echo TIMEMARK''1; time sh -c 'pigz -p 1 -n -c /tmp/data | md5sum'; echo TIMEMARK''2"

# From a run's JSON (browser-boot.mjs or run-guest.js): the guest's `real` time, or "none" when the
# run failed or pigz | md5sum printed no md5.
secs() { node -e "let r={}; try { r=JSON.parse(require('fs').readFileSync(0,'utf8')) } catch {}
  const o=r.workOutput||''; const m=o.match(/real\s+(\d+)m\s*([\d.]+)s/);
  console.log(m && /^[0-9a-f]{32}  -/m.test(o) ? (60*+m[1] + +m[2]).toFixed(2) : 'none')"; }
# The page's pigz step by the host's clock (between the TIMEMARK lines), or "none".
wall() { node -e "let r={}; try { r=JSON.parse(require('fs').readFileSync(0,'utf8')) } catch {}
  const m=r.marks||{}; console.log(m[1] != null && m[2] != null ? (m[2] - m[1]).toFixed(2) : 'none')"; }
page_info() { node -e "let r={}; try { r=JSON.parse(require('fs').readFileSync(0,'utf8')) } catch {}
  if (r.workloadSeconds == null) { console.log('(no result)'); process.exit(0); }
  const j=r.after&&r.after.jit;
  console.log('whole command', r.workloadSeconds.toFixed(2), 's wall (host),', (r.workloadInstructions/1e6).toFixed(0), 'M instructions,',
    (r.workloadInstructions/r.workloadSeconds/1e6).toFixed(0), 'M/s; boot (guest part)', r.guestSeconds.toFixed(2), 's' +
    (j ? '; jit: ' + j.blocksCompiled + ' blocks, compile ' + j.compileMs.toFixed(0) + ' ms, ' + (j.compiledInstructions/1e6).toFixed(0) +
      ' M compiled, ' + (j.coldInstructions/1e6).toFixed(0) + ' M cold (compile: translator ' + (j.frontEndMs||0).toFixed(0) +
      ' ms, IR passes ' + (j.passMs||0).toFixed(0) + ' ms, the host loading modules ' + (j.loadMs||0).toFixed(0) + ' ms)' : ''))"; }
stat_line() { node -e "let r={}; try { r=JSON.parse(require('fs').readFileSync(0,'utf8')) } catch {}
  console.log(((r.stderr||'').match(/$1: .*/)||['(no $1 line)'])[0])"; }
ratio() { if [ "$1" = none ] || [ "$2" = none ]; then echo n/a; else awk "BEGIN{printf \"%.2f\", $1/$2}"; fi; }
load() { echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; }
page() { node "$root/bench/browser-boot.mjs" "$site" --workload "$workload" "$@" || echo '{}'; }

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -1)"
echo "pigz -p 1 -n -c on $bytes bytes of random data (guest time)"
"$root/bench/host-costs.sh"

echo "page JIT:    $(load)"
pj=$(page --query "arch=x86_64"); pjs=$(echo "$pj" | secs); pjw=$(echo "$pj" | wall)
echo "  $pjs s (host's clock: $pjw s); $(echo "$pj" | page_info)"

pis=none
if [ -z "${SKIP_INTERP:-}" ]; then
  echo "page interp: $(load)"
  pi=$(page --query "arch=x86_64&args=-accel interp" --workload-timeout "${INTERP_TIMEOUT:-3600}"); pis=$(echo "$pi" | secs)
  echo "  $pis s; $(echo "$pi" | page_info)"
fi

echo "native Wemu: $(load)"
w=$(node "$root/bench/run-guest.js" --workload "$workload" -- "$root/wemu" x86_64 -m 256M -nographic -d stats,jit || echo '{}')
ws=$(echo "$w" | secs)
echo "  $ws s; $(echo "$w" | stat_line stats)"
echo "  $(echo "$w" | stat_line jit)"

echo "QEMU TCG:    $(load)"
q=$(node "$root/bench/run-guest.js" --workload "$workload" -- qemu-system-x86_64 -M microvm -cpu qemu64 -m 256M -nographic \
  -no-reboot -kernel "$img/bzImage" -initrd "$img/initramfs.cpio.gz" -append "console=ttyS0 tsc_early_khz=$khz" || echo '{}')
qs=$(echo "$q" | secs)
echo "  $qs s"

echo "pigz -p 1, $mb MB: page JIT $pjs s (host's clock $pjw s), page interp $pis s, native Wemu $ws s, QEMU $qs s"
echo "ratios: page interp/JIT (JIT speedup) $(ratio "$pis" "$pjs"), page JIT/native Wemu $(ratio "$pjs" "$ws") (host's clock $(ratio "$pjw" "$ws")), page JIT/QEMU $(ratio "$pjs" "$qs")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

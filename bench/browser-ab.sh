#!/usr/bin/env bash
# A/B of the page between two builds, in one run: the site built from git revision BASE (in a temporary
# worktree) and the current tree's, alternating N times (default 3) on the same page query and workload,
# so load and thermal drift fall on both alike. Default: the x86_64 guest's pigz step of
# bench/browser-pigz.sh. Prints, per run: the load average before it, the guest's `real` time of the
# workload's timed part (the median when it times several), the page's wall time for the whole command, and the JIT's exits
# (chained, untranslated, stop, slow path; after the ";" the chained exits that came back to the host by why:
# budget spent, target not in the jump cache, old stamp); then the medians.
# usage: bench/browser-ab.sh BASE [N] [--query STRING] [--workload CMD]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: bench/browser-ab.sh BASE [N] [--query STRING] [--workload CMD]" >&2; exit 2; }
base=$1; shift
runs=3
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
query="arch=x86_64"
workload="head -c 10000000 /dev/urandom > /tmp/data; time sh -c 'pigz -p 1 -n -c /tmp/data | md5sum'"
while [ $# -gt 0 ]; do
  case "$1" in
    --query) query=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
rev=$(git -C "$root" rev-parse --verify "$base^{commit}") || { echo "bench: no revision $base" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/tree" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add --detach "$tmp/tree" "$rev" >/dev/null 2>&1
ln -s "$root/node_modules" "$tmp/tree/node_modules"
echo "building the site of ${rev:0:10} (A) and of the working tree (B)..."
"$tmp/tree/src/Wemu.Web/build-site.sh" "$tmp/site-a" >/dev/null
"$root/src/Wemu.Web/build-site.sh" "$root/artifacts/site" >/dev/null
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
echo "query: $query; workload: $workload"
results="$tmp/results"
for i in $(seq "$runs"); do
  for side in A B; do
    site=$([ $side = A ] && echo "$tmp/site-a" || echo "$root/artifacts/site")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    node "$root/bench/browser-boot.mjs" "$site" --query "$query" --workload "$workload" 2>/dev/null \
      | node -e "let r={}; try { r=JSON.parse(require('fs').readFileSync(0,'utf8')) } catch {}
        const t=[...(r.workOutput||'').matchAll(/real\s+(\d+)m\s*([\d.]+)s/g)].map(m => 60*m[1] + +m[2]).sort((x, y) => x - y);
        const j=(r.after||{}).jit||{};
        const real=t.length ? ((t[(t.length-1)>>1] + t[t.length>>1]) / 2).toFixed(2) : 'none', whole=r.workloadSeconds!=null ? r.workloadSeconds.toFixed(2) : 'none';
        console.log('$side', real, whole, (j.exits||'-') + ';' + (j.chainReturns||'-'), '$load')" >> "$results"
    tail -1 "$results" | awk '{printf "%s run '"$i"': real %s s, whole command %s s, exits %s (load before %s %s %s)\n", $1, $2, $3, $4, $5, $6, $7}'
  done
done
median() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%.2f", (v[int((NR+1)/2)]+v[int(NR/2)+1])/2; else printf "none"}'; }
for side in A B; do
  real=$(awk -v s=$side '$1==s && $2!="none" {print $2}' "$results" | median)
  whole=$(awk -v s=$side '$1==s && $3!="none" {print $3}' "$results" | median)
  echo "$side median: real $real s, whole command $whole s"
done

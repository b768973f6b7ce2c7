#!/usr/bin/env bash
# A/B of the native CLI between two builds, in one run: `./wemu` built from git revision BASE (in a
# temporary worktree) and the current tree's, alternating N times (default 3). Each run boots the x86_64
# guest once, writes 10,000,000 bytes of random data to tmpfs and times `pigz -p 1 -n -c FILE | md5sum`
# five times (guest time), so start-up and the first compiles fall outside the timings. Prints, per run,
# the load average before it and the five times; then each build's median over all its timings.
# usage: bench/native-ab.sh BASE [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: bench/native-ab.sh BASE [N]" >&2; exit 2; }
rev=$(git -C "$root" rev-parse --verify "$1^{commit}") || { echo "bench: no revision $1" >&2; exit 2; }
runs=${2:-3}
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/tree" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add --detach "$tmp/tree" "$rev" >/dev/null 2>&1
echo "building the CLI of ${rev:0:10} (A) and of the working tree (B)..."
"$tmp/tree/wemu" --version >/dev/null
"$root/wemu" --version >/dev/null
workload="head -c 10000000 /dev/urandom > /tmp/data; for i in 1 2 3 4 5; do time sh -c 'pigz -p 1 -n -c /tmp/data | md5sum'; done"
times() {
  node "$root/bench/run-guest.js" --workload "$workload" -- "$1" x86_64 -m 256M -nographic |
    node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log([...r.workOutput.matchAll(/real\s+(\d+)m\s*([\d.]+)s/g)].map(m=>(60*+m[1] + +m[2]).toFixed(2)).join(' '))"
}
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
all_a=() all_b=()
for ((r = 1; r <= runs; r++)); do
  load=$(cut -d' ' -f1-3 /proc/loadavg); a=$(times "$tmp/tree/wemu"); echo "A run $r: $a (load before $load)"
  load=$(cut -d' ' -f1-3 /proc/loadavg); b=$(times "$root/wemu"); echo "B run $r: $b (load before $load)"
  all_a+=($a) all_b+=($b)
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "A median: $(median "${all_a[@]}") s; B median: $(median "${all_b[@]}") s (pigz -p 1, 10 MB, guest time)"

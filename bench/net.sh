#!/usr/bin/env bash
# TCP throughput through the user-mode network, RISC-V guest: Wemu's NAT (-netdev user, virtio-net)
# beside qemu-system-riscv64's slirp (-netdev user, the same virtio-mmio NIC), same images, one run;
# then Wemu through the WebSocket relay (`wemu relay`, the same NAT behind a WebSocket on the host's
# loopback; the guest's NIC is -netdev websocket).
# Host -> guest: the guest wgets MB megabytes from an HTTP server on the host's 127.0.0.1 (through
# 10.0.2.2) to /dev/null; guest -> host: the guest POSTs MB megabytes of text (wget --post-file, which
# stops at a NUL byte) to the same server, which counts them (the script checks the count). Both timed inside the guest (`time`).
# usage: bench/net.sh [MB]   (default 20)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mb=${1:-20}
[[ "$mb" =~ ^[0-9]+$ ]] || { echo "usage: bench/net.sh [MB]" >&2; exit 2; }
port_file=$(mktemp); posts=$(mktemp); relay_log=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; [ -z "${relay:-}" ] || kill "$relay" 2>/dev/null || true; rm -f "$port_file" "$posts" "$relay_log"' EXIT
# the host side: GET /data sends MB MB, POST counts what it gets (printed as "post N" on stderr)
node -e '
const http = require("http"); const mb = +process.argv[1]; const chunk = Buffer.alloc(1 << 20, 0x61);
const s = http.createServer((req, res) => {
  if (req.method === "POST") { let n = 0; req.on("data", d => n += d.length); req.on("end", () => { console.error("post " + n); res.end("ok\n"); }); return; }
  res.writeHead(200, { "Content-Length": mb << 20 }); let left = mb;
  const more = () => { while (left > 0) { left--; if (!res.write(chunk)) { res.once("drain", more); return; } } res.end(); }; more();
});
s.listen(0, "127.0.0.1", () => require("fs").writeFileSync(process.argv[2], String(s.address().port)));
' "$mb" "$port_file" 2>>"$posts" &
server=$!
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
# the images bring eth0 up by DHCP at boot (in the background); wait for the lease (resolv.conf is written last)
dhcp='n=0; until [ -s /etc/resolv.conf ] || [ $n -ge 300 ]; do sleep 0.1; n=$((n+1)); done'
work="$dhcp; yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c $((mb << 20)) > /tmp/up; time wget -q -O /dev/null http://10.0.2.2:$port/data || echo WGET\"\"FAIL; time wget -q -O /dev/null --post-file=/tmp/up http://10.0.2.2:$port/up || echo WGET\"\"FAIL"
net=(-netdev user,id=n0 -device virtio-net-device,netdev=n0)
reals() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const m=[...r.workOutput.matchAll(/real\s+(\d+)m\s*([\d.]+)s/g)].map(x=>60*+x[1]+ +x[2]); if (m.length !== 2 || /WGETFAIL/.test(r.workOutput)) { console.error('bench: a transfer failed or was not timed\n' + r.workOutput.slice(-1500)); process.exit(1); } console.log(m.join(' '))"; }
echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); $mb MB each way"
read -r wd wu < <(node "$root/bench/run-guest.js" --workload "$work" -- "${wemu_cmd[@]}" "${net[@]}" | reals)
read -r qd qu < <(node "$root/bench/run-guest.js" --workload "$work" -- "${qemu_cmd[@]}" "${net[@]}" | reals)
# the relay on any free loopback port; it says where it listens
"$root/wemu" relay --port 0 >"$relay_log" 2>&1 &
relay=$!
for _ in $(seq 100); do grep -q "listening on ws://" "$relay_log" && break; sleep 0.1; done
relay_url=$(grep -o "ws://[^ ]*" "$relay_log" | head -1)
[ -n "$relay_url" ] || { echo "bench: wemu relay did not start: $(cat "$relay_log")" >&2; exit 1; }
read -r rd ru < <(node "$root/bench/run-guest.js" --workload "$work" -- "${wemu_cmd[@]}" -netdev "websocket,id=n0,url=$relay_url" -device virtio-net-device,netdev=n0 | reals)
sleep 0.5
want=$((mb << 20))
[ "$(grep -c "^post $want\$" "$posts")" = 3 ] || { echo "bench: the host did not get $want bytes from each guest: $(tr '\n' ' ' < "$posts")" >&2; exit 1; }
rate() { awk "BEGIN{printf \"%.1f MB/s\", $mb/$1}"; }
echo "host -> guest (wget): wemu $wd s ($(rate "$wd")), qemu $qd s ($(rate "$qd")), wemu/qemu time $(awk "BEGIN{printf \"%.2f\", $wd/$qd}")"
echo "guest -> host (POST): wemu $wu s ($(rate "$wu")), qemu $qu s ($(rate "$qu")), wemu/qemu time $(awk "BEGIN{printf \"%.2f\", $wu/$qu}")"
echo "through wemu relay:   host -> guest $rd s ($(rate "$rd")), guest -> host $ru s ($(rate "$ru")); relay/-netdev user time $(awk "BEGIN{printf \"%.2f / %.2f\", $rd/$wd, $ru/$wu}")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

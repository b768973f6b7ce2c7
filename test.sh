#!/usr/bin/env bash
# The one test command: installs what the suites need, builds, runs every suite.
# Last line: "N passed, N failed[, N skipped]".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

# Debian packages: cross assembler for instruction tests, QEMU as the reference,
# e2fsprogs to inspect guest-written disks, chromium for the browser test (with Node.js and npm,
# which CI machines already have; Debian's are a fallback).
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v riscv64-linux-gnu-as >/dev/null || need+=(binutils-riscv64-linux-gnu)
command -v qemu-system-riscv64 >/dev/null || need+=(qemu-system-misc)
command -v debugfs >/dev/null || need+=(e2fsprogs)
command -v dtc >/dev/null || need+=(device-tree-compiler)
command -v iasl >/dev/null || need+=(acpica-tools)   # disassembles the x86 ACPI tables in tests
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)   # the reference for the x86 devices and images
command -v gcc >/dev/null || need+=(gcc)   # builds the host-CPU oracles of the x86 tests
command -v script >/dev/null || need+=(bsdutils)   # a pseudo-terminal for the CLI terminal test
command -v afl-fuzz >/dev/null || need+=(afl++)    # the fuzzer (tests/Wemu.Fuzz/run.sh)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >/dev/null && $sudo_cmd apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "test.sh: could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

# Reference material from Debian, cached in artifacts/references/: QEMU's x86 TCG tests (qemu source
# package) and the stock linux-image-amd64 kernel with a few modules. Without them those tests fail.
tests/references/fetch.sh || echo "test.sh: could not fetch the references (X86QemuTcgTests and X86DebianKernelTests will fail)"

echo "test.sh: building"
if ! dotnet build Wemu.slnx -c Release --nologo -v q 2>&1 | tail -n 20; then
  echo "0 passed, 1 failed"; exit 1
fi
# the ./wemu launcher's own build (ahead-of-time compiled on x86-64 Linux; CliLauncherTests boot it)
./wemu --version >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
dotnet test Wemu.slnx -c Release --no-build --nologo --logger "console;verbosity=normal" 2>&1 | tee "$log" \
  | awk '/^[ \t]+(Failed|Passed|Skipped) |Error Message|Wemu fails|Assert|^(Passed|Failed)!/ { print
      # the message, up to 25 lines of it (for a boot test, the guest output tail), not its stack trace
      if ($0 ~ /Error Message/) for (i = 0; i < 25 && (getline line) > 0 && line !~ /^ *Stack Trace:/; i++) print line }' \
  | grep -v "^\s*Passed " || true
status=${PIPESTATUS[0]}
passed=$(grep -Eo "Passed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo "Failed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo "Skipped: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

# Fuzzing (tests/Wemu.Fuzz): afl++ with SharpFuzz coverage, ~8 s per target from the committed
# seeds; each target counts as one test, failed if any input crashed it.
echo "test.sh: fuzzing"
for target in ninep virtio-blk virtio-9p virtio-rng virtio-net elf loader cmdline net http; do
  if tests/Wemu.Fuzz/run.sh "$target" "${FUZZ_SECONDS:-8}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

# The browser host: build the site (npm ci for xterm.js and playwright-core, dotnet publish of
# src/Wemu.Web), then boot it in headless Chromium (tests/Wemu.Web.Tests). Its counts join the total.
echo "test.sh: building the web site"
if src/Wemu.Web/build-site.sh "$root/artifacts/site"; then
  tap=$(mktemp)
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" tests/Wemu.Web.Tests/
  web_status=$?
  web_passed=$(grep -Eo "^# pass [0-9]+" "$tap" | awk '{print $3}'); web_passed=${web_passed:-0}
  web_failed=$(grep -Eo "^# fail [0-9]+" "$tap" | awk '{print $3}'); web_failed=${web_failed:-0}
  rm -f "$tap"
  if [ "$web_status" -ne 0 ] && [ "$web_failed" -eq 0 ]; then web_failed=1; fi
  echo "test.sh: browser tests: $web_passed passed, $web_failed failed (screenshots in artifacts/test-results/)"
  passed=$((passed + web_passed)); failed=$((failed + web_failed))
else
  echo "test.sh: the web site did not build"
  failed=$((failed + 1))
fi
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/usr/bin/env bash
# Prints the host's TSC rate in kHz (= the guest's TSC rate under QEMU's TCG without -icount), which
# the x86 benches pass to QEMU as tsc_early_khz= (see images/README.md). Needs gcc.
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat >"$work/tsckhz.c" <<'C'
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>
int main(void) {
    struct timespec a, b, d = {0, 200000000};
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    unsigned long long t0 = __rdtsc();
    nanosleep(&d, 0);
    unsigned long long t1 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    printf("%.0f\n", (double)(t1 - t0) / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) * 1e6);
    return 0;
}
C
gcc -O2 -o "$work/tsckhz" "$work/tsckhz.c"
"$work/tsckhz"

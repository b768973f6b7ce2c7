#!/usr/bin/env bash
# Prints what entering the host's kernel costs, in one line: a system call (getppid), a first touch of a 4 KiB
# page (a minor fault, 256 MiB of them with huge pages refused), and an mprotect. The page's start and its
# compiles lean on these (V8 commits, protects and faults in code and zone memory; the guest's RAM is faulted in
# 4 KiB at a time, where natively it takes 2 MiB pages): on 2026-12-05's fresh machine they cost ~1 µs, ~10 µs and
# ~6 µs, several times a bare-metal Linux's, and the page's figures moved with them (docs/PERFORMANCE.md).
# Needs gcc. usage: bench/host-costs.sh
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat >"$work/costs.c" <<'C'
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
    const int calls = 200000;
    double t0 = now();
    for (int i = 0; i < calls; i++) syscall(SYS_getppid);
    double syscall_ns = (now() - t0) * 1e9 / calls;
    size_t n = (size_t)256 << 20;
    char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, n, MADV_NOHUGEPAGE);
    t0 = now();
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    double fault_ns = (now() - t0) * 1e9 / (n / 4096);
    t0 = now();
    for (int i = 0; i < calls / 2; i++) { mprotect(p, 4096, PROT_READ); mprotect(p, 4096, PROT_READ | PROT_WRITE); }
    double mprotect_ns = (now() - t0) * 1e9 / calls;
    printf("host kernel entry: system call %.0f ns, page fault %.0f ns, mprotect %.0f ns\n", syscall_ns, fault_ns, mprotect_ns);
    return 0;
}
C
gcc -O2 -o "$work/costs" "$work/costs.c"
"$work/costs"

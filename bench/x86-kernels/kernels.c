// Micro-kernels for the emulators' cost per kind of work (bench/x86-kernels.sh): each loop runs N steps and
// prints its nanoseconds per step, by the clock of wherever it runs (the guest's CLOCK_MONOTONIC in a guest).
//   chase   dependent loads: i = next[i] over a random cycle of 4,096 entries (16 KiB, cache-resident)
//   stream  independent loads: a sum over the same array, 8 at a time
//   alu     a dependent chain of adds, shifts and xors on registers
//   call    a call and return of a small function that is not inlined
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES 4096
static unsigned next[ENTRIES];

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }

__attribute__((noinline)) static unsigned step(unsigned x) { return (x ^ (x >> 3)) + 0x9e3779b9u; }

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000000;
    unsigned seed = 12345, order[ENTRIES];
    for (unsigned i = 0; i < ENTRIES; i++) order[i] = i;
    for (unsigned i = ENTRIES - 1; i > 0; i--) { seed = seed * 1103515245u + 12345u; unsigned j = (seed >> 8) % (i + 1); unsigned t = order[i]; order[i] = order[j]; order[j] = t; }
    for (unsigned i = 0; i < ENTRIES; i++) next[order[i]] = order[(i + 1) % ENTRIES];
    volatile unsigned sink;
    double t0 = now();
    unsigned p = 0;
    for (long k = 0; k < n; k++) p = next[p];
    double t1 = now(); sink = p;
    unsigned long s = 0;
    for (long k = 0; k < n / 8; k++) { unsigned b = (unsigned)(k * 8) & (ENTRIES - 8); s += next[b] + next[b+1] + next[b+2] + next[b+3] + next[b+4] + next[b+5] + next[b+6] + next[b+7]; }
    double t2 = now(); sink = (unsigned)s;
    unsigned x = 1;
    for (long k = 0; k < n; k++) x = ((x << 1) + k) ^ (x >> 5);
    double t3 = now(); sink = x;
    unsigned y = 1;
    for (long k = 0; k < n / 4; k++) y = step(y);
    double t4 = now(); sink = y;
    (void)sink;
    printf("chase %.2f stream %.2f alu %.2f call %.2f\n", (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, (t4 - t3) / (n / 4));
    return 0;
}

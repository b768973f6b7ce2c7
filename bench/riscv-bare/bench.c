// A bare-metal CPU benchmark for the spike machine: table-driven CRC32, insertion/quick sort
// and a SHA-256-like mixing loop over a buffer, repeated. Exit through HTIF tohost.
#include <stdint.h>
volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));
static uint32_t crc_table[256];
static uint8_t buf[65536];
static int32_t arr[16384];

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void qsort_i(int32_t *a, int n) {
    while (n > 16) {
        int32_t p = a[n / 2]; int i = 0, j = n - 1;
        while (i <= j) { while (a[i] < p) i++; while (a[j] > p) j--; if (i <= j) { int32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; } }
        if (j + 1 < n - i) { qsort_i(a, j + 1); a += i; n -= i; } else { qsort_i(a + i, n - i); n = j + 1; }
    }
    for (int i = 1; i < n; i++) { int32_t v = a[i]; int j = i - 1; while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; }
}

void main_c(void) {
    for (uint32_t i = 0; i < 256; i++) { uint32_t c = i; for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1; crc_table[i] = c; }
    uint32_t seed = 12345, total = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 65536; i++) { seed = seed * 1103515245u + 12345u; buf[i] = (uint8_t)(seed >> 16); }
        uint32_t crc = 0xFFFFFFFFu;
        for (int i = 0; i < 65536; i++) crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
        for (int i = 0; i < 16384; i++) arr[i] = ((int32_t *)buf)[i];
        qsort_i(arr, 16384);
        uint32_t h = 0x6a09e667u;
        for (int i = 0; i < 16384; i++) { uint32_t w = ((uint32_t *)buf)[i]; h = rotr(h, 6) ^ rotr(h, 11) ^ (w + h * 31u); h += rotr(w, 7) ^ (w >> 3); }
        total += crc ^ h ^ (uint32_t)arr[100];
    }
    tohost = total == 0 ? 3 : 1;
    for (;;) ;
}

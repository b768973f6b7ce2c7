/* Reference vector generator for Wemu.Cpu.Float.SoftFloat.
 *
 * Runs the real RISC-V F/D instructions (under qemu-riscv64) for every
 * rounding mode and prints one line per vector:
 *     op rm a b c -> result flags
 * all in hex; unused operands are 0.  rm is the frm encoding (0..4, RISC-V
 * unprivileged spec 11.2), flags the fflags CSR (NV DZ OF UF NX).
 * Build and run with gen.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rngState = 0x9E3779B97F4A7C15ull;
static uint64_t Next(void)
{
    /* splitmix64: fixed seed so the vector files are reproducible. */
    uint64_t z = (rngState += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define SETUP "fsrm %[rm]\n\tfsflags zero\n\t"
#define DONE "\n\tfrflags %[f]\n\t"

/* ---- binary64 ---- */
#define D2(name, insn) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)c; \
    __asm__ volatile("fmv.d.x ft0,%[a]\n\tfmv.d.x ft1,%[b]\n\t" SETUP insn " ft2,ft0,ft1" DONE "fmv.x.d %[r],ft2" \
        : [r]"=r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a), [b]"r"(b) : "ft0","ft1","ft2"); \
    *fl = f; return r; }
#define D3(name, insn) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; \
    __asm__ volatile("fmv.d.x ft0,%[a]\n\tfmv.d.x ft1,%[b]\n\tfmv.d.x ft2,%[c]\n\t" SETUP insn " ft3,ft0,ft1,ft2" DONE "fmv.x.d %[r],ft3" \
        : [r]"=r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a), [b]"r"(b), [c]"r"(c) : "ft0","ft1","ft2","ft3"); \
    *fl = f; return r; }
/* float -> x register */
#define DX(name, insn, load) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)b; (void)c; \
    __asm__ volatile(load " ft0,%[a]\n\t" SETUP insn " %[r],ft0" DONE \
        : [r]"=&r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a) : "ft0"); \
    *fl = f; return r; }
/* float, float -> x register */
#define DXX(name, insn, load) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)c; \
    __asm__ volatile(load " ft0,%[a]\n\t" load " ft1,%[b]\n\t" SETUP insn " %[r],ft0,ft1" DONE \
        : [r]"=&r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a), [b]"r"(b) : "ft0","ft1"); \
    *fl = f; return r; }
/* float -> float (unary) */
#define D1(name, insn, load, store) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)b; (void)c; \
    __asm__ volatile(load " ft0,%[a]\n\t" SETUP insn " ft1,ft0" DONE store " %[r],ft1" \
        : [r]"=&r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a) : "ft0","ft1"); \
    *fl = f; return r; }
/* x register -> float */
#define XD(name, insn, store) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)b; (void)c; \
    __asm__ volatile(SETUP insn " ft0,%[a]" DONE store " %[r],ft0" \
        : [r]"=&r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a) : "ft0"); \
    *fl = f; return r; }

D2(FaddD, "fadd.d") D2(FsubD, "fsub.d") D2(FmulD, "fmul.d") D2(FdivD, "fdiv.d")
D2(FminD, "fmin.d") D2(FmaxD, "fmax.d")
D3(FmaddD, "fmadd.d") D3(FmsubD, "fmsub.d") D3(FnmaddD, "fnmadd.d") D3(FnmsubD, "fnmsub.d")
D1(FsqrtD, "fsqrt.d", "fmv.d.x", "fmv.x.d")
D1(FcvtSD, "fcvt.s.d", "fmv.d.x", "fmv.x.w")
DXX(FeqD, "feq.d", "fmv.d.x") DXX(FltD, "flt.d", "fmv.d.x") DXX(FleD, "fle.d", "fmv.d.x")
DX(FclassD, "fclass.d", "fmv.d.x")
DX(FcvtWD, "fcvt.w.d", "fmv.d.x") DX(FcvtWuD, "fcvt.wu.d", "fmv.d.x")
DX(FcvtLD, "fcvt.l.d", "fmv.d.x") DX(FcvtLuD, "fcvt.lu.d", "fmv.d.x")
XD(FcvtDW, "fcvt.d.w", "fmv.x.d") XD(FcvtDWu, "fcvt.d.wu", "fmv.x.d")
XD(FcvtDL, "fcvt.d.l", "fmv.x.d") XD(FcvtDLu, "fcvt.d.lu", "fmv.x.d")

/* ---- binary32 ---- */
#define S2(name, insn) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; (void)c; \
    __asm__ volatile("fmv.w.x ft0,%[a]\n\tfmv.w.x ft1,%[b]\n\t" SETUP insn " ft2,ft0,ft1" DONE "fmv.x.w %[r],ft2" \
        : [r]"=r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a), [b]"r"(b) : "ft0","ft1","ft2"); \
    *fl = f; return r; }
#define S3(name, insn) \
static uint64_t name(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl) { \
    uint64_t r; unsigned f; \
    __asm__ volatile("fmv.w.x ft0,%[a]\n\tfmv.w.x ft1,%[b]\n\tfmv.w.x ft2,%[c]\n\t" SETUP insn " ft3,ft0,ft1,ft2" DONE "fmv.x.w %[r],ft3" \
        : [r]"=r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a), [b]"r"(b), [c]"r"(c) : "ft0","ft1","ft2","ft3"); \
    *fl = f; return r; }
S2(FaddS, "fadd.s") S2(FsubS, "fsub.s") S2(FmulS, "fmul.s") S2(FdivS, "fdiv.s")
S2(FminS, "fmin.s") S2(FmaxS, "fmax.s")
S3(FmaddS, "fmadd.s") S3(FmsubS, "fmsub.s") S3(FnmaddS, "fnmadd.s") S3(FnmsubS, "fnmsub.s")
D1(FsqrtS, "fsqrt.s", "fmv.w.x", "fmv.x.w")
D1(FcvtDS, "fcvt.d.s", "fmv.w.x", "fmv.x.d")
DXX(FeqS, "feq.s", "fmv.w.x") DXX(FltS, "flt.s", "fmv.w.x") DXX(FleS, "fle.s", "fmv.w.x")
DX(FclassS, "fclass.s", "fmv.w.x")
DX(FcvtWS, "fcvt.w.s", "fmv.w.x") DX(FcvtWuS, "fcvt.wu.s", "fmv.w.x")
DX(FcvtLS, "fcvt.l.s", "fmv.w.x") DX(FcvtLuS, "fcvt.lu.s", "fmv.w.x")
XD(FcvtSW, "fcvt.s.w", "fmv.x.w") XD(FcvtSWu, "fcvt.s.wu", "fmv.x.w")
XD(FcvtSL, "fcvt.s.l", "fmv.x.w") XD(FcvtSLu, "fcvt.s.lu", "fmv.x.w")

/* NaN boxing (D spec 12.2): fmv.s (fsgnj.s rd, rs, rs) on an arbitrary
 * 64-bit register; an improperly boxed input reads as the canonical NaN. */
static uint64_t FmvSBox(int rm, uint64_t a, uint64_t b, uint64_t c, unsigned *fl)
{
    uint64_t r; unsigned f; (void)b; (void)c;
    __asm__ volatile("fmv.d.x ft0,%[a]\n\t" SETUP "fmv.s ft1,ft0" DONE "fmv.x.d %[r],ft1"
        : [r]"=&r"(r), [f]"=&r"(f) : [rm]"r"(rm), [a]"r"(a) : "ft0","ft1");
    *fl = f; return r;
}

typedef uint64_t (*OpFn)(int, uint64_t, uint64_t, uint64_t, unsigned *);

/* Result width in bits, for printing (32-bit results are truncated; the
 * hardware sign-extends them into the x/f register). */
static void Emit(const char *op, OpFn fn, int rm, uint64_t a, uint64_t b, uint64_t c, int resBits)
{
    unsigned f;
    uint64_t r = fn(rm, a, b, c, &f);
    if (resBits == 32)
        r &= 0xFFFFFFFFull;
    printf("%s %d %llx %llx %llx -> %llx %x\n", op, rm, (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)c, (unsigned long long)r, f);
}

/* ---- edge values ---- */
static const uint64_t EdgeD[] = {
    0x0000000000000000ull, 0x8000000000000000ull, /* +-0 */
    0x0000000000000001ull, 0x8000000000000001ull, /* +-min subnormal */
    0x0000000000000002ull, 0x0008000000000000ull, /* subnormals */
    0x000FFFFFFFFFFFFFull, 0x800FFFFFFFFFFFFFull, /* +-max subnormal */
    0x0010000000000000ull, 0x8010000000000000ull, /* +-min normal */
    0x0010000000000001ull, 0x001FFFFFFFFFFFFFull,
    0x3FF0000000000000ull, 0xBFF0000000000000ull, /* +-1 */
    0x3FF0000000000001ull, 0x3FEFFFFFFFFFFFFFull, 0xBFF0000000000001ull,
    0x3FF8000000000000ull, 0x4000000000000000ull, 0xC008000000000000ull, /* 1.5 2 -3 */
    0x3FE0000000000000ull, 0xBFE0000000000000ull, /* +-0.5 */
    0x3FD5555555555555ull, 0x3FE5555555555555ull, /* 1/3 2/3 */
    0x3CA0000000000000ull, 0x3CB0000000000000ull, 0x3CA8000000000000ull, /* 2^-53 2^-52 1.5*2^-53 */
    0x4330000000000000ull, 0x4330000000000001ull, 0x433FFFFFFFFFFFFFull, /* 2^52 */
    0x41DFFFFFFFC00000ull, 0x41E0000000000000ull, 0xC1E0000000000000ull, /* 2^31-1, 2^31, -2^31 */
    0x41DFFFFFFFE00000ull, 0xC1E0000000200000ull, 0x41E0000000100000ull, /* 2^31-0.5, -2^31-1, 2^31+0.5 */
    0x41EFFFFFFFE00000ull, 0x41F0000000000000ull, 0x41EFFFFFFFF00000ull, /* 2^32-1, 2^32, 2^32-0.5 */
    0x43DFFFFFFFFFFFFFull, 0x43E0000000000000ull, 0xC3E0000000000000ull, 0xC3E0000000000001ull, /* 2^63 */
    0x43EFFFFFFFFFFFFFull, 0x43F0000000000000ull, /* 2^64 */
    0xBFEFFFFFFFFFFFFFull, 0xBFD0000000000000ull, /* -0.999 -0.25 */
    0x3FF4000000000000ull, 0x4004000000000000ull, 0xBFF8000000000000ull, /* 1.25 2.5 -1.5 */
    0x5FE0000000000000ull, 0x2000000000000000ull, /* 2^511, 2^-511 */
    0x7FE0000000000000ull, 0x7FEFFFFFFFFFFFFFull, 0xFFEFFFFFFFFFFFFFull, /* 2^1023, +-max */
    0x7FF0000000000000ull, 0xFFF0000000000000ull, /* +-inf */
    0x7FF8000000000000ull, 0xFFF8000000000001ull, /* qNaN */
    0x7FF0000000000001ull, 0xFFF4000000000000ull, /* sNaN */
};
static const uint64_t EdgeS[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x00000002, 0x00400000,
    0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000, 0x00800001, 0x00FFFFFF,
    0x3F800000, 0xBF800000, 0x3F800001, 0x3F7FFFFF, 0xBF800001,
    0x3FC00000, 0x40000000, 0xC0400000, 0x3F000000, 0xBF000000,
    0x3EAAAAAB, 0x3F2AAAAB, 0x33800000, 0x34000000, 0x33C00000,
    0x4B000000, 0x4B000001, 0x4B7FFFFF,
    0x4EFFFFFF, 0x4F000000, 0xCF000000, 0xCF000001, 0x4F7FFFFF, 0x4F800000, 0x4F800001,
    0x5EFFFFFF, 0x5F000000, 0xDF000000, 0xDF000001, 0x5F7FFFFF, 0x5F800000,
    0xBF7FFFFF, 0xBE800000, 0x3FA00000, 0x40200000, 0xBFC00000,
    0x5F000000, 0x1F800000, 0x7F000000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0xFFA00000,
};
static const uint64_t EdgeI[] = {
    0, 1, 2, 3, 0x7F, 0xFFFFFF, 0x1000000, 0x1000001, 0x1000003, 0x7FFFFFFF, 0x80000000, 0x80000001,
    0xFFFFFFFF, 0xFFFFFFFE, 0x100000000ull, 0x1FFFFFFFFFFFFFull, 0x20000000000000ull, 0x20000000000001ull,
    0x20000000000003ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 0x8000000000000001ull,
    0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFEull, 0xFFFFFFFF80000000ull, 0xFFFFFFFFFF000001ull,
    0xFFE0000000000001ull, 0x00000000FFFFFF80ull, 0x0000000012345678ull, 0xFFFFFFFF7FFFFFC0ull,
    0xFFFFFFFF7FFFFFFFull, 0x7FFFFFFFFFFFFC00ull, 0x7FFFFFFFFFFFFE00ull, 0xFFFFFFFFFFFFF800ull,
};
#define COUNT(x) (int)(sizeof(x) / sizeof((x)[0]))

/* Random binary64 biased toward interesting exponents and mantissas with
 * runs of zeros or ones (ties, carries). */
static uint64_t RandMant(int bits)
{
    uint64_t m = Next();
    switch (Next() % 6) {
    case 0: m &= ~0ull << (Next() % bits); break;          /* trailing zeros */
    case 1: m |= (1ull << (Next() % bits)) - 1; break;       /* trailing ones */
    case 2: m = (m & ~0ull << (bits - 4)) | (1ull << (Next() % bits)); break;
    default: break;
    }
    return m & ((1ull << bits) - 1);
}
static int RandExp(int bias, int maxExp, int near)
{
    switch (Next() % 10) {
    case 0: return (int)(Next() % 3);                         /* subnormal / tiny */
    case 1: return maxExp - 1 - (int)(Next() % 3);            /* huge */
    case 2: return bias + 31 - 2 + (int)(Next() % 5);         /* near 2^31 / 2^32 */
    case 3: return bias + 63 - 2 + (int)(Next() % 5);         /* near 2^63 / 2^64 */
    case 4: case 5: return near < 0 ? bias - 4 + (int)(Next() % 8) : near - 3 + (int)(Next() % 7);
    case 6: return (int)(Next() % (unsigned)(maxExp + 1));    /* anything, also inf/NaN */
    default: return bias - 30 + (int)(Next() % 60);
    }
}
static uint64_t RandD(int near)
{
    int e = RandExp(1023, 2047, near);
    if (e < 0) e = 0;
    if (e > 2047) e = 2047;
    return (Next() & 0x8000000000000000ull) | ((uint64_t)e << 52) | RandMant(52);
}
static uint64_t RandS(int near)
{
    int e = RandExp(127, 255, near);
    if (e < 0) e = 0;
    if (e > 255) e = 255;
    return (Next() & 0x80000000ull) | ((uint64_t)e << 23) | RandMant(23);
}
static int ExpD(uint64_t x) { return (int)((x >> 52) & 0x7FF); }
static int ExpS(uint64_t x) { return (int)((x >> 23) & 0xFF); }

typedef struct { const char *name; OpFn fn; int arity; int rounds; int resBits; } Op;

/* Every input tuple is run in all rounding modes on consecutive lines, so
 * the compressed file stores each random tuple about once. */
static void EmitAllRm(const Op *op, uint64_t a, uint64_t b, uint64_t c)
{
    int rmCount = op->rounds ? 5 : 1;
    for (int rm = 0; rm < rmCount; rm++)
        Emit(op->name, op->fn, rm, a, b, c, op->resBits);
}

static void RunOps(const Op *ops, int nOps, const uint64_t *edge, int nEdge, int isD, int nRandom)
{
    for (int o = 0; o < nOps; o++) {
        const Op *op = &ops[o];
        if (op->arity == 1) {
            for (int i = 0; i < nEdge; i++)
                EmitAllRm(op, edge[i], 0, 0);
        } else if (op->arity == 2) {
            for (int i = 0; i < nEdge; i++)
                for (int j = 0; j < nEdge; j++)
                    EmitAllRm(op, edge[i], edge[j], 0);
        } else {
            /* Triples: a stride through the edge cube (denser for fmadd,
             * the others only differ by operand signs). */
            int stride = op->name[1] == 'm' && op->name[2] == 'a' ? 17 : 53;
            for (int i = 0; i < nEdge; i++)
                for (int j = 0; j < nEdge; j++)
                    for (int k = (i * 3 + j) % stride; k < nEdge; k += stride)
                        EmitAllRm(op, edge[i], edge[j], edge[k]);
        }
        for (int n = 0; n < nRandom; n++) {
            uint64_t a, b, c;
            if (isD) {
                a = RandD(-1);
                b = RandD(Next() % 2 ? ExpD(a) : -1);
                c = RandD(Next() % 2 ? (ExpD(a) + ExpD(b) - 1023) : -1);
            } else {
                a = RandS(-1);
                b = RandS(Next() % 2 ? ExpS(a) : -1);
                c = RandS(Next() % 2 ? (ExpS(a) + ExpS(b) - 127) : -1);
            }
            if (op->arity == 1 && Next() % 4 == 0)
                a &= isD ? ~0x8000000000000000ull : ~0x80000000ull; /* sqrt: more positives */
            EmitAllRm(op, a, op->arity > 1 ? b : 0, op->arity > 2 ? c : 0);
        }
    }
}

static void RunIntToFloat(const Op *ops, int nOps, int nRandom)
{
    for (int o = 0; o < nOps; o++)
    {
        for (int i = 0; i < COUNT(EdgeI); i++) {
            EmitAllRm(&ops[o], EdgeI[i], 0, 0);
            EmitAllRm(&ops[o], (uint64_t)-(int64_t)EdgeI[i], 0, 0);
        }
        for (int n = 0; n < nRandom; n++) {
            uint64_t v = Next() >> (Next() % 64);
            if (Next() % 2) v = (uint64_t)-(int64_t)v;
            /* 32-bit sources only read the low word */
            if (strstr(ops[o].name, "w")) v &= 0xFFFFFFFFull;
            EmitAllRm(&ops[o], v, 0, 0);
        }
    }
}

int main(void)
{
    static const Op opsD[] = {
        { "fadd.d", FaddD, 2, 1, 64 }, { "fsub.d", FsubD, 2, 1, 64 }, { "fmul.d", FmulD, 2, 1, 64 },
        { "fdiv.d", FdivD, 2, 1, 64 }, { "fsqrt.d", FsqrtD, 1, 1, 64 },
        { "fmadd.d", FmaddD, 3, 1, 64 }, { "fmsub.d", FmsubD, 3, 1, 64 },
        { "fnmadd.d", FnmaddD, 3, 1, 64 }, { "fnmsub.d", FnmsubD, 3, 1, 64 },
        { "fmin.d", FminD, 2, 0, 64 }, { "fmax.d", FmaxD, 2, 0, 64 },
        { "feq.d", FeqD, 2, 0, 64 }, { "flt.d", FltD, 2, 0, 64 }, { "fle.d", FleD, 2, 0, 64 },
        { "fclass.d", FclassD, 1, 0, 64 },
        { "fcvt.s.d", FcvtSD, 1, 1, 32 },
        { "fcvt.w.d", FcvtWD, 1, 1, 32 }, { "fcvt.wu.d", FcvtWuD, 1, 1, 32 },
        { "fcvt.l.d", FcvtLD, 1, 1, 64 }, { "fcvt.lu.d", FcvtLuD, 1, 1, 64 },
    };
    static const Op opsS[] = {
        { "fadd.s", FaddS, 2, 1, 32 }, { "fsub.s", FsubS, 2, 1, 32 }, { "fmul.s", FmulS, 2, 1, 32 },
        { "fdiv.s", FdivS, 2, 1, 32 }, { "fsqrt.s", FsqrtS, 1, 1, 32 },
        { "fmadd.s", FmaddS, 3, 1, 32 }, { "fmsub.s", FmsubS, 3, 1, 32 },
        { "fnmadd.s", FnmaddS, 3, 1, 32 }, { "fnmsub.s", FnmsubS, 3, 1, 32 },
        { "fmin.s", FminS, 2, 0, 32 }, { "fmax.s", FmaxS, 2, 0, 32 },
        { "feq.s", FeqS, 2, 0, 32 }, { "flt.s", FltS, 2, 0, 32 }, { "fle.s", FleS, 2, 0, 32 },
        { "fclass.s", FclassS, 1, 0, 32 },
        { "fcvt.d.s", FcvtDS, 1, 1, 64 },
        { "fcvt.w.s", FcvtWS, 1, 1, 32 }, { "fcvt.wu.s", FcvtWuS, 1, 1, 32 },
        { "fcvt.l.s", FcvtLS, 1, 1, 64 }, { "fcvt.lu.s", FcvtLuS, 1, 1, 64 },
    };
    static const Op opsI[] = {
        { "fcvt.d.w", FcvtDW, 1, 1, 64 }, { "fcvt.d.wu", FcvtDWu, 1, 1, 64 },
        { "fcvt.d.l", FcvtDL, 1, 1, 64 }, { "fcvt.d.lu", FcvtDLu, 1, 1, 64 },
        { "fcvt.s.w", FcvtSW, 1, 1, 32 }, { "fcvt.s.wu", FcvtSWu, 1, 1, 32 },
        { "fcvt.s.l", FcvtSL, 1, 1, 32 }, { "fcvt.s.lu", FcvtSLu, 1, 1, 32 },
    };
    RunOps(opsD, COUNT(opsD), EdgeD, COUNT(EdgeD), 1, 1200);
    RunOps(opsS, COUNT(opsS), EdgeS, COUNT(EdgeS), 0, 1200);
    RunIntToFloat(opsI, COUNT(opsI), 1000);
    {
        static const Op box = { "fmv.s.box", FmvSBox, 1, 0, 64 };
        static const uint64_t upper[] = { 0xFFFFFFFF00000000ull, 0x0000000000000000ull, 0xFFFFFFFE00000000ull,
            0x7FFFFFFF00000000ull, 0x8000000000000000ull, 0xFFFF000000000000ull };
        for (int u = 0; u < COUNT(upper); u++)
            for (int i = 0; i < COUNT(EdgeS); i++)
                EmitAllRm(&box, upper[u] | EdgeS[i], 0, 0);
        for (int n = 0; n < 200; n++)
            EmitAllRm(&box, Next(), 0, 0);
    }
    return 0;
}

/*
 * Host-CPU oracle for the x87/SSE tests (tests/Wemu.Tests/Cpu/X86/Fpu).
 * Compiled by HostFpuOracle at test time with gcc; reads one operation a line
 * from stdin:
 *
 *     op ctl a_hi a_lo b_hi b_lo
 *
 * (hex; x87 operands are 80-bit values as sign/exponent a_hi and significand
 * a_lo; SSE operands are raw binary32/binary64/integer bits in a_lo/b_lo; ctl
 * is the FCW for x87 ops and the MXCSR for SSE ops) and answers one line:
 *
 *     r_hi r_lo q_hi q_lo status eflags
 *
 * r is the (first) result, q the second result of FXTRACT/FSINCOS/FPTAN/FPREM's
 * unused, status is the FSW (x87, after FNINIT + FLDCW + the operation) or the
 * MXCSR (SSE, after LDMXCSR of ctl + the operation), eflags the ZF/PF/CF of
 * FCOMI/FUCOMI/COMISS/UCOMISS. Every operation runs the exact instruction.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { uint64_t lo; uint16_t hi; } __attribute__((packed)) f80;

static f80 A, B, R, Q;
static uint16_t SW, CW;
static uint32_t MX, MXOUT;
static uint64_t EF;

#define X87_BEGIN asm volatile("fninit; fldcw %0" :: "m"(CW))
#define X87_SW asm volatile("fnstsw %0" : "=m"(SW))

/* st0 = a (st1 = b when two) -> op -> SW -> store st0 to R (and st1 to Q) */
#define X87_2(insn) do { X87_BEGIN; \
    asm volatile("fldt %1; fldt %0; " insn "; fnstsw %2; fstpt %3; fstp %%st(0)" \
                 :: "m"(A), "m"(B), "m"(SW), "m"(R) : "memory", "st", "st(1)"); } while (0)
#define X87_2P(insn) do { X87_BEGIN; \
    asm volatile("fldt %1; fldt %0; " insn "; fnstsw %2; fstpt %3" \
                 :: "m"(A), "m"(B), "m"(SW), "m"(R) : "memory", "st", "st(1)"); } while (0)
#define X87_1(insn) do { X87_BEGIN; \
    asm volatile("fldt %0; " insn "; fnstsw %1; fstpt %2" \
                 :: "m"(A), "m"(SW), "m"(R) : "memory", "st"); } while (0)
#define X87_1TO2(insn) do { X87_BEGIN; \
    asm volatile("fldt %0; " insn "; fnstsw %1; fstpt %2; fstpt %3" \
                 :: "m"(A), "m"(SW), "m"(R), "m"(Q) : "memory", "st", "st(1)"); } while (0)

#define SSE_BEGIN asm volatile("ldmxcsr %0" :: "m"(MX))
#define SSE_END asm volatile("stmxcsr %0" : "=m"(MXOUT))

static uint64_t ra, rb;

#define SSE_2(insn) do { uint64_t x = ra, y = rb; SSE_BEGIN; \
    asm volatile("movq %0, %%xmm0; movq %1, %%xmm1; " insn " %%xmm1, %%xmm0; stmxcsr %2; movq %%xmm0, %0" \
                 : "+r"(x) : "r"(y), "m"(MXOUT) : "xmm0", "xmm1", "memory"); R.lo = x; } while (0)
#define SSE_2I(insn, imm) do { uint64_t x = ra, y = rb; SSE_BEGIN; \
    asm volatile("movq %0, %%xmm0; movq %1, %%xmm1; " insn " $" #imm ", %%xmm1, %%xmm0; stmxcsr %2; movq %%xmm0, %0" \
                 : "+r"(x) : "r"(y), "m"(MXOUT) : "xmm0", "xmm1", "memory"); R.lo = x; } while (0)
#define SSE_COMI(insn) do { uint64_t x = ra, y = rb, f; SSE_BEGIN; \
    asm volatile("movq %1, %%xmm0; movq %2, %%xmm1; " insn " %%xmm1, %%xmm0; pushfq; popq %0; stmxcsr %3" \
                 : "=r"(f) : "r"(x), "r"(y), "m"(MXOUT) : "xmm0", "xmm1", "memory", "cc"); EF = f & 0x45; } while (0)
/* xmm source -> general register */
#define SSE_TOGPR(insn, reg) do { uint64_t x = ra, r = 0; SSE_BEGIN; \
    asm volatile("movq %1, %%xmm1; " insn " %%xmm1, %" reg "0; stmxcsr %2" \
                 : "=r"(r) : "r"(x), "m"(MXOUT) : "xmm1", "memory"); R.lo = reg[0] == 'k' ? (uint32_t)r : r; } while (0)
/* general register source -> xmm (upper bits of xmm0 preset from b) */
#define SSE_FROMGPR(insn, reg) do { uint64_t x = ra, y = rb; SSE_BEGIN; \
    asm volatile("movq %1, %%xmm0; " insn " %" reg "0, %%xmm0; stmxcsr %2; movq %%xmm0, %1" \
                 : "+r"(x), "+r"(y) : "m"(MXOUT) : "xmm0", "memory"); R.lo = y; } while (0)

int main(void)
{
    char line[256];
    unsigned op, ctl, ahi, bhi;
    unsigned long long alo, blo;
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%x %x %x %llx %x %llx", &op, &ctl, &ahi, &alo, &bhi, &blo) != 6) {
            if (line[0] == '\n') { fflush(stdout); continue; }
            printf("bad\n");
            fflush(stdout);
            continue;
        }
        A.hi = ahi; A.lo = alo; B.hi = bhi; B.lo = blo;
        memset(&R, 0, sizeof R); memset(&Q, 0, sizeof Q);
        SW = 0; EF = 0; MXOUT = 0;
        CW = ctl; MX = ctl; ra = alo; rb = blo;
        int16_t i16; int32_t i32; int64_t i64; float f32; double f64;
        switch (op) {
        /* ---- x87 ---- */
        case 0x00: X87_2("fadd %%st(1), %%st"); break;
        case 0x01: X87_2("fsub %%st(1), %%st"); break;
        case 0x02: X87_2("fmul %%st(1), %%st"); break;
        case 0x03: X87_2("fdiv %%st(1), %%st"); break;
        case 0x04: X87_1("fsqrt"); break;
        case 0x05: X87_1("frndint"); break;
        case 0x06: X87_2("fcom %%st(1)"); break;
        case 0x07: X87_2("fucom %%st(1)"); break;
        case 0x08: X87_BEGIN; { uint64_t f;
            asm volatile("fldt %2; fldt %1; fcomi %%st(1), %%st; pushfq; popq %0; fnstsw %3; fstp %%st(0); fstp %%st(0)"
                         : "=r"(f) : "m"(A), "m"(B), "m"(SW) : "memory", "cc", "st", "st(1)"); EF = f & 0x45; } break;
        case 0x09: X87_BEGIN; { uint64_t f;
            asm volatile("fldt %2; fldt %1; fucomi %%st(1), %%st; pushfq; popq %0; fnstsw %3; fstp %%st(0); fstp %%st(0)"
                         : "=r"(f) : "m"(A), "m"(B), "m"(SW) : "memory", "cc", "st", "st(1)"); EF = f & 0x45; } break;
        case 0x0A: i16 = (int16_t)alo; X87_BEGIN; asm volatile("filds %0; fnstsw %1; fstpt %2" :: "m"(i16), "m"(SW), "m"(R) : "memory"); break;
        case 0x0B: i32 = (int32_t)alo; X87_BEGIN; asm volatile("fildl %0; fnstsw %1; fstpt %2" :: "m"(i32), "m"(SW), "m"(R) : "memory"); break;
        case 0x0C: i64 = (int64_t)alo; X87_BEGIN; asm volatile("fildll %0; fnstsw %1; fstpt %2" :: "m"(i64), "m"(SW), "m"(R) : "memory"); break;
        case 0x0D: X87_BEGIN; asm volatile("fldt %0; fistps %1; fnstsw %2" :: "m"(A), "m"(i16), "m"(SW) : "memory"); R.lo = (uint16_t)i16; break;
        case 0x0E: X87_BEGIN; asm volatile("fldt %0; fistpl %1; fnstsw %2" :: "m"(A), "m"(i32), "m"(SW) : "memory"); R.lo = (uint32_t)i32; break;
        case 0x0F: X87_BEGIN; asm volatile("fldt %0; fistpll %1; fnstsw %2" :: "m"(A), "m"(i64), "m"(SW) : "memory"); R.lo = (uint64_t)i64; break;
        case 0x10: X87_BEGIN; asm volatile("fldt %0; fisttps %1; fnstsw %2" :: "m"(A), "m"(i16), "m"(SW) : "memory"); R.lo = (uint16_t)i16; break;
        case 0x11: X87_BEGIN; asm volatile("fldt %0; fisttpl %1; fnstsw %2" :: "m"(A), "m"(i32), "m"(SW) : "memory"); R.lo = (uint32_t)i32; break;
        case 0x12: X87_BEGIN; asm volatile("fldt %0; fisttpll %1; fnstsw %2" :: "m"(A), "m"(i64), "m"(SW) : "memory"); R.lo = (uint64_t)i64; break;
        case 0x13: { uint32_t u = (uint32_t)alo; memcpy(&f32, &u, 4); X87_BEGIN;
            asm volatile("flds %0; fnstsw %1; fstpt %2" :: "m"(f32), "m"(SW), "m"(R) : "memory"); } break;
        case 0x14: memcpy(&f64, &alo, 8); X87_BEGIN;
            asm volatile("fldl %0; fnstsw %1; fstpt %2" :: "m"(f64), "m"(SW), "m"(R) : "memory"); break;
        case 0x15: { uint32_t u; X87_BEGIN; asm volatile("fldt %0; fstps %1; fnstsw %2" :: "m"(A), "m"(f32), "m"(SW) : "memory");
            memcpy(&u, &f32, 4); R.lo = u; } break;
        case 0x16: X87_BEGIN; asm volatile("fldt %0; fstpl %1; fnstsw %2" :: "m"(A), "m"(f64), "m"(SW) : "memory");
            memcpy(&R.lo, &f64, 8); break;
        case 0x17: X87_1("fxam"); break;
        case 0x18: X87_2("fscale"); break;
        case 0x19: X87_1TO2("fxtract"); break;
        case 0x1A: X87_2("fprem"); break;
        case 0x1B: X87_2("fprem1"); break;
        case 0x1C: X87_1("f2xm1"); break;
        case 0x1D: X87_2P("fyl2x"); break;      /* st1 * log2(st0): a = x, b = y */
        case 0x1E: X87_2P("fyl2xp1"); break;
        case 0x1F: X87_2P("fpatan"); break;     /* atan(st1 / st0): a = x, b = y */
        case 0x20: X87_1("fsin"); break;
        case 0x21: X87_1("fcos"); break;
        case 0x22: X87_1TO2("fsincos"); break;  /* R = cos, Q = sin */
        case 0x23: X87_1TO2("fptan"); break;    /* R = 1, Q = tan */
        case 0x24: X87_1("fabs"); break;
        case 0x25: X87_1("fchs"); break;
        case 0x26: X87_1("ftst"); break;
        case 0x27: X87_BEGIN; asm volatile("fxam; fnstsw %0" :: "m"(SW) : "memory"); break; /* empty ST(0) */
        /* memory operands: ST(0) = a, the m32/m64/m32int operand is b_lo */
        case 0x28: { uint32_t u = (uint32_t)blo; memcpy(&f32, &u, 4); X87_BEGIN;
            asm volatile("fldt %0; fadds %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f32), "m"(SW), "m"(R) : "memory"); } break;
        case 0x29: memcpy(&f64, &blo, 8); X87_BEGIN;
            asm volatile("fldt %0; faddl %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f64), "m"(SW), "m"(R) : "memory"); break;
        case 0x2A: memcpy(&f64, &blo, 8); X87_BEGIN;
            asm volatile("fldt %0; fdivl %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f64), "m"(SW), "m"(R) : "memory"); break;
        case 0x2B: i32 = (int32_t)blo; X87_BEGIN;
            asm volatile("fldt %0; fiaddl %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(i32), "m"(SW), "m"(R) : "memory"); break;
        case 0x2D: memcpy(&f64, &blo, 8); X87_BEGIN;
            asm volatile("fldt %0; fsubrl %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f64), "m"(SW), "m"(R) : "memory"); break;
        case 0x2E: { uint32_t u = (uint32_t)blo; memcpy(&f32, &u, 4); X87_BEGIN;
            asm volatile("fldt %0; fdivrs %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f32), "m"(SW), "m"(R) : "memory"); } break;
        case 0x2F: { uint32_t u = (uint32_t)blo; memcpy(&f32, &u, 4); X87_BEGIN;
            asm volatile("fldt %0; fmuls %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f32), "m"(SW), "m"(R) : "memory"); } break;
        case 0x2C: { uint32_t u = (uint32_t)blo; memcpy(&f32, &u, 4); X87_BEGIN;
            asm volatile("fldt %0; fcoms %1; fnstsw %2; fstpt %3" :: "m"(A), "m"(f32), "m"(SW), "m"(R) : "memory"); } break;
        /* ---- SSE binary32 (0x40) / binary64 (0x60) ---- */
        case 0x40: SSE_2("addss"); break;
        case 0x41: SSE_2("subss"); break;
        case 0x42: SSE_2("mulss"); break;
        case 0x43: SSE_2("divss"); break;
        case 0x44: SSE_2("sqrtss"); break;
        case 0x45: SSE_2("minss"); break;
        case 0x46: SSE_2("maxss"); break;
        case 0x47: SSE_COMI("comiss"); break;
        case 0x48: SSE_COMI("ucomiss"); break;
        case 0x49: SSE_FROMGPR("cvtsi2ssl", "k"); break;
        case 0x4A: SSE_FROMGPR("cvtsi2ssq", "q"); break;
        case 0x4B: SSE_2("cvtss2sd"); break;
        case 0x4C: SSE_TOGPR("cvtss2si", "k"); break;
        case 0x4D: SSE_TOGPR("cvtss2si", "q"); break;
        case 0x4E: SSE_TOGPR("cvttss2si", "k"); break;
        case 0x4F: SSE_TOGPR("cvttss2si", "q"); break;
        case 0x50: SSE_2("cvtdq2ps"); break;
        case 0x51: SSE_2("cvtps2dq"); break;
        case 0x52: SSE_2("cvttps2dq"); break;
        case 0x58: SSE_2I("cmpss", 0); break;
        case 0x59: SSE_2I("cmpss", 1); break;
        case 0x5A: SSE_2I("cmpss", 2); break;
        case 0x5B: SSE_2I("cmpss", 3); break;
        case 0x5C: SSE_2I("cmpss", 4); break;
        case 0x5D: SSE_2I("cmpss", 5); break;
        case 0x5E: SSE_2I("cmpss", 6); break;
        case 0x5F: SSE_2I("cmpss", 7); break;
        case 0x60: SSE_2("addsd"); break;
        case 0x61: SSE_2("subsd"); break;
        case 0x62: SSE_2("mulsd"); break;
        case 0x63: SSE_2("divsd"); break;
        case 0x64: SSE_2("sqrtsd"); break;
        case 0x65: SSE_2("minsd"); break;
        case 0x66: SSE_2("maxsd"); break;
        case 0x67: SSE_COMI("comisd"); break;
        case 0x68: SSE_COMI("ucomisd"); break;
        case 0x69: SSE_FROMGPR("cvtsi2sdl", "k"); break;
        case 0x6A: SSE_FROMGPR("cvtsi2sdq", "q"); break;
        case 0x6B: SSE_2("cvtsd2ss"); break;
        case 0x6C: SSE_TOGPR("cvtsd2si", "k"); break;
        case 0x6D: SSE_TOGPR("cvtsd2si", "q"); break;
        case 0x6E: SSE_TOGPR("cvttsd2si", "k"); break;
        case 0x6F: SSE_TOGPR("cvttsd2si", "q"); break;
        case 0x70: SSE_2("cvtdq2pd"); break;
        case 0x71: SSE_2("cvtpd2dq"); break;
        case 0x72: SSE_2("cvttpd2dq"); break;
        case 0x78: SSE_2I("cmpsd", 0); break;
        case 0x79: SSE_2I("cmpsd", 1); break;
        case 0x7A: SSE_2I("cmpsd", 2); break;
        case 0x7B: SSE_2I("cmpsd", 3); break;
        case 0x7C: SSE_2I("cmpsd", 4); break;
        case 0x7D: SSE_2I("cmpsd", 5); break;
        case 0x7E: SSE_2I("cmpsd", 6); break;
        case 0x7F: SSE_2I("cmpsd", 7); break;
        /* SSE4.1 ROUNDSS/ROUNDSD, imm in b_hi */
        case 0x80 ... 0x8F: { int imm = op & 15; switch (imm) {
            case 0: SSE_2I("roundss", 0); break; case 1: SSE_2I("roundss", 1); break;
            case 2: SSE_2I("roundss", 2); break; case 3: SSE_2I("roundss", 3); break;
            case 4: SSE_2I("roundss", 4); break; case 8: SSE_2I("roundss", 8); break;
            case 9: SSE_2I("roundss", 9); break; case 10: SSE_2I("roundss", 10); break;
            case 11: SSE_2I("roundss", 11); break; case 12: SSE_2I("roundss", 12); break;
            default: break; } } break;
        case 0x90 ... 0x9F: { int imm = op & 15; switch (imm) {
            case 0: SSE_2I("roundsd", 0); break; case 1: SSE_2I("roundsd", 1); break;
            case 2: SSE_2I("roundsd", 2); break; case 3: SSE_2I("roundsd", 3); break;
            case 4: SSE_2I("roundsd", 4); break; case 8: SSE_2I("roundsd", 8); break;
            case 9: SSE_2I("roundsd", 9); break; case 10: SSE_2I("roundsd", 10); break;
            case 11: SSE_2I("roundsd", 11); break; case 12: SSE_2I("roundsd", 12); break;
            default: break; } } break;
        case 0xA0: {
            /* FXSAVE64 after: FNINIT, FLDCW ctl, FLD b, FLD a, FLD1, FLDZ, FSTP ST(0) (TOP=5,
             * one empty register below), xmm0 = a_lo, xmm1 = b_lo, MXCSR = 0x1F80 | (ctl >> 16 & 0x7F). */
            static unsigned char area[512] __attribute__((aligned(16)));
            uint32_t mx = 0x1F80 | ((ctl >> 16) & 0x7F), def = 0x1F80;
            uint64_t x = alo, y = blo;
            memset(area, 0, sizeof area);
            X87_BEGIN;
            asm volatile("fldt %0; fldt %1; fld1; fldz; fstp %%st(0); ldmxcsr %2; movq %3, %%xmm0; movq %4, %%xmm1; fxsave64 %5; ldmxcsr %6; fninit"
                         :: "m"(B), "m"(A), "m"(mx), "r"(x), "r"(y), "m"(area), "m"(def) : "memory", "xmm0", "xmm1", "st", "st(1)", "st(2)");
            printf("fx ");
            for (int i = 0; i < 512; i++) printf("%02x", area[i]);
            printf("\n");
            continue;
        }
        default:
            printf("bad\n");
            continue;
        }
        unsigned status = op >= 0x40 ? MXOUT : SW;
        printf("%x %llx %x %llx %x %llx\n", R.hi, (unsigned long long)R.lo, Q.hi, (unsigned long long)Q.lo, status,
               (unsigned long long)EF);
    }
    fflush(stdout);
    return 0;
}

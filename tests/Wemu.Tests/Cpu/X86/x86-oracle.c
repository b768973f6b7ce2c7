// The host CPU as the oracle for Wemu's x86-64 interpreter (tests/Wemu.Tests/Cpu/X86).
// Reads test cases from stdin, runs each natively in user mode, writes the resulting state.
//
// A case: u32 code length, the code, the initial state (16 GPRs, RFLAGS, 16 XMM registers as
// 32 u64, MXCSR as u64; of the x87 part only the significands are input: MM0-MM7, loaded after
// FNINIT and followed by EMMS, so the code starts with every x87 register empty), then
// DATA_SIZE bytes of data memory. The code runs at CODE_ADDR followed
// by an int3; data lives at DATA_ADDR. The result: i32 outcome (0 = reached the int3, else the
// signal), u64 trap number, u64 error code, u64 RIP, u64 fault address (SIGSEGV), the final state, the data memory.
// Registers are loaded from memory with plain moves (no stack use), and signal handlers run on an
// alternate stack, so the data memory changes only by what the code itself writes.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x20000000UL
#define CODE_SIZE 0x2000UL
#define DATA_ADDR 0x30000000UL
#define DATA_SIZE 0x4000UL

struct state {
    uint64_t gpr[16]; // rax rcx rdx rbx rsp rbp rsi rdi r8..r15
    uint64_t rflags;
    uint64_t xmm[32];
    uint64_t mxcsr;
    uint64_t x87[16];  // ST(0)..ST(7): significand, then sign/exponent (output only)
    uint64_t fpu;      // FCW | FSW << 16 | abridged tag << 32 (output only)
};

struct state in_state;
uint64_t jump_target = CODE_ADDR;
static uint64_t scratch_stack[64];
uint64_t scratch_top;
static sigjmp_buf env;
static struct state out_state;
static int32_t outcome;
static uint64_t trapno, errcode, faultrip, faultaddr;
static uint64_t code_len;

static int read_all(void *p, size_t n) {
    char *c = p;
    while (n) { ssize_t r = read(0, c, n); if (r <= 0) return 0; c += r; n -= (size_t)r; }
    return 1;
}
static void write_all(const void *p, size_t n) {
    const char *c = p;
    while (n) { ssize_t r = write(1, c, n); if (r <= 0) _exit(3); c += r; n -= (size_t)r; }
}

// Loads every register from in_state and jumps to the code (no stack is touched).
__attribute__((naked)) static void enter(void) {
    __asm__ volatile(
        "mov scratch_top(%rip), %rsp\n"
        "fninit\n"
        "movq in_state+400(%rip), %mm0\n"
        "movq in_state+416(%rip), %mm1\n"
        "movq in_state+432(%rip), %mm2\n"
        "movq in_state+448(%rip), %mm3\n"
        "movq in_state+464(%rip), %mm4\n"
        "movq in_state+480(%rip), %mm5\n"
        "movq in_state+496(%rip), %mm6\n"
        "movq in_state+512(%rip), %mm7\n"
        "emms\n"
        "ldmxcsr in_state+392(%rip)\n"
        "movdqu in_state+136(%rip), %xmm0\n"
        "movdqu in_state+152(%rip), %xmm1\n"
        "movdqu in_state+168(%rip), %xmm2\n"
        "movdqu in_state+184(%rip), %xmm3\n"
        "movdqu in_state+200(%rip), %xmm4\n"
        "movdqu in_state+216(%rip), %xmm5\n"
        "movdqu in_state+232(%rip), %xmm6\n"
        "movdqu in_state+248(%rip), %xmm7\n"
        "movdqu in_state+264(%rip), %xmm8\n"
        "movdqu in_state+280(%rip), %xmm9\n"
        "movdqu in_state+296(%rip), %xmm10\n"
        "movdqu in_state+312(%rip), %xmm11\n"
        "movdqu in_state+328(%rip), %xmm12\n"
        "movdqu in_state+344(%rip), %xmm13\n"
        "movdqu in_state+360(%rip), %xmm14\n"
        "movdqu in_state+376(%rip), %xmm15\n"
        "pushq in_state+128(%rip)\n" "popfq\n"
        "mov in_state+0(%rip), %rax\n"   "mov in_state+8(%rip), %rcx\n"
        "mov in_state+16(%rip), %rdx\n"  "mov in_state+24(%rip), %rbx\n"
        "mov in_state+40(%rip), %rbp\n"  "mov in_state+48(%rip), %rsi\n"
        "mov in_state+56(%rip), %rdi\n"  "mov in_state+64(%rip), %r8\n"
        "mov in_state+72(%rip), %r9\n"   "mov in_state+80(%rip), %r10\n"
        "mov in_state+88(%rip), %r11\n"  "mov in_state+96(%rip), %r12\n"
        "mov in_state+104(%rip), %r13\n" "mov in_state+112(%rip), %r14\n"
        "mov in_state+120(%rip), %r15\n"
        "mov in_state+32(%rip), %rsp\n"
        "jmp *jump_target(%rip)\n");
}

static void handler(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                 REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
    for (int i = 0; i < 16; i++) out_state.gpr[i] = (uint64_t)g[map[i]];
    out_state.rflags = (uint64_t)g[REG_EFL];
    memcpy(out_state.xmm, uc->uc_mcontext.fpregs->_xmm, sizeof out_state.xmm);
    out_state.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    for (int i = 0; i < 8; i++) {
        memcpy(&out_state.x87[2 * i], uc->uc_mcontext.fpregs->_st[i].significand, 8);
        out_state.x87[2 * i + 1] = uc->uc_mcontext.fpregs->_st[i].exponent;
    }
    out_state.fpu = uc->uc_mcontext.fpregs->cwd | ((uint64_t)uc->uc_mcontext.fpregs->swd << 16)
                  | ((uint64_t)(uc->uc_mcontext.fpregs->ftw & 0xFF) << 32);
    trapno = (uint64_t)g[REG_TRAPNO];
    errcode = (uint64_t)g[REG_ERR];
    faultaddr = (uint64_t)si->si_addr;
    uint64_t rip = (uint64_t)g[REG_RIP];
    outcome = (sig == SIGTRAP && rip == CODE_ADDR + code_len + 1) ? 0 : sig;
    faultrip = rip;
    faultaddr = sig == SIGSEGV ? (uint64_t)si->si_addr : 0;
    siglongjmp(env, 1);
}

int main(void) {
    static char altstack[65536];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGTRAP, &sa, NULL); sigaction(SIGSEGV, &sa, NULL); sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL); sigaction(SIGILL, &sa, NULL);
    scratch_top = (uint64_t)&scratch_stack[62];
    unsigned char *code = mmap((void *)CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    unsigned char *data = mmap((void *)DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (code != (void *)CODE_ADDR || data != (void *)DATA_ADDR) { fprintf(stderr, "x86-oracle: mmap failed\n"); return 2; }
    uint32_t len;
    while (read_all(&len, 4)) {
        if (len > CODE_SIZE - 1) return 2;
        code_len = len;
        if (!read_all(code, len) || !read_all(&in_state, sizeof in_state) || !read_all(data, DATA_SIZE)) return 2;
        code[len] = 0xCC;
        __builtin___clear_cache((char *)code, (char *)code + len + 1);
        memset(&out_state, 0, sizeof out_state);
        if (sigsetjmp(env, 1) == 0)
            enter();
        write_all(&outcome, 4);
        write_all(&trapno, 8);
        write_all(&errcode, 8);
        write_all(&faultrip, 8);
        write_all(&faultaddr, 8);
        write_all(&out_state, sizeof out_state);
        write_all(data, DATA_SIZE);
    }
    return 0;
}

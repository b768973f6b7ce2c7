/*
 * A 64 KiB stand-in BIOS for QEMU's microvm (-bios): instead of qboot, put the CPU in the state
 * X86LinuxLoader returns (X86EntryState, passed in with --defsym) and jump to the kernel, with the
 * memory Wemu's loader wrote loaded by -device loader. It enters long mode straight from real mode
 * (Intel SDM vol. 3A 10.8.5: CR4.PAE, CR3, EFER.LME, then CR0.PG|PE, then a far jump to a 64-bit
 * code segment), loading the GDT Wemu wrote, not one of its own.
 */
        .code16
        .text
        .globl _start
_start:
        cli
        lgdtl   %cs:gdtr
        lidtl   %cs:idtr
        movl    $CR4, %eax
        movl    %eax, %cr4
        movl    $CR3, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx       /* IA32_EFER */
        movl    $(EFER & ~0x400), %eax  /* LMA is set by the CPU */
        xorl    %edx, %edx
        wrmsr
        movl    $CR0, %eax
        movl    %eax, %cr0
        ljmpl   $CS, $(0xf0000 + long64)
        .code64
long64:
        movw    $DS, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movq    $RSP, %rsp
        movq    $RSI, %rsi
        pushq   $RFLAGS
        popfq
        movq    $RIP, %rax
        jmp     *%rax
        .balign 8
gdtr:
        .word   GDT_LIMIT
        .long   GDT_BASE
idtr:
        .word   IDT_LIMIT
        .long   IDT_BASE
        .org    0xfff0
        .code16
reset:                                  /* the reset vector: CS base 0xffff0000, IP 0xfff0 */
        ljmp    $0xf000, $_start
        .org    0x10000

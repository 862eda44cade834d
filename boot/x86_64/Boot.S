/*
 * Skiff x86-64 entry: from a Multiboot 1 loader (QEMU -kernel, GRUB) in 32-bit protected mode to
 * the higher-half C++ kernel in long mode.
 *
 * The image is an ELF64 file, which QEMU's Multiboot loader refuses to load as ELF ("Cannot load
 * x86-64 image, give a 32bit one"). The header therefore sets the a.out kludge flag (bit 16) and
 * gives the load addresses itself: the loader copies the file from the header's offset to
 * load_addr, zeroes up to bss_end_addr and jumps to entry_addr. tools/check_multiboot.py verifies
 * at build time that the ELF's loadable bytes sit in the file exactly where that copy expects.
 *
 * Steps (Intel SDM Vol. 3A 9.8.5, "Initializing IA-32e Mode"):
 *   1. build boot page tables: the first 1 GiB of physical memory mapped with 2 MiB pages
 *      identity (for the instruction after paging turns on), at the direct-map base
 *      0xffff800000000000 and at the image base 0xffffffff80000000;
 *   2. CR4.PAE, CR3, EFER.LME (and NXE), then CR0.PG: the CPU is now in compatibility mode;
 *   3. a far jump through a 64-bit code segment enters 64-bit mode;
 *   4. jump to the higher half, switch to the kernel stack, call kernel_main() (which reads the
 *      Multiboot magic and information address saved below: kernel/arch/x86_64/Multiboot.cpp).
 */

    .set MULTIBOOT_MAGIC, 0x1BADB002
    .set MULTIBOOT_PAGE_ALIGN, 1 << 0
    .set MULTIBOOT_MEMORY_INFO, 1 << 1
    .set MULTIBOOT_AOUT_KLUDGE, 1 << 16
    .set MULTIBOOT_FLAGS, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_AOUT_KLUDGE

    .set PAGE_PRESENT, 1 << 0
    .set PAGE_WRITABLE, 1 << 1
    .set PAGE_HUGE, 1 << 7

    .set CR4_PAE, 1 << 5
    .set CR4_PGE, 1 << 7
    .set CR0_PE, 1 << 0
    .set CR0_WP, 1 << 16
    .set CR0_PG, 1 << 31
    .set MSR_EFER, 0xC0000080
    .set EFER_LME, 1 << 8
    .set EFER_NXE, 1 << 11

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
    .long multiboot_header      /* header_addr: physical, this section is linked at its load address */
    .long __load_start_phys     /* load_addr */
    .long __load_end_phys       /* load_end_addr */
    .long __bss_end_phys        /* bss_end_addr */
    .long _start                /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    movl %eax, boot_multiboot_magic
    movl %ebx, boot_multiboot_info

    /* Long mode must exist: CPUID 0x80000001, EDX bit 29. Without it there is nothing to do but
     * stop; the message goes to COM1 so a person sees why. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode

    /* Page directory: 512 entries of 2 MiB, physical 0 .. 1 GiB. */
    movl $boot_pd, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $(PAGE_PRESENT | PAGE_WRITABLE | PAGE_HUGE), %eax
    movl %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    /* PDPT for the low half and the direct map: entry 0 -> the directory above. */
    movl $boot_pd, %eax
    orl $(PAGE_PRESENT | PAGE_WRITABLE), %eax
    movl %eax, boot_pdpt_low
    /* PDPT for the top 512 GiB: entry 510 is 0xffffffff80000000. */
    movl %eax, boot_pdpt_high + 510 * 8

    /* PML4: 0 identity, 256 the direct map (0xffff800000000000), 511 the image. */
    movl $boot_pdpt_low, %eax
    orl $(PAGE_PRESENT | PAGE_WRITABLE), %eax
    movl %eax, boot_pml4
    movl %eax, boot_pml4 + 256 * 8
    movl $boot_pdpt_high, %eax
    orl $(PAGE_PRESENT | PAGE_WRITABLE), %eax
    movl %eax, boot_pml4 + 511 * 8

    movl %cr4, %eax
    orl $(CR4_PAE | CR4_PGE), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

no_long_mode:
    movl $no_long_mode_message, %esi
2:  lodsb
    testb %al, %al
    jz 3f
    movw $0x3f8, %dx
    outb %al, %dx
    jmp 2b
3:  hlt
    jmp 3b

    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $higher_half_entry, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .align 4096
boot_pml4:
    .fill 512, 8, 0
boot_pdpt_low:
    .fill 512, 8, 0
boot_pdpt_high:
    .fill 512, 8, 0
boot_pd:
    .fill 512, 8, 0

    .global boot_multiboot_magic
    .global boot_multiboot_info
boot_multiboot_magic:
    .long 0
boot_multiboot_info:
    .long 0

    .align 8
boot_gdt:
    .quad 0
    .quad 0x00209A0000000000 /* 0x08: 64-bit code, present, ring 0 */
    .quad 0x0000920000000000 /* 0x10: data, present, writable */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

no_long_mode_message:
    .asciz "Skiff: this CPU has no long mode (x86-64); cannot boot.\r\n"

    .section .text
higher_half_entry:
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp             /* the backtrace stops at a zero frame pointer */
    call kernel_main
4:  cli
    hlt
    jmp 4b

    .section .bss
    .align 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 32768
    .global boot_stack_top
boot_stack_top:

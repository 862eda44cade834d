/*
 * Skiff AArch64 entry: from QEMU's virt machine (-kernel with an arm64 Image) to the higher-half
 * C++ kernel, following the arm64 boot protocol (Linux Documentation/arm64/booting.rst): the
 * Image is loaded at RAM base + text_offset, entered at its first byte at EL1 (EL2 with
 * virtualization=on) with the MMU and caches off, interrupts masked, x0 = the device tree's
 * physical address.
 *
 * Steps (Arm ARM DDI 0487, D5 "The AArch64 Virtual Memory System Architecture"):
 *   1. from EL2, drop to EL1 (HCR_EL2.RW, the EL1 timer accessible, ERET);
 *   2. clear .bss and keep the device tree pointer (boot_device_tree), all PC-relative: the code
 *      runs at its physical address, 0xffffffff80000000 below where it is linked;
 *   3. boot tables with 1 GiB blocks: TTBR0 identity-maps RAM (1-2 GiB) for the instruction that
 *      turns the MMU on; TTBR1 maps physical 0-1 GiB (the devices) as Device-nGnRE and 1-2 GiB
 *      (RAM) as Normal at the direct-map base 0xffff800000000000, and RAM again at the image base;
 *   4. MAIR (attribute 0 Normal write-back, 1 Device-nGnRE), TCR (4 KiB granule, 48-bit virtual
 *      addresses in both halves, physical size from ID_AA64MMFR0_EL1 capped at 48 bits), SCTLR
 *      (MMU, caches);
 *   5. jump to the higher half, take the boot stack and the exception vectors, call kernel_main().
 * mm/ replaces these tables with its own (arch::activate_kernel_page_table, kernel/arch/aarch64/Init.cpp).
 */

    .set PAGE_TABLE, 0x3               /* valid, table */
    .set BLOCK, 0x1                    /* valid, block */
    .set ATTR_NORMAL, (0 << 2)         /* MAIR index 0 */
    .set ATTR_DEVICE, (1 << 2)         /* MAIR index 1 */
    .set INNER_SHAREABLE, (3 << 8)
    .set ACCESS_FLAG, (1 << 10)
    .set NO_EXECUTE, (3 << 53)         /* PXN | UXN */
    .set RAM_BLOCK_FLAGS, (BLOCK | ATTR_NORMAL | INNER_SHAREABLE | ACCESS_FLAG)
    .set DEVICE_BLOCK_FLAGS, (BLOCK | ATTR_DEVICE | ACCESS_FLAG | NO_EXECUTE)
    .set RAM_BASE, 0x40000000

    /* MAIR_EL1: attribute 0 = 0xff (Normal, inner/outer write-back, read/write-allocate),
     * attribute 1 = 0x04 (Device-nGnRE). */
    .set MAIR_VALUE, 0x04ff
    /* TCR_EL1: T0SZ = T1SZ = 16 (48-bit), walks cacheable write-back and inner shareable, TG0 =
     * 4 KiB (0b00), TG1 = 4 KiB (0b10). IPS is filled in at run time. */
    .set TCR_VALUE, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30))
    /* SCTLR_EL1: the RES1 bits of ARMv8.0 (29, 28, 23, 22, 20, 11), M (MMU), C (data cache),
     * SA (stack alignment check), I (instruction cache). A (alignment check) stays off. */
    .set SCTLR_VALUE, ((1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11) | (1 << 12) | (1 << 3) | (1 << 2) | 1)

    .section .text.head, "ax"
    .global _start
_start:
    /* The arm64 Image header, 64 bytes. */
    b primary_entry                 /* code0 */
    .long 0                         /* code1 */
    .quad 0x80000                   /* text_offset: where in RAM the loader puts the image */
    .quad __image_size              /* image_size, bss included: the loader keeps the DTB clear of it */
    .quad 0x2                       /* flags: little endian, 4 KiB pages, 2 MiB-aligned base */
    .quad 0, 0, 0                   /* reserved */
    .ascii "ARM\x64"                /* magic */
    .long 0                         /* reserved (PE header offset) */

primary_entry:
    mov x19, x0                     /* the device tree */
    msr daifset, #0xf
    mrs x1, CurrentEL
    lsr x1, x1, #2
    cmp x1, #2
    b.ne at_el1
    /* EL2: EL1 runs AArch64, may use both timers, sees no virtual offset; enter it masked. */
    mov x1, #(1 << 31)
    msr hcr_el2, x1
    mrs x1, cnthctl_el2
    orr x1, x1, #3
    msr cnthctl_el2, x1
    msr cntvoff_el2, xzr
    mov x1, #0x3c5                  /* SPSR: D, A, I, F masked, EL1h */
    msr spsr_el2, x1
    adr x1, at_el1
    msr elr_el2, x1
    eret

at_el1:
    msr spsel, #1
    /* .bss, at its physical address. */
    adrp x1, __bss_start
    add x1, x1, :lo12:__bss_start
    adrp x2, __bss_end
    add x2, x2, :lo12:__bss_end
1:  cmp x1, x2
    b.hs 2f
    stp xzr, xzr, [x1], #16
    b 1b
2:  adrp x1, boot_device_tree
    str x19, [x1, :lo12:boot_device_tree]

    /* TTBR0: identity map of RAM, L0[0] -> L1, L1[1] = 1 GiB block at 1 GiB. */
    adrp x0, boot_l0_low
    adrp x1, boot_l1_low
    orr x2, x1, #PAGE_TABLE
    str x2, [x0]
    ldr x2, =(RAM_BASE | RAM_BLOCK_FLAGS)
    str x2, [x1, #8]
    /* TTBR1: L0[256] -> the direct map's L1, L0[511] -> the image's L1. */
    adrp x0, boot_l0_high
    adrp x1, boot_l1_direct
    orr x2, x1, #PAGE_TABLE
    str x2, [x0, #(256 * 8)]
    ldr x3, =DEVICE_BLOCK_FLAGS     /* physical 0 - 1 GiB: devices */
    str x3, [x1]
    ldr x3, =(RAM_BASE | RAM_BLOCK_FLAGS)
    str x3, [x1, #8]
    adrp x1, boot_l1_image
    orr x2, x1, #PAGE_TABLE
    str x2, [x0, #(511 * 8)]
    str x3, [x1, #(511 * 8)]        /* 0xffffffffc0000000 -> RAM at 1 GiB */

    ldr x1, =MAIR_VALUE
    msr mair_el1, x1
    mrs x1, id_aa64mmfr0_el1
    and x1, x1, #0xf                /* PARange */
    cmp x1, #5
    mov x2, #5
    csel x1, x1, x2, ls             /* at most 48 bits (0b101) */
    ldr x2, =TCR_VALUE
    orr x2, x2, x1, lsl #32         /* IPS */
    msr tcr_el1, x2
    adrp x1, boot_l0_low
    msr ttbr0_el1, x1
    adrp x1, boot_l0_high
    msr ttbr1_el1, x1
    dsb sy
    isb
    tlbi vmalle1
    dsb nsh
    isb
    ldr x1, =SCTLR_VALUE
    msr sctlr_el1, x1
    isb
    ldr x1, =higher_half_entry
    br x1

    .section .text
higher_half_entry:
    ldr x1, =boot_stack_top
    mov sp, x1
    ldr x1, =exception_vectors
    msr vbar_el1, x1
    isb
    mov x29, #0                     /* the backtrace stops at a zero frame pointer */
    mov x30, #0
    bl kernel_main
3:  wfi
    b 3b

    .section .data
    .balign 8
    .global boot_device_tree
boot_device_tree:
    .quad 0

    .section .bss
    .balign 4096
boot_l0_low:
    .skip 4096
boot_l1_low:
    .skip 4096
boot_l0_high:
    .skip 4096
boot_l1_direct:
    .skip 4096
boot_l1_image:
    .skip 4096

    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 32768
    .global boot_stack_top
boot_stack_top:

#pragma once

#include <lib/Types.h>

namespace skiff::arch {

// The GDT's order is what SYSCALL and SYSRET need (Intel SDM Vol. 2B, SYSRET): STAR names the
// kernel code selector (kernel data follows it) and a user base from which SYSRET takes user data
// at +8 and 64-bit user code at +16. The selectors user mode loads carry RPL 3.
constexpr u16 kKernelCodeSelector = 0x08;
constexpr u16 kKernelDataSelector = 0x10;
constexpr u16 kUserDataSelector = 0x18 | 3;
constexpr u16 kUserCodeSelector = 0x20 | 3;
constexpr u16 kTssSelector = 0x28;
constexpr u16 kSysretBaseSelector = 0x10 | 3; // STAR[63:48]: user SS = +8, user CS = +16

// Loads the final GDT (with a TSS whose IST gives double faults and NMIs their own stacks) and the
// IDT with a stub for every exception and ISA IRQ vector.
void load_descriptor_tables();
// TSS.RSP0: the stack the CPU switches to on an interrupt or exception in user mode.
void set_interrupt_entry_stack(uptr stack_top);

} // namespace skiff::arch

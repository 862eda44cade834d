#pragma once

#include <lib/Types.h>

namespace skiff::arch {

constexpr u16 kKernelCodeSelector = 0x08;
constexpr u16 kKernelDataSelector = 0x10;
constexpr u16 kTssSelector = 0x18;

// Loads the final GDT (with a TSS whose IST gives double faults and NMIs their own stacks) and the
// IDT with a stub for every exception and ISA IRQ vector.
void load_descriptor_tables();

} // namespace skiff::arch

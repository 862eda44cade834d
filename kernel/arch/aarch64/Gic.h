#pragma once

// The Arm Generic Interrupt Controller, version 2 (QEMU virt's default) or 3
// (`-M virt,gic-version=3`), as the device tree describes it. See Gic.cpp.

#include <kernel/base/BootInfo.h>
#include <lib/Types.h>

namespace skiff::arch::gic {

constexpr u32 kSpurious = 1023; // INTID read from the acknowledge register when nothing is pending

// Finds the GIC in the boot information, resets it with every interrupt disabled and enables
// delivery to this CPU. Returns false (with a message) if there is none the kernel can drive.
bool initialize(BootInfo const& info);
u32 version(); // 2 or 3; 0 before initialize()
u32 line_count();
void enable(u32 intid);
void disable(u32 intid);
// The line's request is pending, enabled or not.
bool is_pending(u32 intid);
// Acknowledges the highest-priority pending interrupt and returns its INTID (kSpurious: none).
u32 acknowledge();
void end_of_interrupt(u32 intid);

} // namespace skiff::arch::gic

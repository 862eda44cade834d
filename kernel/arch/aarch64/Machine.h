#pragma once

// What the AArch64 pieces tell each other (kernel/arch/aarch64/ only).

#include <kernel/arch/aarch64/TrapFrame.h>
#include <lib/Types.h>

namespace skiff::arch {

// The INTID of the generic timer interrupt the tick uses (the virtual timer's PPI, 27 on virt).
u32 timer_intid();
// True when `frame` is the undefined-instruction exception of power_off's semihosting call on a
// QEMU started without -semihosting; the call is then skipped (ELR moved past it).
bool semihosting_probe_failed(TrapFrame& frame);

} // namespace skiff::arch

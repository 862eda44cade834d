#pragma once

// The one header that chooses the architecture. Code outside arch/ directories includes this,
// never kernel/arch/<arch>/ directly, so a port adds one line here.

#include <kernel/arch/x86_64/Cpu.h>
#include <kernel/arch/x86_64/Io.h>

namespace skiff::arch {

// Architecture bring-up in order: descriptor tables, interrupt controller, timer. Implemented in
// kernel/arch/x86_64/Init.cpp.
void initialize_early();      // GDT, TSS, IDT: exceptions are reported from here on
void initialize_interrupts(); // the PIC pair, all lines masked
void initialize_timer();      // the PIT at time::kTickHz and the TSC calibration

} // namespace skiff::arch

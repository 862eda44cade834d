#pragma once

#include <lib/Types.h>

namespace skiff::arch::pic {

constexpr u8 kVectorBase = 32; // IRQ n arrives as vector 32 + n

void initialize(); // remap both 8259s above the exception vectors, mask every line
void mask(u8 irq);
void unmask(u8 irq);
void end_of_interrupt(u8 irq);
// IRQ 7 and 15 also arrive spuriously (8259A datasheet, "spurious interrupt"); true if the
// in-service register says this one is not real. A spurious IRQ 15 still needs an EOI to the master.
bool is_spurious(u8 irq);
// The interrupt request registers of both controllers: bit n set while IRQ n has a request
// pending, masked or not (an edge latched, or a level-triggered line held high).
u16 requests();

} // namespace skiff::arch::pic

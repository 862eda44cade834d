#pragma once

#include <lib/Types.h>

namespace skiff::drivers::pci {

// A function's place on the bus.
struct Address {
    u8 bus { 0 };
    u8 device { 0 };
    u8 function { 0 };
};

} // namespace skiff::drivers::pci

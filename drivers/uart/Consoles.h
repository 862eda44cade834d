#pragma once

// Which UART carries the console, from the boot information: a PL011 the device tree lists
// (AArch64), else COM1's 16550 where the machine has an ISA bus (x86-64). Null: none.

#include <kernel/base/BootInfo.h>
#include <kernel/base/ConsoleDevice.h>

namespace skiff::drivers {

ConsoleDevice* initialize_console(BootInfo const& info);

} // namespace skiff::drivers

#pragma once

// Which UART carries the console, from the boot information: a PL011 the device tree lists
// (AArch64), else COM1's 16550 where the machine has an ISA bus (x86-64). Null: none.

#include <kernel/base/BootInfo.h>
#include <kernel/base/ConsoleDevice.h>

namespace skiff::drivers {

// A PL011 the device tree lacks is assumed at QEMU virt's address and added to `info`, so mm/
// keeps its registers mapped.
ConsoleDevice* initialize_console(BootInfo& info);

} // namespace skiff::drivers

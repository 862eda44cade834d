// The console table: each UART Skiff drives and how it is found. See Consoles.h.

#include <drivers/uart/Consoles.h>
#include <drivers/uart/Uart16550.h>

namespace skiff::drivers {

ConsoleDevice* initialize_console(BootInfo const&)
{
    if (arch::kHasIsaBus) {
        // As before there was a table: COM1 is used even if its scratch register misbehaves.
        (void)com1().initialize();
        return &com1();
    }
    return nullptr;
}

} // namespace skiff::drivers

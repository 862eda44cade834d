// The console table: each UART Skiff drives and how it is found. See Consoles.h.

#include <drivers/uart/Consoles.h>
#include <drivers/uart/Pl011.h>
#include <drivers/uart/Uart16550.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>

namespace skiff::drivers {

namespace {

// QEMU virt's UART, used when the device tree does not name one (the boot tables map it).
constexpr u64 kVirtPl011 = 0x09000000;
constexpr u32 kVirtPl011Intid = 33;

} // namespace

ConsoleDevice* initialize_console(BootInfo& info)
{
    if (arch::kHasIsaBus) {
        // As before there was a table: COM1 is used even if its scratch register misbehaves.
        (void)com1().initialize();
        return &com1();
    }
    DeviceInfo const* uart = info.find_device("arm,pl011");
    u64 base = uart && uart->base ? uart->base : 0;
    u32 irq = uart && uart->interrupt ? uart->interrupt : kVirtPl011Intid;
    if (!base || base >= kBootMappedPhysicalEnd)
        base = kVirtPl011;
    static Pl011 s_pl011(IoWindow::memory(phys_to_ptr<u8 volatile>(base), 0x1000), irq);
    s_pl011.initialize();
    if (!uart || !uart->base) {
        kprintln("console: the device tree names no arm,pl011 with registers: using QEMU virt's at {:#x}", base);
        if (info.device_count < BootInfo::kMaxDevices) {
            DeviceInfo& added = info.devices[info.device_count++];
            added = {};
            StringView name("arm,pl011");
            for (usize i = 0; i < name.length(); ++i)
                added.compatible[i] = name[i];
            added.base = base;
            added.size = 0x1000;
            added.interrupt = irq;
        }
    }
    return &s_pl011;
}

} // namespace skiff::drivers

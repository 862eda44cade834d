// x86-64 bring-up and machine control for the architecture interface (kernel/base/Arch.h).

#include <kernel/arch/x86_64/AcpiPmTimer.h>
#include <kernel/arch/x86_64/DescriptorTables.h>
#include <kernel/arch/x86_64/Pic.h>
#include <kernel/arch/x86_64/Pit.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>

extern "C" void skiff_thread_trampoline();

namespace skiff::arch {

namespace {

// QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,iosize=0x04): a write of v
// makes QEMU exit with status (v << 1) | 1.
constexpr u16 kDebugExitPort = 0xf4;
// ACPI PM1a control block of QEMU's PIIX4 and ICH9 models: SLP_TYP=0, SLP_EN (bit 13) = soft off.
constexpr u16 kAcpiPm1aControl = 0x604;
constexpr u16 kAcpiSleepEnable = 0x2000;
constexpr u16 kKeyboardControllerCommand = 0x64;
constexpr u8 kKeyboardControllerPulseReset = 0xfe;

void (*s_tick)() = nullptr;

void timer_interrupt(void*)
{
    s_tick();
}

} // namespace

void initialize_early()
{
    load_descriptor_tables();
}

void initialize_interrupts()
{
    pic::initialize();
}

u64 initialize_timer(u32 tick_hz, void (*tick)())
{
    // The TSC against the ACPI PM timer, a counter read on demand that a busy host cannot starve;
    // the PIT's channel 2 is the fallback on a machine without one. With the PIT, anything that
    // disturbs a measurement (TCG translating the polling loop, the host descheduling QEMU) only
    // makes the interval look longer, so the smallest of several is kept.
    u64 hz = pm_timer::present() ? pm_timer::measure_tsc_hz(10000) : 0;
    if (!hz) {
        (void)pit::measure_tsc_hz(200); // warm-up: the loop's translation happens here
        hz = ~0ull;
        for (int sample = 0; sample < 5; ++sample)
            hz = min(hz, pit::measure_tsc_hz(2000));
    }
    s_tick = tick;
    MUST(register_irq_handler(kTimerIrq, timer_interrupt, nullptr)); // IRQ 0 is free at boot
    pit::start_periodic(tick_hz);
    return hz;
}

void flush_tlb_everything()
{
    // Toggling CR4.PGE also drops global translations (SDM §4.10.4.1); the boot tables set them.
    u64 cr4 = read_cr4();
    write_cr4(cr4 & ~(1ull << 7));
    write_cr4(cr4);
}

void activate_kernel_page_table(u64 root)
{
    write_cr3(root);
}

uptr prepare_thread_stack(uptr stack_top, void* argument)
{
    // The first switch into the thread pops six callee-saved registers and RFLAGS and returns
    // into the trampoline (ContextSwitch.S); two padding words leave rsp 16-byte aligned at the
    // trampoline's call.
    auto* frame = reinterpret_cast<u64*>(stack_top) - 10;
    frame[0] = 0;                                              // r15
    frame[1] = 0;                                              // r14
    frame[2] = 0;                                              // r13
    frame[3] = reinterpret_cast<u64>(argument);                // r12: the trampoline's argument
    frame[4] = 0;                                              // rbx
    frame[5] = 0;                                              // rbp
    frame[6] = 0x2;                                            // RFLAGS: interrupts off, AC clear
    frame[7] = reinterpret_cast<u64>(skiff_thread_trampoline); // return address
    frame[8] = frame[9] = 0;
    return reinterpret_cast<uptr>(frame);
}

void set_io_port_space(void volatile*, u64)
{
    // Port instructions reach the I/O space directly.
}

void power_off(u32 code)
{
    cli();
    outl(kDebugExitPort, code);
    // No isa-debug-exit: ACPI soft-off, which QEMU honours with exit status 0.
    outw(kAcpiPm1aControl, kAcpiSleepEnable);
    for (;;)
        hlt();
}

void reset()
{
    cli();
    // The 8042 keyboard controller's reset line (QEMU resets the machine, or exits with -no-reboot).
    for (int tries = 0; tries < 16; ++tries) {
        if (!(inb(kKeyboardControllerCommand) & 0x02))
            break;
    }
    outb(kKeyboardControllerCommand, kKeyboardControllerPulseReset);
    for (;;)
        hlt();
}

} // namespace skiff::arch

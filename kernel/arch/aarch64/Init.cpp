// AArch64 bring-up and machine control for the architecture interface (kernel/base/Arch.h):
// the GIC, the generic timer, the kernel's translation tables, thread stacks, power-off.

#include <kernel/arch/aarch64/Gic.h>
#include <kernel/arch/aarch64/Machine.h>
#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>

extern "C" void skiff_thread_trampoline();

namespace skiff::arch {

u8 volatile* g_io_port_space = nullptr;
u64 g_io_port_space_size = 0;

namespace {

void (*s_tick)() = nullptr;
u64 s_timer_interval = 0; // counts per tick
u64 s_timer_deadline = 0;
u32 s_timer_intid = 27; // the virtual timer's PPI on virt (the device tree says)

// PSCI 0.2+ function IDs (Arm DEN 0022, 5.1): SYSTEM_OFF and SYSTEM_RESET, SMC32 convention.
constexpr u64 kPsciSystemOff = 0x84000008;
constexpr u64 kPsciSystemReset = 0x84000009;
// Semihosting (Arm IHI 0065 "Semihosting for AArch32 and AArch64"): SYS_EXIT with the
// "application exit" reason and an exit code; QEMU ends with that code as its status.
constexpr u64 kSemihostingExit = 0x18;
constexpr u64 kAdpStoppedApplicationExit = 0x20026;

bool volatile s_semihosting_probe = false;
bool s_psci_smc = false; // the device tree's psci node says method = "smc"

u64 psci_call(u64 function)
{
    register u64 x0 asm("x0") = function;
    if (s_psci_smc)
        asm volatile("smc #0" : "+r"(x0)::"x1", "x2", "x3", "memory");
    else
        asm volatile("hvc #0" : "+r"(x0)::"x1", "x2", "x3", "memory");
    return x0;
}

void timer_interrupt(void*)
{
    // Re-arm from the previous deadline, not from now, so ticks do not drift; after a long stall
    // (the host descheduled QEMU) start again from now.
    u64 now = cycle_counter();
    s_timer_deadline += s_timer_interval;
    if (s_timer_deadline <= now)
        s_timer_deadline = now + s_timer_interval;
    asm volatile("msr cntv_cval_el0, %0; isb" ::"r"(s_timer_deadline));
    s_tick();
}

} // namespace

u32 timer_intid()
{
    return s_timer_intid;
}

bool semihosting_probe_failed(TrapFrame& frame)
{
    if (!s_semihosting_probe)
        return false;
    s_semihosting_probe = false;
    frame.elr += 4;
    return true;
}

void set_io_port_space(void volatile* base, u64 size)
{
    g_io_port_space = static_cast<u8 volatile*>(base);
    g_io_port_space_size = size;
}

void initialize_early()
{
    // Exceptions are already reported: boot/aarch64/Boot.S installed the vectors before C++ ran.
}

void initialize_interrupts()
{
    auto const& info = boot_info();
    if (DeviceInfo const* psci = info.find_device("arm,psci-1.0"); psci && psci->base == 1)
        s_psci_smc = true; // DeviceTree.cpp records method = "smc" as base 1
    if (!gic::initialize(info))
        kprintln("interrupts: no interrupt controller; the console and the NICs will not interrupt");
}

u64 initialize_timer(u32 tick_hz, void (*tick)())
{
    // The generic timer (Arm ARM D11): CNTFRQ_EL0 gives the count's rate, the virtual timer
    // interrupts when CNTVCT_EL0 reaches CNTV_CVAL_EL0.
    u64 hz;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(hz));
    if (DeviceInfo const* timer = boot_info().find_device("arm,armv8-timer"); timer && timer->interrupt)
        s_timer_intid = timer->interrupt;
    s_tick = tick;
    s_timer_interval = hz / tick_hz;
    s_timer_deadline = cycle_counter() + s_timer_interval;
    asm volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(s_timer_deadline), "r"(u64 { 1 }));
    if (auto result = register_irq_handler(s_timer_intid, timer_interrupt, nullptr); result.is_error())
        kprintln("timer: interrupt {} not usable ({}): no tick", s_timer_intid, result.error());
    return hz;
}

void flush_tlb_everything()
{
    flush_tlb_all();
}

void activate_kernel_page_table(u64 root)
{
    // The kernel lives in the upper half (TTBR1). The lower half had only the boot identity map:
    // from now on nothing is mapped there and walks of it fault (TCR_EL1.EPD0).
    u64 tcr;
    asm volatile("mrs %0, tcr_el1" : "=r"(tcr));
    tcr |= 1ull << 7; // EPD0
    asm volatile("dsb ishst; msr ttbr1_el1, %0; msr ttbr0_el1, xzr; msr tcr_el1, %1; isb" ::"r"(root), "r"(tcr)
                 : "memory");
    flush_tlb_all();
}

uptr prepare_thread_stack(uptr stack_top, void* argument)
{
    // The first switch into the thread loads x19-x30 from here and returns into the trampoline
    // (ContextSwitch.S). sp stays 16-byte aligned.
    auto* frame = reinterpret_cast<u64*>(align_down(stack_top, 16)) - 12;
    for (int i = 0; i < 12; ++i)
        frame[i] = 0;
    frame[0] = reinterpret_cast<u64>(argument);                 // x19: the trampoline's argument
    frame[11] = reinterpret_cast<u64>(skiff_thread_trampoline); // x30
    return reinterpret_cast<uptr>(frame);
}

void power_off(u32 code)
{
    disable_interrupts();
    // Under QEMU with -semihosting: exit with status (code << 1) | 1, the status x86-64's
    // isa-debug-exit gives, so qemu/run reads both the same way. Without semihosting the hlt is an
    // undefined instruction that the trap code skips (semihosting_probe_failed).
    u64 block[2] = { kAdpStoppedApplicationExit, (static_cast<u64>(code) << 1) | 1 };
    s_semihosting_probe = true;
    register u64 x0 asm("x0") = kSemihostingExit;
    register u64 x1 asm("x1") = reinterpret_cast<u64>(block);
    asm volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    s_semihosting_probe = false;
    // PSCI SYSTEM_OFF: QEMU exits with status 0.
    psci_call(kPsciSystemOff);
    for (;;)
        wait_for_interrupt();
}

void reset()
{
    disable_interrupts();
    psci_call(kPsciSystemReset);
    for (;;)
        wait_for_interrupt();
}

} // namespace skiff::arch

// Where every interrupt and exception lands (from InterruptEntry.S): hardware IRQs go to their
// registered handler, page faults to mm/'s resolver, and anything unresolved becomes a report:
// vector, error code, registers, CR2 and a symbolised backtrace, then a panic.

#include <kernel/arch/x86_64/Pic.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/base/Sampler.h>

namespace skiff {

namespace {

struct IrqSlot {
    IrqHandler handler { nullptr };
    void* context { nullptr };
    u64 count { 0 };
};

IrqSlot s_irqs[16];
u64 s_spurious_irqs = 0;
PageFaultResolver s_page_fault_resolver = nullptr;
FaultDescriber s_fault_describer = nullptr;
PreemptHook s_preempt_hook = nullptr;

char const* const kExceptionNames[32] = {
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved",
};

void print_register(FormatSink& out, char const* name, u64 value)
{
    format(out, "{:>3}={:016x}  ", name, value);
}

// Intel SDM Vol. 3A 4.7: page-fault error code bits.
void describe_page_fault_error(FormatSink& out, u64 error)
{
    format(out, " ({} {}, {}{}{})", (error & 2) ? "write" : ((error & 16) ? "instruction fetch" : "read"),
        (error & 1) ? "to a page that is present (protection violation)" : "to a page that is not present",
        (error & 4) ? "user mode" : "kernel mode", (error & 8) ? ", reserved bit set" : "",
        (error & 32) ? ", protection key" : "");
}

[[noreturn]] void report_exception(TrapFrame const& frame)
{
    static bool s_reporting = false;
    if (s_reporting) {
        // A fault while printing a fault report: say so and stop without walking anything.
        console_write("\nPANIC: CPU exception while reporting a CPU exception\n", 55);
        power_off(127);
    }
    s_reporting = true;
    auto& out = console_sink();
    u64 cr2 = arch::read_cr2();
    format(out, "\nCPU exception {} ({}), error code {:#x}", frame.vector,
        frame.vector < 32 ? kExceptionNames[frame.vector] : "unexpected vector", frame.error_code);
    if (frame.vector == 14)
        describe_page_fault_error(out, frame.error_code);
    format(out, "\n");
    auto where = symbolize(frame.rip);
    format(out, "RIP={:016x} {}+{:#x}\n", frame.rip, where.name ? where.name : "??", where.offset);
    format(out, "CR2={:016x}  CR3={:016x}  RFLAGS={:016x}  CS={:#x}  SS={:#x}\n", cr2, arch::read_cr3(), frame.rflags,
        frame.cs, frame.ss);
    print_register(out, "RAX", frame.rax);
    print_register(out, "RBX", frame.rbx);
    print_register(out, "RCX", frame.rcx);
    print_register(out, "RDX", frame.rdx);
    format(out, "\n");
    print_register(out, "RSI", frame.rsi);
    print_register(out, "RDI", frame.rdi);
    print_register(out, "RBP", frame.rbp);
    print_register(out, "RSP", frame.rsp);
    format(out, "\n");
    print_register(out, "R8", frame.r8);
    print_register(out, "R9", frame.r9);
    print_register(out, "R10", frame.r10);
    print_register(out, "R11", frame.r11);
    format(out, "\n");
    print_register(out, "R12", frame.r12);
    print_register(out, "R13", frame.r13);
    print_register(out, "R14", frame.r14);
    print_register(out, "R15", frame.r15);
    format(out, "\n");
    // A page fault names what is mapped at CR2. So does a double fault: the usual one in a kernel is
    // a stack overflow into a guard page, whose page fault could not push its own frame (CR2 still
    // holds the guard address, and the handler runs on its own IST stack).
    if ((frame.vector == 14 || frame.vector == 8) && s_fault_describer)
        s_fault_describer(cr2);
    format(out, "backtrace:\n");
    format(out, "  #0 {:016x} {}+{:#x}\n", frame.rip, where.name ? where.name : "??", where.offset);
    print_backtrace(frame.rbp);
    format(out, "PANIC: unhandled CPU exception\n");
    stop_after_panic();
}

} // namespace

void register_irq_handler(u8 irq, IrqHandler handler, void* context)
{
    VERIFY(irq < 16 && handler);
    arch::InterruptDisabler disabler;
    VERIFY(!s_irqs[irq].handler);
    s_irqs[irq].handler = handler;
    s_irqs[irq].context = context;
    arch::pic::unmask(irq);
}

void unregister_irq_handler(u8 irq)
{
    VERIFY(irq < 16);
    arch::InterruptDisabler disabler;
    arch::pic::mask(irq);
    s_irqs[irq].handler = nullptr;
    s_irqs[irq].context = nullptr;
}

u64 irq_count(u8 irq)
{
    return irq < 16 ? s_irqs[irq].count : 0;
}
void set_page_fault_resolver(PageFaultResolver resolver)
{
    s_page_fault_resolver = resolver;
}
void set_fault_describer(FaultDescriber describer)
{
    s_fault_describer = describer;
}
void set_preempt_hook(PreemptHook hook)
{
    s_preempt_hook = hook;
}

} // namespace skiff

using namespace skiff;

extern "C" void x86_trap_dispatch(TrapFrame* frame)
{
    u64 vector = frame->vector;
    if (vector < 32) {
        if (vector == 14 && s_page_fault_resolver && s_page_fault_resolver(arch::read_cr2(), frame->error_code, *frame))
            return;
        report_exception(*frame);
    }
    if (vector >= arch::pic::kVectorBase && vector < arch::pic::kVectorBase + 16u) {
        u8 irq = static_cast<u8>(vector - arch::pic::kVectorBase);
        if (arch::pic::is_spurious(irq)) {
            ++s_spurious_irqs;
            return;
        }
        auto& slot = s_irqs[irq];
        ++slot.count;
        if (irq == 0)
            sampler::record(frame->rip);
        if (slot.handler)
            slot.handler(slot.context);
        arch::pic::end_of_interrupt(irq);
        if (s_preempt_hook)
            s_preempt_hook();
        return;
    }
    if (vector == 255)
        return; // spurious (APIC), nothing to acknowledge
    report_exception(*frame);
}

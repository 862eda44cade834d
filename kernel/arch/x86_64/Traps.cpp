// Where every interrupt and exception lands (from InterruptEntry.S): hardware IRQs go through the
// 8259 to the line table (kernel/base/Interrupts.cpp), page faults are decoded into a FaultInfo
// for mm/'s resolver, and anything unresolved becomes a report: in user mode a UserFault for the
// task code (which ends the task), in the kernel the vector, error code, registers, CR2 and a
// symbolised backtrace, then a panic. System calls arrive from SystemCallEntry.S.

#include <kernel/arch/x86_64/Pic.h>
#include <kernel/arch/x86_64/Pit.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/base/Sampler.h>

namespace skiff {

namespace {

u64 s_spurious_irqs = 0;

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
    if (frame.vector == 14 || frame.vector == 8)
        describe_fault_address(cr2);
    format(out, "backtrace:\n");
    format(out, "  #0 {:016x} {}+{:#x}\n", frame.rip, where.name ? where.name : "??", where.offset);
    print_backtrace(frame.rbp);
    format(out, "PANIC: unhandled CPU exception\n");
    stop_after_panic();
}

} // namespace

namespace arch {

// The 8259 pair: ISA IRQ 0-15; IRQ 2 is the cascade from the slave and never a device's.
u32 irq_line_count()
{
    return 16;
}
bool irq_line_usable(u32 line)
{
    return line < 16 && line != 2;
}
void mask_irq(u32 line)
{
    pic::mask(static_cast<u8>(line));
}
void unmask_irq(u32 line)
{
    pic::unmask(static_cast<u8>(line));
}
bool irq_line_requested(u32 line)
{
    return line < 16 && (pic::requests() >> line & 1);
}

} // namespace arch

namespace {

// The kernel's fault-safe user copies (SystemCallEntry.S): a page fault at one of these
// instructions that mm/ could not resolve resumes at its fixup, which returns what was not copied.
struct CopyFixup {
    u64 instruction;
    u64 fixup;
};
extern "C" CopyFixup const x86_user_copy_fixups[];

bool apply_user_copy_fixup(TrapFrame& frame)
{
    for (CopyFixup const* entry = x86_user_copy_fixups; entry->instruction; ++entry) {
        if (frame.rip == entry->instruction) {
            frame.rip = entry->fixup;
            return true;
        }
    }
    return false;
}

UserFaultKind user_fault_kind(u64 vector)
{
    switch (vector) {
    case 0:  // divide error
    case 4:  // overflow (INTO)
    case 16: // x87 floating-point error
    case 19: // SIMD floating-point exception
        return UserFaultKind::ArithmeticError;
    case 3: return UserFaultKind::Breakpoint;
    case 6: return UserFaultKind::IllegalInstruction;
    case 7: return UserFaultKind::FloatingPointUnavailable;
    case 5:  // BOUND range exceeded
    case 10: // invalid TSS
    case 11: // segment not present
    case 12: // stack-segment fault
    case 13: // general protection
        return UserFaultKind::ProtectionFault;
    case 14: return UserFaultKind::PageFault;
    case 17: return UserFaultKind::AlignmentFault;
    default: return UserFaultKind::Other;
    }
}

} // namespace

} // namespace skiff

using namespace skiff;

// Where SYSCALL lands (SystemCallEntry.S), with interrupts off and the frame built.
extern "C" void x86_system_call_dispatch(TrapFrame* frame)
{
    dispatch_system_call(*frame);
    arch::disable_interrupts();
    run_return_to_user_hook(*frame);
}

extern "C" void x86_trap_dispatch(TrapFrame* frame)
{
    u64 vector = frame->vector;
    if (vector < 32) {
        // Intel SDM Vol. 3A §4.7: bit 0 = the page was present, bit 1 = write, bit 2 = user mode,
        // bit 3 = a reserved bit was set (no resolver can fix that), bit 4 = instruction fetch.
        u64 error = frame->error_code;
        FaultInfo fault {};
        if (vector == 14) {
            fault = FaultInfo { arch::read_cr2(), (error & 2) != 0, (error & 4) != 0, (error & 1) != 0,
                (error & 16) != 0 };
            if (!(error & 8) && resolve_page_fault(fault, *frame)) {
                if (frame->from_user())
                    run_return_to_user_hook(*frame);
                return;
            }
            // The kernel copying to or from user memory that is not there: the copy fails instead.
            if (!frame->from_user() && apply_user_copy_fixup(*frame))
                return;
        }
        if (frame->from_user()) {
            UserFault user_fault { user_fault_kind(vector), fault, frame->rip, frame->rsp,
                vector < 32 ? kExceptionNames[vector] : "unexpected vector", frame->error_code };
            dispatch_user_fault(user_fault, *frame);
            run_return_to_user_hook(*frame);
            return;
        }
        report_exception(*frame);
    }
    if (vector >= arch::pic::kVectorBase && vector < arch::pic::kVectorBase + 16u) {
        u8 irq = static_cast<u8>(vector - arch::pic::kVectorBase);
        if (arch::pic::is_spurious(irq)) {
            ++s_spurious_irqs;
            return;
        }
        if (irq == arch::kTimerIrq)
            sampler::record(frame->rip);
        dispatch_irq(irq);
        arch::pic::end_of_interrupt(irq);
        run_preempt_hook();
        if (frame->from_user())
            run_return_to_user_hook(*frame);
        return;
    }
    if (vector == 255)
        return; // spurious (APIC), nothing to acknowledge
    report_exception(*frame);
}

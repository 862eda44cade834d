// Where every exception lands (from Vectors.S): IRQs are acknowledged at the GIC and go to the
// line table (kernel/base/Interrupts.cpp); data and instruction aborts are decoded from ESR_EL1
// into a FaultInfo for mm/'s resolver; anything unresolved becomes a report: the exception class
// and syndrome decoded, FAR, every register and a symbolised backtrace, then a panic.

#include <kernel/arch/aarch64/Gic.h>
#include <kernel/arch/aarch64/Machine.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/base/Sampler.h>

namespace skiff::arch {

namespace {

enum Kind : u64 {
    Sync = 0,
    Irq = 1,
    Fiq = 2,
    SError = 3,
    Unexpected = 4,
    StackOverflow = 5,
    LowerSync = 6,
    LowerIrq = 7
};

// ESR_EL1.EC values (Arm ARM D17.2.37).
constexpr u32 kEcUnknown = 0x00;
constexpr u32 kEcInstructionAbortLower = 0x20;
constexpr u32 kEcInstructionAbortSame = 0x21;
constexpr u32 kEcPcAlignment = 0x22;
constexpr u32 kEcDataAbortLower = 0x24;
constexpr u32 kEcDataAbortSame = 0x25;
constexpr u32 kEcSpAlignment = 0x26;
constexpr u32 kEcBrk = 0x3c;
constexpr u32 kEcSvc64 = 0x15;
constexpr u32 kEcFpSimd = 0x07;
constexpr u32 kEcSystemRegister = 0x18;

u64 s_spurious_irqs = 0;

char const* exception_class_name(u32 ec)
{
    switch (ec) {
    case kEcUnknown: return "undefined instruction";
    case 0x01: return "WFI/WFE trapped";
    case 0x07: return "FP/SIMD access (the kernel is built without them)";
    case 0x0e: return "illegal execution state";
    case 0x15: return "SVC";
    case 0x16: return "HVC";
    case 0x17: return "SMC";
    case 0x18: return "system register access trapped";
    case kEcInstructionAbortLower: return "instruction abort from a lower EL";
    case kEcInstructionAbortSame: return "instruction abort (page fault on a fetch)";
    case kEcPcAlignment: return "PC alignment fault";
    case kEcDataAbortLower: return "data abort from a lower EL";
    case kEcDataAbortSame: return "data abort (page fault)";
    case kEcSpAlignment: return "SP alignment fault";
    case 0x2f: return "SError";
    case kEcBrk: return "BRK instruction";
    default: return "unexpected exception class";
    }
}

// The fault status code of an abort (ISS.DFSC/IFSC, Arm ARM D17.2.37.1).
char const* fault_status_name(u32 status)
{
    switch (status & 0x3c) {
    case 0x04: return "translation fault";
    case 0x08: return "access flag fault";
    case 0x0c: return "permission fault";
    default: break;
    }
    switch (status) {
    case 0x00: return "address size fault, level 0";
    case 0x10: return "synchronous external abort";
    case 0x21: return "alignment fault";
    case 0x30: return "TLB conflict abort";
    default: return "other fault";
    }
}

bool is_abort(u32 ec)
{
    return ec == kEcDataAbortSame || ec == kEcDataAbortLower || ec == kEcInstructionAbortSame
        || ec == kEcInstructionAbortLower;
}

void print_register(FormatSink& out, char const* name, u64 value)
{
    format(out, "{:>4}={:016x}  ", name, value);
}

[[noreturn]] void report(TrapFrame const& frame, u64 kind)
{
    static bool s_reporting = false;
    if (s_reporting) {
        console_write("\nPANIC: CPU exception while reporting a CPU exception\n", 55);
        power_off(127);
    }
    s_reporting = true;
    auto& out = console_sink();
    u32 esr = static_cast<u32>(frame.esr);
    u32 ec = esr >> 26;
    if (kind == StackOverflow) {
        format(out,
            "\nCPU exception: kernel stack overflow: SP={:016x} is in an unmapped page (a guard page?); "
            "reported from the emergency stack\n",
            frame.sp);
    } else if (kind == Sync) {
        format(out, "\nCPU exception: {} (ESR={:#010x}: EC {:#x}, ISS {:#x})", exception_class_name(ec), esr, ec,
            esr & 0x1ffffff);
        if (is_abort(ec)) {
            u32 status = esr & 0x3f;
            bool write = (ec == kEcDataAbortSame || ec == kEcDataAbortLower) && (esr & (1u << 6));
            format(out, ": {} {}, level {}", write ? "write" : (ec == kEcInstructionAbortSame ? "fetch" : "read"),
                fault_status_name(status), status & 3);
            if ((status & 0x3c) == 0x04)
                format(out, " (no translation: the page is not present)");
            else if ((status & 0x3c) == 0x0c)
                format(out, " (the page is present; its permissions refuse the access)");
        }
        format(out, "\n");
    } else {
        static char const* const kKinds[] = { "", "IRQ", "FIQ", "SError", "exception from an unused vector" };
        format(out, "\nCPU exception: {} (ESR={:#x})\n", kKinds[kind < 5 ? kind : 4], esr);
    }
    auto where = symbolize(frame.elr);
    format(out, "ELR={:016x} {}+{:#x}\n", frame.elr, where.name ? where.name : "??", where.offset);
    u64 ttbr1;
    asm volatile("mrs %0, ttbr1_el1" : "=r"(ttbr1));
    format(out, "FAR={:016x}  SPSR={:016x}  TTBR1={:016x}\n", frame.far, frame.spsr, ttbr1);
    for (u32 i = 0; i < 31; ++i) {
        char name[4] = { 'x', static_cast<char>('0' + (i < 10 ? i : i / 10)),
            i < 10 ? '\0' : static_cast<char>('0' + i % 10), 0 };
        print_register(out, name, frame.x[i]);
        if (i % 4 == 3)
            format(out, "\n");
    }
    print_register(out, "SP", frame.sp);
    format(out, "\n");
    if (kind == StackOverflow || (kind == Sync && is_abort(ec)))
        describe_fault_address(kind == StackOverflow ? frame.sp : frame.far);
    format(out, "backtrace:\n");
    format(out, "  #0 {:016x} {}+{:#x}\n", frame.elr, where.name ? where.name : "??", where.offset);
    print_backtrace(frame.x[29]);
    format(out, "PANIC: unhandled CPU exception\n");
    stop_after_panic();
}

void handle_irq(TrapFrame const& frame)
{
    u32 intid = gic::acknowledge();
    if (intid >= 1020) {
        ++s_spurious_irqs; // nothing pending any more (GIC spec 2.2.1: 1020-1023 are special)
        return;
    }
    if (intid == timer_intid())
        sampler::record(frame.elr);
    dispatch_irq(intid);
    gic::end_of_interrupt(intid);
    run_preempt_hook();
}

// The kernel's fault-safe user copies (UserMode.cpp): a data abort at one of these instructions that
// mm/ could not resolve resumes at its fixup, which returns what was not copied.
struct CopyFixup {
    u64 instruction;
    u64 fixup;
};
extern "C" CopyFixup const aarch64_user_copy_fixups[];

bool apply_user_copy_fixup(TrapFrame& frame)
{
    for (CopyFixup const* entry = aarch64_user_copy_fixups; entry->instruction; ++entry) {
        if (frame.elr == entry->instruction) {
            frame.elr = entry->fixup;
            return true;
        }
    }
    return false;
}

UserFaultKind user_fault_kind(u32 ec)
{
    switch (ec) {
    case kEcUnknown:
    case kEcSystemRegister: return UserFaultKind::IllegalInstruction;
    case kEcFpSimd: return UserFaultKind::FloatingPointUnavailable;
    case kEcPcAlignment:
    case kEcSpAlignment: return UserFaultKind::AlignmentFault;
    case kEcBrk: return UserFaultKind::Breakpoint;
    case kEcDataAbortLower:
    case kEcInstructionAbortLower: return UserFaultKind::PageFault;
    default: return UserFaultKind::Other;
    }
}

// A synchronous exception from EL0: a system call, a fault mm/ resolves, or one that ends the task.
void handle_lower_sync(TrapFrame& frame)
{
    u32 esr = static_cast<u32>(frame.esr);
    u32 ec = esr >> 26;
    if (ec == kEcSvc64) {
        dispatch_system_call(frame); // ELR already points after the svc
        return;
    }
    FaultInfo fault {};
    if (ec == kEcDataAbortLower || ec == kEcInstructionAbortLower) {
        u32 status = esr & 0x3f;
        u32 group = status & 0x3c;
        fault = FaultInfo { frame.far, ec == kEcDataAbortLower && (esr & (1u << 6)) && !(esr & (1u << 8)), true,
            group != 0x04, ec == kEcInstructionAbortLower };
        if ((group == 0x04 || group == 0x08 || group == 0x0c) && resolve_page_fault(fault, frame))
            return;
    }
    UserFault user_fault { user_fault_kind(ec), fault, frame.elr, frame.sp, exception_class_name(ec), esr };
    dispatch_user_fault(user_fault, frame);
}

} // namespace

u32 irq_line_count()
{
    return gic::line_count();
}
bool irq_line_usable(u32 line)
{
    return line >= 16 && line < gic::line_count(); // SGIs are for other CPUs
}
void mask_irq(u32 line)
{
    gic::disable(line);
}
void unmask_irq(u32 line)
{
    gic::enable(line);
}
bool irq_line_requested(u32 line)
{
    return irq_line_usable(line) && gic::is_pending(line);
}

} // namespace skiff::arch

using namespace skiff;

extern "C" void aarch64_exception(TrapFrame* frame, u64 kind)
{
    using namespace skiff::arch;
    if (kind == Irq) {
        handle_irq(*frame);
        return;
    }
    if (kind == LowerIrq || kind == LowerSync) {
        if (kind == LowerIrq)
            handle_irq(*frame);
        else
            handle_lower_sync(*frame);
        // ELR and SPSR are about to be rewritten for the ERET: nothing may interrupt from here.
        disable_interrupts();
        run_return_to_user_hook(*frame);
        return;
    }
    if (kind == Sync) {
        u32 esr = static_cast<u32>(frame->esr);
        u32 ec = esr >> 26;
        if (ec == kEcUnknown && semihosting_probe_failed(*frame))
            return; // `hlt #0xf000` without semihosting: skipped, power_off tries PSCI next
        if (ec == kEcDataAbortSame || ec == kEcInstructionAbortSame) {
            u32 status = esr & 0x3f;
            u32 group = status & 0x3c;
            // Translation, access-flag and permission faults can be resolved (demand zero,
            // copy-on-write); anything else (alignment, external abort) is a bug to report.
            if (group == 0x04 || group == 0x08 || group == 0x0c) {
                FaultInfo fault { frame->far, ec == kEcDataAbortSame && (esr & (1u << 6)) && !(esr & (1u << 8)), false,
                    group != 0x04, ec == kEcInstructionAbortSame };
                if (resolve_page_fault(fault, *frame))
                    return;
                // The kernel copying to or from user memory that is not there: the copy fails.
                if (frame->far < (1ull << 47) && apply_user_copy_fixup(*frame))
                    return;
            }
        }
    }
    report(*frame, kind);
}

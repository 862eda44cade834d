// The interrupt-line table and the hooks of kernel/base/Interrupts.h, for every architecture. The
// architecture's trap code calls dispatch_irq(); its interrupt controller masks and unmasks.

#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>
#include <lib/Verify.h>

namespace skiff {

namespace {

struct IrqSlot {
    IrqHandler handler { nullptr };
    void* context { nullptr };
    u64 count { 0 };
};

// Enough for x86's 16 ISA lines and the GIC interrupt IDs QEMU's virt machine uses (SGIs 0-15,
// PPIs 16-31, SPIs from 32: the UART at 33, PCI INTx at 35-38). All guarded by interrupts off.
constexpr u32 kMaxLines = 256;
IrqSlot s_irqs[kMaxLines];
u64 s_unexpected = 0;
PageFaultResolver s_page_fault_resolver = nullptr;
FaultDescriber s_fault_describer = nullptr;
PreemptHook s_preempt_hook = nullptr;
UserFaultHandler s_user_fault_handler = nullptr;
SystemCallHandler s_system_call_handler = nullptr;
ReturnToUserHook s_return_to_user_hook = nullptr;

} // namespace

Result<void> register_irq_handler(u32 line, IrqHandler handler, void* context)
{
    VERIFY(handler);
    if (line >= kMaxLines || line >= arch::irq_line_count() || !arch::irq_line_usable(line))
        return Error::InvalidArgument;
    arch::InterruptDisabler disabler;
    if (s_irqs[line].handler)
        return Error::Busy;
    s_irqs[line].handler = handler;
    s_irqs[line].context = context;
    arch::unmask_irq(line);
    return {};
}

void unregister_irq_handler(u32 line)
{
    VERIFY(line < kMaxLines);
    arch::InterruptDisabler disabler;
    arch::mask_irq(line);
    s_irqs[line].handler = nullptr;
    s_irqs[line].context = nullptr;
}

u64 irq_count(u32 line)
{
    return line < kMaxLines ? s_irqs[line].count : 0;
}

u64 unexpected_irq_count()
{
    return s_unexpected;
}

void dispatch_irq(u32 line)
{
    if (line >= kMaxLines) {
        ++s_unexpected;
        kprintln("irq: interrupt on line {}, beyond the {} this kernel handles: ignored", line, kMaxLines);
        return;
    }
    auto& slot = s_irqs[line];
    ++slot.count;
    if (slot.handler) {
        slot.handler(slot.context);
        return;
    }
    // Nobody asked for this line: a device the kernel does not drive, or a routing mistake. Say so
    // once and mask it, so a level-triggered line cannot keep the CPU in its handler.
    ++s_unexpected;
    kprintln("irq: unexpected interrupt on line {} (no handler): line masked", line);
    arch::mask_irq(line);
}

void run_preempt_hook()
{
    if (s_preempt_hook)
        s_preempt_hook();
}

bool resolve_page_fault(FaultInfo const& fault, TrapFrame const& frame)
{
    return s_page_fault_resolver && s_page_fault_resolver(fault, frame);
}

void describe_fault_address(uptr address)
{
    if (s_fault_describer)
        s_fault_describer(address);
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

void set_user_fault_handler(UserFaultHandler handler)
{
    s_user_fault_handler = handler;
}
void set_system_call_handler(SystemCallHandler handler)
{
    s_system_call_handler = handler;
}
void set_return_to_user_hook(ReturnToUserHook hook)
{
    s_return_to_user_hook = hook;
}

void dispatch_system_call(TrapFrame& frame)
{
    // Nothing enters user mode before the task code installs its handler.
    VERIFY(s_system_call_handler);
    s_system_call_handler(frame);
}

void dispatch_user_fault(UserFault const& fault, TrapFrame& frame)
{
    VERIFY(s_user_fault_handler);
    s_user_fault_handler(fault, frame);
}

void run_return_to_user_hook(TrapFrame& frame)
{
    if (s_return_to_user_hook)
        s_return_to_user_hook(frame);
}

} // namespace skiff

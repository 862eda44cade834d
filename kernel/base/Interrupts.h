#pragma once

// Interrupt and exception plumbing shared by the kernel, mm/ and drivers/.
//
// Hardware interrupts arrive on lines numbered the way the architecture's interrupt controller
// numbers them: ISA IRQs 0-15 through the 8259 PIC pair on x86-64 (PCI INTx on QEMU's pc and q35
// arrives as an ISA IRQ too: the firmware writes the line into each function's configuration
// space), GIC interrupt IDs on AArch64 (PCI INTx as SPIs, routed by the device tree's
// interrupt-map). A handler runs with interrupts disabled; it acknowledges the device and wakes a
// thread. The end of interrupt is signalled by the architecture's dispatcher after the handler
// returns.
//
// Exceptions are decoded by the architecture's trap code; what reaches the rest of the kernel is
// named by intent (FaultInfo), never by an error-code bit.

#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff {

// Registers saved on every interrupt, exception or system call: the layout belongs to the
// architecture (kernel/arch/<arch>/TrapFrame.h); everyone else uses its accessors
//   uptr instruction_pointer() const;  uptr stack_pointer() const;  uptr frame_pointer() const;
//   bool from_user() const;            // taken in user mode
//   u64 system_call_number() const;    u64 system_call_argument(u32 index) const;
//   void set_system_call_result(u64 value);
// (the registers lib/Abi.h names for each architecture).
struct TrapFrame;

using IrqHandler = void (*)(void* context);

// Installs a handler for an interrupt line and unmasks it; one handler per line. InvalidArgument
// when the interrupt controller has no such line, Busy when the line has a handler already.
Result<void> register_irq_handler(u32 line, IrqHandler handler, void* context);
void unregister_irq_handler(u32 line);
// Interrupts counted per line, for the console.
u64 irq_count(u32 line);
// Interrupts that arrived on a line without a handler (each is reported once and its line masked).
u64 unexpected_irq_count();

// A page fault, as the architecture's trap code decoded it.
struct FaultInfo {
    uptr address; // the virtual address the access was made to
    bool write;   // a store (false: a load or an instruction fetch)
    bool user;    // made from user mode (a task's own access; false for the kernel's, even to user memory)
    bool present; // a translation existed and its permissions refused the access
    bool execute; // an instruction fetch
};

// Page faults go first to mm/: return true when the fault was resolved (copy-on-write, demand
// zero) and the faulting instruction may run again; false for a kernel bug, which panics with a
// full report. Faults the architecture knows no resolver can fix (a reserved bit set, an
// alignment fault) never reach it.
using PageFaultResolver = bool (*)(FaultInfo const& fault, TrapFrame const& frame);
void set_page_fault_resolver(PageFaultResolver resolver);
// A second hook lets mm/ describe what is mapped at an address in the fault report.
using FaultDescriber = void (*)(uptr address);
void set_fault_describer(FaultDescriber describer);

// Called on the way out of every hardware interrupt, after the end of interrupt, with interrupts
// still off: the scheduler switches threads here when the interrupt made a higher-priority thread
// runnable or the running thread's time slice ran out.
using PreemptHook = void (*)();
void set_preempt_hook(PreemptHook hook);

// --- User mode (tasks, kernel/task/) ----------------------------------------------------------------
// An exception taken in user mode that nothing resolved, named by intent for the task's fault
// report. The handler ends the task (it does not return to the faulting instruction).
enum class UserFaultKind : u8 {
    PageFault,                // `page` says what access, where
    IllegalInstruction,       // an undefined or privileged-only instruction
    ProtectionFault,          // a privileged operation or a non-canonical address
    ArithmeticError,          // divide by zero, overflow
    FloatingPointUnavailable, // floating point or SIMD: tasks may not use it (its registers are
                              // not saved across switches)
    Breakpoint,
    AlignmentFault,
    Other,
};
struct UserFault {
    UserFaultKind kind;
    FaultInfo page;             // PageFault only
    uptr instruction;           // the faulting instruction's address
    uptr stack_pointer;         // the user stack pointer at the fault
    char const* exception_name; // the architecture's name for it ("page fault", "invalid opcode")
    u64 code;                   // the architecture's error code or syndrome
};
using UserFaultHandler = void (*)(UserFault const& fault, TrapFrame& frame);
void set_user_fault_handler(UserFaultHandler handler);
// A system call (lib/Abi.h): the handler reads the number and arguments from the frame and sets
// the result there. Entered with interrupts off; the handler enables them.
using SystemCallHandler = void (*)(TrapFrame& frame);
void set_system_call_handler(SystemCallHandler handler);
// Runs with interrupts off just before every return to user mode (after a system call, and after
// an interrupt or exception taken in user mode): the task code ends here a thread whose task is
// being killed, so a task that only spins still dies.
using ReturnToUserHook = void (*)(TrapFrame& frame);
void set_return_to_user_hook(ReturnToUserHook hook);

// --- For the architecture's trap code ------------------------------------------------------------
void dispatch_system_call(TrapFrame& frame);
void dispatch_user_fault(UserFault const& fault, TrapFrame& frame);
void run_return_to_user_hook(TrapFrame& frame);
// Runs the handler of `line` (or reports an unexpected interrupt and masks the line); the caller
// signals the end of interrupt afterwards and then calls run_preempt_hook().
void dispatch_irq(u32 line);
void run_preempt_hook();
// The resolver and describer mm/ installed (null before mm/ is up).
bool resolve_page_fault(FaultInfo const& fault, TrapFrame const& frame);
void describe_fault_address(uptr address);

} // namespace skiff

// What each interrupt controller provides to the table above (kernel/arch/<arch>/).
namespace skiff::arch {
u32 irq_line_count();           // lines are 0 .. count-1; some may still be unusable
bool irq_line_usable(u32 line); // the controller can deliver it (not a cascade, not reserved)
void mask_irq(u32 line);
void unmask_irq(u32 line);
// A request is pending on the line, masked or not: how a driver finds which line a card that
// cannot say (an ISA card) interrupts on, by making it interrupt with every line masked.
bool irq_line_requested(u32 line);
} // namespace skiff::arch

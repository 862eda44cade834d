#pragma once

// Interrupt and exception plumbing shared by the kernel, mm/ and drivers/.
//
// Hardware interrupts: ISA IRQs 0-15 through the 8259 PIC pair (PCI INTx lines on QEMU's pc and
// q35 machines arrive as ISA IRQs too: the firmware writes the line into each function's
// configuration space). A handler runs with interrupts disabled; it acknowledges the device and
// wakes a thread. The EOI is sent by the dispatcher after the handler returns.

#include <lib/Types.h>

namespace skiff {

// Registers saved on every interrupt or exception, in the order the entry stubs push them.
struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector;
    u64 error_code;
    // Pushed by the CPU:
    u64 rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(TrapFrame) == 22 * 8);

using IrqHandler = void (*)(void* context);

// Install a handler for an ISA IRQ line (0-15) and unmask it. One handler per line.
void register_irq_handler(u8 irq, IrqHandler handler, void* context);
void unregister_irq_handler(u8 irq);
// Interrupts counted per line, for the console.
u64 irq_count(u8 irq);

// Page faults go first to mm/: return true when the fault was resolved (copy-on-write, demand
// zero) and the faulting instruction may run again; false for a kernel bug, which panics with a
// full report.
using PageFaultResolver = bool (*)(u64 address, u64 error_code, TrapFrame const& frame);
void set_page_fault_resolver(PageFaultResolver resolver);
// A second hook lets mm/ describe what is mapped at an address in the fault report.
using FaultDescriber = void (*)(u64 address);
void set_fault_describer(FaultDescriber describer);

// Called on the way out of every hardware interrupt, after the EOI, with interrupts still off:
// the scheduler switches threads here when the interrupt made a higher-priority thread runnable
// or the running thread's time slice ran out.
using PreemptHook = void (*)();
void set_preempt_hook(PreemptHook hook);

// Called on every timer tick (1 kHz) from the timer interrupt.
using TickHook = void (*)();
void set_tick_hook(TickHook hook);

} // namespace skiff

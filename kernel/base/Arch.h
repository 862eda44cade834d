#pragma once

// The architecture interface: what the rest of Skiff asks of the processor and the machine, named
// by what it is for (never by an instruction). Every architecture implements all of it: the small
// operations inline in kernel/arch/<arch>/Processor.h, the rest in kernel/arch/<arch>/*.cpp. The
// build chooses the architecture (kernel/CMakeLists.txt sets SKIFF_ARCH_PROCESSOR_HEADER to that
// header); nothing outside kernel/arch/ and mm/arch/ names an architecture.
//
// The declarations below are the contract; an architecture that leaves an inline one undefined
// fails to compile wherever it is used.

#include <lib/Types.h>

namespace skiff {
struct BootInfo;
struct TrapFrame;
} // namespace skiff

namespace skiff::arch {

// --- This CPU's interrupts ---------------------------------------------------------------------
inline void disable_interrupts();
inline void enable_interrupts();
inline bool interrupts_enabled();
// Enables interrupts and waits for one, as one step: an interrupt that becomes pending between
// the two still ends the wait (the idle loop and the console's wait depend on it).
inline void enable_interrupts_and_wait();
// Waits for an interrupt without changing the interrupt mask (with interrupts off: forever).
inline void wait_for_interrupt();
// A hint inside a spin-wait loop.
inline void relax();

// Disables interrupts for a scope and restores the previous state on exit. The kernel runs on one
// CPU, so this is also its spinlock.
class InterruptDisabler {
public:
    InterruptDisabler()
        : m_were_enabled(interrupts_enabled())
    {
        disable_interrupts();
    }
    ~InterruptDisabler()
    {
        if (m_were_enabled)
            enable_interrupts();
    }
    InterruptDisabler(InterruptDisabler const&) = delete;
    InterruptDisabler& operator=(InterruptDisabler const&) = delete;

private:
    bool m_were_enabled;
};

// --- The cycle counter ---------------------------------------------------------------------------
// A free-running 64-bit counter at a constant rate (time::cycle_hz() after initialize_timer()):
// the TSC on x86-64, the generic timer's virtual count on AArch64.
inline u64 cycle_counter();
// The same, read only after every earlier instruction has completed and before any later one
// starts: for timing a short piece of code (membench, prof, zc bench).
inline u64 cycle_counter_ordered();

// --- TLB maintenance for the kernel's address space (mm/ counts every call) ---------------------
// Makes page-table stores visible to the hardware walker before the next access through them.
inline void publish_page_table_writes();
inline void flush_tlb_page(uptr virtual_address); // one page's translation
inline void flush_tlb_all();                      // every non-global translation
void flush_tlb_everything();                      // global translations too
// Makes `root` (the physical address of a top-level table built by mm/) the kernel's tables.
void activate_kernel_page_table(u64 root);

// --- Devices (kernel/base/IoWindow.h) --------------------------------------------------------------
// I/O-port accessors arch::io_port_read8/16/32, io_port_write8/16/32 and the *_repeated forms are
// defined inline by each architecture (Processor.h).
// Orders earlier stores to RAM before a following store to device memory.
inline void device_write_barrier();
// Where the I/O-port space is reachable as memory, on architectures that reach it that way (the
// PCI host bridge's I/O window on AArch64); x86-64 has port instructions and ignores this.
void set_io_port_space(void volatile* base, u64 size);

// --- Threads ---------------------------------------------------------------------------------------
// Prepares a new thread's stack so that the first skiff_switch_context() into it calls
// skiff_thread_start(argument) with interrupts off; returns the stack pointer to load.
uptr prepare_thread_stack(uptr stack_top, void* argument);

// --- User mode: tasks in the lower half (kernel/task/, kernel/syscall/) ---------------------------
// What the processor offers, found by initialize_user_mode().
struct UserModeFeatures {
    bool execute_protection { false }; // the kernel cannot run user code (x86-64 SMEP, AArch64 PXN)
    bool access_protection { false };  // the kernel touches user memory only inside a user-access
                                       // window (x86-64 SMAP, AArch64 PAN)
    bool address_space_ids { false };  // TLB entries tagged per address space (PCID, ASID)
    char const* entry { "" };          // how calls enter the kernel ("syscall/sysret", "svc/eret")
};
// Installs the system-call entry and the user-mode segments or states, turns on the protections
// the CPU has, and returns what it found. After initialize_early().
UserModeFeatures initialize_user_mode();
UserModeFeatures user_mode_features();
// The top of the kernel stack the CPU switches to when the current thread enters the kernel from
// user mode (x86-64: TSS.RSP0 and the system-call entry's stack). The scheduler sets it for every
// thread of a task it switches to.
void set_kernel_entry_stack(uptr stack_top);
// Makes `root` (a table mm/ built for a task: its lower half, the kernel's upper half) the current
// translation. The kernel's own table stays reachable: its half is shared.
void activate_user_page_table(u64 root);
// Leaves the kernel for user mode at `entry` with two arguments in the first two argument
// registers, interrupts on, as if called from address 0 (lib/Abi.h): `stack_pointer` is 16-byte
// aligned with at least 16 zero bytes below it (x86-64 enters with rsp 8 below it, on a zero
// return address; AArch64 with sp there and lr 0). The thread comes back only through system
// calls, interrupts and exceptions, on its kernel entry stack.
[[noreturn]] void enter_user_mode(uptr entry, uptr stack_pointer, u64 argument0, u64 argument1);
// The user-access window: inside it the kernel may read and write user memory (SMAP's AC flag,
// PAN); outside it any such access faults where the CPU can tell. Not nested.
inline void begin_user_access();
inline void end_user_access();
// Fault-safe copies between the kernel and the current address space's lower half (the caller has
// checked that the user range lies there). A page that is missing and cannot be faulted in makes
// them stop and return false instead of faulting the kernel; what was copied before stays copied.
bool copy_from_user(void* to, uptr from, usize length);
bool copy_to_user(uptr to, void const* from, usize length);

// --- Bring-up, in order (kernel/Main.cpp) ----------------------------------------------------------
// Exception handling: from here on a fault is reported, not a silent reset.
void initialize_early();
// Reads what the loader left (Multiboot on x86-64, the device tree on AArch64) into `info`.
// Returns false, with a message printed, when it makes no sense; the caller panics.
bool read_boot_info(BootInfo& info);
// The interrupt controller, every line masked.
void initialize_interrupts();
// Measures or reads the cycle counter's frequency (returned, in Hz) and starts the periodic tick
// at `tick_hz`, which calls tick() from the timer interrupt.
u64 initialize_timer(u32 tick_hz, void (*tick)());

// --- The machine -----------------------------------------------------------------------------------
// Ends the machine; under QEMU the process exits with a status from which qemu/run recovers `code`.
[[noreturn]] void power_off(u32 code);
[[noreturn]] void reset();

} // namespace skiff::arch

// kernel/arch/<arch>/ContextSwitch.S: saves the callee-saved registers on the current stack,
// stores the stack pointer in *save_sp, loads load_sp and restores the registers saved there,
// resuming the thread that saved them. Called with interrupts off.
extern "C" void skiff_switch_context(u64* save_sp, u64 load_sp);

// The architecture's definitions of the inline operations above, and its constants:
//   kName                   "x86_64" / "aarch64", for the banner and `version`
//   kTargetDescription      what `version` says about the boot protocol and machine
//   kCycleCounterName       "TSC" / "CNTVCT", for commands that print cycles
//   kElfMachine             the e_machine of user programs (62 x86-64, 183 AArch64)
//   kExecuteProtectionName  "SMEP" / "PXN"; kAccessProtectionName "SMAP" / "PAN"
#include SKIFF_ARCH_PROCESSOR_HEADER

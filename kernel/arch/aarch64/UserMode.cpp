// User mode on AArch64 (the user-mode part of kernel/base/Arch.h): tasks run at EL0, their lower
// half translated through TTBR0_EL1 while the kernel keeps TTBR1_EL1; system calls are `svc #0`
// with the number in x8 and the arguments in x0-x5 (lib/Abi.h), taken through Vectors.S's
// lower-EL entries on the task thread's kernel stack (SP_EL1).
//
// What the CPU offers: PXN is architectural (the kernel never executes a task's page: the walker
// sets it on every user page, mm/arch/aarch64/PageTable.cpp), the equivalent of x86-64's SMEP.
// PAN (ARMv8.1) would be the equivalent of SMAP; QEMU's cortex-a72 has none, and it is not used
// here yet (the copies and the network stack's in-place access would need PSTATE.PAN kept across
// context switches). No ASIDs either: switching TTBR0 invalidates the whole TLB, as x86-64 does
// without PCID.

#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>

extern "C" [[noreturn]] void aarch64_enter_user_mode(
    u64 entry, u64 stack_pointer, u64 argument0, u64 argument1, u64 kernel_stack_top);
extern "C" u64 aarch64_copy_user(void* to, void const* from, u64 count);

namespace skiff::arch {

namespace {

// The current task thread's kernel stack top (the scheduler sets it on every switch to one).
uptr s_kernel_entry_stack = 0;
UserModeFeatures s_features;

constexpr u64 kTcrEpd0 = 1ull << 7;         // TCR_EL1.EPD0: no walks of TTBR0 (Arm ARM D17.2.131)
constexpr u64 kCntkctlEl0Vcten = 1ull << 1; // CNTKCTL_EL1.EL0VCTEN: EL0 may read CNTVCT_EL0

} // namespace

UserModeFeatures initialize_user_mode()
{
    // Floating point and SIMD trap at EL0 and EL1 (CPACR_EL1.FPEN = 0): a task that uses them is
    // ended (the kernel does not save those registers).
    asm volatile("msr cpacr_el1, xzr; isb" ::: "memory");
    u64 cntkctl;
    asm volatile("mrs %0, cntkctl_el1" : "=r"(cntkctl));
    asm volatile("msr cntkctl_el1, %0; isb" ::"r"(cntkctl | kCntkctlEl0Vcten) : "memory");
    s_features = UserModeFeatures { true, false, false, "svc/eret" };
    return s_features;
}

UserModeFeatures user_mode_features()
{
    return s_features;
}

void set_kernel_entry_stack(uptr stack_top)
{
    // Exceptions from EL0 land on SP_EL1, which is wherever the kernel left it when it returned
    // to EL0: the top of the thread's stack, since every return to EL0 unwinds its frame there.
    // Only the first entry needs the top explicitly (enter_user_mode).
    s_kernel_entry_stack = stack_top;
}

void activate_user_page_table(u64 root)
{
    u64 tcr;
    asm volatile("mrs %0, tcr_el1" : "=r"(tcr));
    asm volatile("dsb ishst; msr ttbr0_el1, %0; msr tcr_el1, %1; isb" ::"r"(root), "r"(tcr & ~kTcrEpd0) : "memory");
    // No ASIDs: the previous task's translations must go.
    flush_tlb_all();
}

void enter_user_mode(uptr entry, uptr stack_pointer, u64 argument0, u64 argument1)
{
    aarch64_enter_user_mode(entry, align_down(stack_pointer, 16), argument0, argument1, s_kernel_entry_stack);
}

bool copy_from_user(void* to, uptr from, usize length)
{
    begin_user_access();
    u64 left = aarch64_copy_user(to, reinterpret_cast<void const*>(from), length);
    end_user_access();
    return left == 0;
}

bool copy_to_user(uptr to, void const* from, usize length)
{
    begin_user_access();
    u64 left = aarch64_copy_user(reinterpret_cast<void*>(to), from, length);
    end_user_access();
    return left == 0;
}

} // namespace skiff::arch

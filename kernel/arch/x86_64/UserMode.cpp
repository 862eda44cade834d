// User mode on x86-64 (the user-mode part of kernel/base/Arch.h): SYSCALL/SYSRET, the kernel entry
// stack, SMEP and SMAP where the CPU model has them, the task's CR3, and the fault-safe copies.
//
// QEMU's default TCG CPU (qemu64) has SYSCALL and NX but neither SMEP nor SMAP nor PCID; `-cpu max`
// has all three. What was found is printed at boot (kernel/task/Tasks.cpp) and by `tasks`.

#include <kernel/arch/x86_64/DescriptorTables.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>

extern "C" u64 x86_kernel_entry_stack;
extern "C" void x86_system_call_entry();
extern "C" [[noreturn]] void x86_enter_user_mode(u64 entry, u64 stack_pointer, u64 argument0, u64 argument1);
extern "C" u64 x86_copy_user(void* to, void const* from, u64 count);

namespace skiff::arch {

bool x86_smap_enabled = false;

namespace {

// Intel SDM Vol. 4 (model-specific registers) and Vol. 3A §5.8.8.
constexpr u32 kMsrEfer = 0xc0000080;
constexpr u32 kMsrStar = 0xc0000081;
constexpr u32 kMsrLstar = 0xc0000082;
constexpr u32 kMsrSfmask = 0xc0000084;
constexpr u64 kEferSystemCallEnable = 1ull << 0;
// Cleared on entry: TF, IF, DF, NT (so IRETQ never tries a task return) and AC (so the kernel runs
// with SMAP enforced).
constexpr u64 kEntryFlagsMask = (1ull << 8) | (1ull << 9) | (1ull << 10) | (1ull << 14) | (1ull << 18);
constexpr u64 kCr4Pcid = 1ull << 17;
constexpr u64 kCr4Smep = 1ull << 20;
constexpr u64 kCr4Smap = 1ull << 21;

UserModeFeatures s_features;

} // namespace

UserModeFeatures initialize_user_mode()
{
    u32 a, b, c, d;
    cpuid(0, 0, a, b, c, d);
    u32 max_leaf = a;
    bool smep = false, smap = false;
    if (max_leaf >= 7) {
        cpuid(7, 0, a, b, c, d);
        smep = b & (1u << 7);
        smap = b & (1u << 20);
    }
    cpuid(1, 0, a, b, c, d);
    bool pcid = c & (1u << 17);

    write_msr(kMsrEfer, read_msr(kMsrEfer) | kEferSystemCallEnable);
    write_msr(kMsrStar, (static_cast<u64>(kSysretBaseSelector) << 48) | (static_cast<u64>(kKernelCodeSelector) << 32));
    write_msr(kMsrLstar, reinterpret_cast<u64>(x86_system_call_entry));
    write_msr(kMsrSfmask, kEntryFlagsMask);

    u64 cr4 = read_cr4();
    if (smep)
        cr4 |= kCr4Smep;
    if (smap)
        cr4 |= kCr4Smap;
    write_cr4(cr4);
    x86_smap_enabled = smap;
    // PCID is detected and reported, not used: every switch of address space reloads CR3 in full
    // (the kernel's pages are not global, so that flush is complete).
    (void)kCr4Pcid;
    s_features = UserModeFeatures { smep, smap, pcid, "syscall/sysret" };
    return s_features;
}

UserModeFeatures user_mode_features()
{
    return s_features;
}

void set_kernel_entry_stack(uptr stack_top)
{
    x86_kernel_entry_stack = stack_top;
    set_interrupt_entry_stack(stack_top);
}

void activate_user_page_table(u64 root)
{
    write_cr3(root);
}

void enter_user_mode(uptr entry, uptr stack_pointer, u64 argument0, u64 argument1)
{
    x86_enter_user_mode(entry, stack_pointer, argument0, argument1);
}

bool copy_from_user(void* to, uptr from, usize length)
{
    begin_user_access();
    u64 left = x86_copy_user(to, reinterpret_cast<void const*>(from), length);
    end_user_access();
    return left == 0;
}

bool copy_to_user(uptr to, void const* from, usize length)
{
    begin_user_access();
    u64 left = x86_copy_user(reinterpret_cast<void*>(to), from, length);
    end_user_access();
    return left == 0;
}

} // namespace skiff::arch

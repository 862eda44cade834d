// Global descriptor table, task state segment and interrupt descriptor table for long mode.
//
// In 64-bit mode segmentation is mostly gone (Intel SDM Vol. 3A 3.2.4): the GDT still needs a code
// segment with L=1, a data segment, the user-mode pair, and a TSS descriptor, because the TSS holds
// RSP0 (the stack an interrupt from user mode switches to) and the Interrupt Stack Table (IST,
// SDM 6.14.5). The double-fault handler runs on IST1, its own stack, so a kernel stack
// overflow into a guard page (whose page fault cannot push its frame) still gets reported.

#include <kernel/arch/x86_64/DescriptorTables.h>
#include <kernel/base/Arch.h>

namespace skiff::arch {

namespace {

struct [[gnu::packed]] TaskStateSegment {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 io_map_base;
};
static_assert(sizeof(TaskStateSegment) == 104);

struct [[gnu::packed]] DescriptorPointer {
    u16 limit;
    u64 base;
};

// SDM 6.14.1: a 64-bit interrupt gate.
struct InterruptGate {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attributes;
    u16 offset_middle;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(InterruptGate) == 16);

constexpr u8 kGatePresentInterrupt = 0x8e; // present, DPL 0, 64-bit interrupt gate
constexpr usize kDoubleFaultStackSize = 16384;

alignas(16) u8 s_double_fault_stack[kDoubleFaultStackSize];
alignas(16) u8 s_nmi_stack[4096];
TaskStateSegment s_tss;
// null, kernel code, kernel data, user data, user code, TSS (16 bytes = two slots).
u64 s_gdt[7];
alignas(16) InterruptGate s_idt[256];

} // namespace

extern "C" u64 const interrupt_stub_table[49];

void load_descriptor_tables()
{
    s_gdt[0] = 0;
    s_gdt[1] = 0x00209a0000000000ull; // code: present, DPL 0, executable, L (64-bit)
    s_gdt[2] = 0x0000920000000000ull; // data: present, writable
    s_gdt[3] = 0x0000f20000000000ull; // user data: present, DPL 3, writable
    s_gdt[4] = 0x0020fa0000000000ull; // user code: present, DPL 3, executable, L (64-bit)
    s_tss.ist[0] = reinterpret_cast<u64>(s_double_fault_stack + kDoubleFaultStackSize);
    s_tss.ist[1] = reinterpret_cast<u64>(s_nmi_stack + sizeof(s_nmi_stack));
    s_tss.io_map_base = sizeof(TaskStateSegment); // no I/O permission bitmap
    u64 base = reinterpret_cast<u64>(&s_tss);
    u64 limit = sizeof(TaskStateSegment) - 1;
    // SDM 8.2.3: a 16-byte TSS descriptor, type 9 (available 64-bit TSS), present.
    s_gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    s_gdt[6] = base >> 32;

    DescriptorPointer gdt_pointer { sizeof(s_gdt) - 1, reinterpret_cast<u64>(s_gdt) };
    asm volatile("lgdt %0\n"
                 // Reload CS with a far return, then the data segments.
                 "pushq %1\n"
                 "leaq 1f(%%rip), %%rax\n"
                 "pushq %%rax\n"
                 "lretq\n"
                 "1:\n"
                 "movw %w2, %%ds\n"
                 "movw %w2, %%es\n"
                 "movw %w2, %%ss\n"
                 "ltr %w3\n"
                 :
                 : "m"(gdt_pointer), "i"(kKernelCodeSelector), "r"(kKernelDataSelector), "r"(kTssSelector)
                 : "rax", "memory");

    auto set_gate = [](usize vector, u64 handler, u8 ist) {
        s_idt[vector] = InterruptGate {
            static_cast<u16>(handler),
            kKernelCodeSelector,
            ist,
            kGatePresentInterrupt,
            static_cast<u16>(handler >> 16),
            static_cast<u32>(handler >> 32),
            0,
        };
    };
    for (usize vector = 0; vector < 48; ++vector)
        set_gate(vector, interrupt_stub_table[vector], 0);
    set_gate(2, interrupt_stub_table[2], 2); // NMI on IST2
    set_gate(8, interrupt_stub_table[8], 1); // double fault on IST1
    set_gate(255, interrupt_stub_table[48], 0);
    DescriptorPointer idt_pointer { sizeof(s_idt) - 1, reinterpret_cast<u64>(s_idt) };
    asm volatile("lidt %0" ::"m"(idt_pointer) : "memory");
}

void set_interrupt_entry_stack(uptr stack_top)
{
    s_tss.rsp[0] = stack_top;
}

} // namespace skiff::arch

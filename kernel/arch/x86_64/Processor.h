#pragma once

// x86-64's implementation of the inline part of the architecture interface (kernel/base/Arch.h).
// Included through that header only; code outside kernel/arch/x86_64/ never includes it.

#include <kernel/arch/x86_64/Cpu.h>
#include <kernel/arch/x86_64/Io.h>
#include <kernel/arch/x86_64/TrapFrame.h>

namespace skiff::arch {

constexpr char const kName[] = "x86_64";
constexpr char const kTargetDescription[] = "x86_64, Multiboot, QEMU pc/q35";
constexpr char const kCycleCounterName[] = "TSC";
// User programs are ELF files for this machine (e_machine, System V AMD64 psABI).
constexpr u16 kElfMachine = 62;
// What the user-mode protections are called here (UserModeFeatures).
constexpr char const kExecuteProtectionName[] = "SMEP";
constexpr char const kAccessProtectionName[] = "SMAP";
// boot/x86_64/Boot.S maps the first 1 GiB of physical memory (kernel/base/Layout.h).
constexpr u64 kBootMappedPhysicalEnd = 1ull << 30;
// mm/ maps physical memory from 0 up in the direct map (low memory holds the BIOS data and, at
// 1 MiB, the image).
constexpr bool kDirectMapFromZero = true;

inline void disable_interrupts()
{
    cli();
}
inline void enable_interrupts()
{
    sti();
}
inline bool interrupts_enabled()
{
    return read_flags() & kFlagsInterruptEnable;
}
// sti takes effect only after the next instruction, so an interrupt that arrives between the two
// still wakes the hlt.
inline void enable_interrupts_and_wait()
{
    asm volatile("sti; hlt" ::: "memory");
}
inline void wait_for_interrupt()
{
    hlt();
}
inline void relax()
{
    pause();
}

inline u64 cycle_counter()
{
    return rdtsc();
}
// rdtsc is not ordered against earlier loads and stores; lfence makes it wait for them, and the
// second keeps later instructions from starting before it (Intel SDM Vol. 2B, RDTSC).
inline u64 cycle_counter_ordered()
{
    asm volatile("lfence" ::: "memory");
    u64 value = rdtsc();
    asm volatile("lfence" ::: "memory");
    return value;
}

// Stores to the tables are seen by the page walker in program order (SDM §4.10.2.3 covers what a
// TLB may hold): only the compiler must not move them.
inline void publish_page_table_writes()
{
    asm volatile("" ::: "memory");
}
// Invalidate the TLB entry for one virtual page (Intel SDM Vol. 3A 4.10.4.1).
inline void flush_tlb_page(uptr virtual_address)
{
    invlpg(virtual_address);
}
// Reloading CR3 drops every non-global translation (SDM §4.10.4.1). The kernel maps nothing
// global, so this is a complete flush.
inline void flush_tlb_all()
{
    write_cr3(read_cr3());
}

// SMAP (Intel SDM Vol. 3A §4.6.1): with CR4.SMAP set, supervisor accesses to user pages fault
// unless RFLAGS.AC is set; STAC and CLAC set and clear it. Both are undefined on a CPU without
// SMAP, so they run only where UserMode.cpp turned it on.
extern bool x86_smap_enabled;
inline void begin_user_access()
{
    if (x86_smap_enabled)
        asm volatile("stac" ::: "memory");
}
inline void end_user_access()
{
    if (x86_smap_enabled)
        asm volatile("clac" ::: "memory");
}

// The I/O-port space of the I/O window (kernel/base/IoWindow.h): the in/out instructions.
inline u8 io_port_read8(u32 port)
{
    return inb(static_cast<u16>(port));
}
inline u16 io_port_read16(u32 port)
{
    return inw(static_cast<u16>(port));
}
inline u32 io_port_read32(u32 port)
{
    return inl(static_cast<u16>(port));
}
inline void io_port_write8(u32 port, u8 value)
{
    outb(static_cast<u16>(port), value);
}
inline void io_port_write16(u32 port, u16 value)
{
    outw(static_cast<u16>(port), value);
}
inline void io_port_write32(u32 port, u32 value)
{
    outl(static_cast<u16>(port), value);
}
inline void io_port_read16_repeated(u32 port, void* buffer, usize count)
{
    insw(static_cast<u16>(port), buffer, count);
}
inline void io_port_write16_repeated(u32 port, void const* buffer, usize count)
{
    outsw(static_cast<u16>(port), buffer, count);
}
inline void io_port_read32_repeated(u32 port, void* buffer, usize count)
{
    insl(static_cast<u16>(port), buffer, count);
}
inline void io_port_write32_repeated(u32 port, void const* buffer, usize count)
{
    outsl(static_cast<u16>(port), buffer, count);
}
// Stores reach memory and devices in program order on x86-64 (Intel SDM Vol. 3A §8.2.2): only
// the compiler must keep them in order.
inline void device_write_barrier()
{
    asm volatile("" ::: "memory");
}
// The ISA bus exists here: an ISA NE2000 may sit at I/O 0x300.
constexpr bool kHasIsaBus = true;

} // namespace skiff::arch

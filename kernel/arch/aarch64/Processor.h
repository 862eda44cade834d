#pragma once

// AArch64's implementation of the inline part of the architecture interface (kernel/base/Arch.h),
// for QEMU's virt machine. Included through that header only. References: Arm Architecture
// Reference Manual for A-profile (DDI 0487), "Arm ARM" below.

#include <kernel/arch/aarch64/TrapFrame.h>
#include <lib/Types.h>

namespace skiff::arch {

constexpr char const kName[] = "aarch64";
constexpr char const kTargetDescription[] = "aarch64, arm64 Image + device tree, QEMU virt";
constexpr char const kCycleCounterName[] = "CNTVCT";
// User programs are ELF files for this machine (e_machine, the AArch64 ELF psABI).
constexpr u16 kElfMachine = 183;
// What the user-mode protections are called here (UserModeFeatures).
constexpr char const kExecuteProtectionName[] = "PXN";
constexpr char const kAccessProtectionName[] = "PAN";
// boot/aarch64/Boot.S maps RAM from 1 GiB to 2 GiB (kernel/base/Layout.h).
constexpr u64 kBootMappedPhysicalEnd = 2ull << 30;
// Physical memory below RAM holds devices: the direct map starts at RAM, not at 0.
constexpr bool kDirectMapFromZero = false;
// No ISA bus: I/O ports exist only as the PCI host bridge's I/O space.
constexpr bool kHasIsaBus = false;

// DAIF.I masks IRQs (Arm ARM C5.2.2); FIQs are not used.
inline void disable_interrupts()
{
    asm volatile("msr daifset, #2" ::: "memory");
}
inline void enable_interrupts()
{
    asm volatile("msr daifclr, #2" ::: "memory");
}
inline bool interrupts_enabled()
{
    u64 daif;
    asm volatile("mrs %0, daif" : "=r"(daif));
    return !(daif & (1 << 7));
}
// WFI wakes on a pending interrupt even while it is masked (Arm ARM D1.16.2), so waiting first and
// unmasking after cannot miss one: the interrupt is taken right after the msr.
inline void enable_interrupts_and_wait()
{
    asm volatile("dsb sy; wfi; msr daifclr, #2" ::: "memory");
}
inline void wait_for_interrupt()
{
    asm volatile("dsb sy; wfi" ::: "memory");
}
inline void relax()
{
    asm volatile("yield" ::: "memory");
}

// The generic timer's virtual count (CNTVCT_EL0) at CNTFRQ_EL0 Hz. An ISB before the read keeps it
// from being taken early (Arm ARM D11.2.2); the ordered form also waits for memory accesses.
inline u64 cycle_counter()
{
    u64 value;
    asm volatile("isb; mrs %0, cntvct_el0" : "=r"(value)::"memory");
    return value;
}
inline u64 cycle_counter_ordered()
{
    u64 value;
    asm volatile("dsb sy; isb; mrs %0, cntvct_el0; isb" : "=r"(value)::"memory");
    return value;
}

// Translation-table stores must be complete before the walker may read them and before a TLB
// invalidation (DSB ISHST), and later instructions must not run on a stale view (ISB): Arm ARM
// D5.10.2.
inline void publish_page_table_writes()
{
    asm volatile("dsb ishst; isb" ::: "memory");
}
// TLBI VAAE1IS: this page, every ASID (the kernel's entries are global), the inner shareable
// domain; then wait for it (DSB ISH) and resynchronise (ISB).
inline void flush_tlb_page(uptr virtual_address)
{
    asm volatile("dsb ishst; tlbi vaae1is, %0; dsb ish; isb" ::"r"((virtual_address >> 12) & 0xfffffffffffull)
                 : "memory");
}
inline void flush_tlb_all()
{
    asm volatile("dsb ishst; tlbi vmalle1is; dsb ish; isb" ::: "memory");
}

// The I/O-port space of the I/O window (kernel/base/IoWindow.h): the PCI host bridge decodes port
// p at its I/O window's CPU address + p (the device tree's `ranges`), which drivers/pci maps at
// boot and hands over with set_io_port_space(). A port outside it reads as all ones, as an
// unclaimed ISA port would.
extern u8 volatile* g_io_port_space;
extern u64 g_io_port_space_size;
void set_io_port_space(void volatile* base, u64 size);

// Device-nGnRE accesses reach the device in program order, but not in order with Normal-memory
// stores such as a descriptor written before its doorbell: DMB OSHST first (what Linux's writel
// does).
template<typename T>
inline T io_port_read(u32 port)
{
    if (port + sizeof(T) > g_io_port_space_size)
        return static_cast<T>(~T(0));
    return *reinterpret_cast<T volatile*>(g_io_port_space + port);
}
template<typename T>
inline void io_port_write(u32 port, T value)
{
    if (port + sizeof(T) > g_io_port_space_size)
        return;
    asm volatile("dmb oshst" ::: "memory");
    *reinterpret_cast<T volatile*>(g_io_port_space + port) = value;
}
inline u8 io_port_read8(u32 port)
{
    return io_port_read<u8>(port);
}
inline u16 io_port_read16(u32 port)
{
    return io_port_read<u16>(port);
}
inline u32 io_port_read32(u32 port)
{
    return io_port_read<u32>(port);
}
inline void io_port_write8(u32 port, u8 value)
{
    io_port_write<u8>(port, value);
}
inline void io_port_write16(u32 port, u16 value)
{
    io_port_write<u16>(port, value);
}
inline void io_port_write32(u32 port, u32 value)
{
    io_port_write<u32>(port, value);
}
inline void io_port_read16_repeated(u32 port, void* buffer, usize count)
{
    auto* out = static_cast<u8*>(buffer);
    for (usize i = 0; i < count; ++i) {
        u16 value = io_port_read<u16>(port);
        __builtin_memcpy(out + 2 * i, &value, 2);
    }
}
inline void io_port_write16_repeated(u32 port, void const* buffer, usize count)
{
    auto const* in = static_cast<u8 const*>(buffer);
    for (usize i = 0; i < count; ++i) {
        u16 value;
        __builtin_memcpy(&value, in + 2 * i, 2);
        io_port_write<u16>(port, value);
    }
}
inline void io_port_read32_repeated(u32 port, void* buffer, usize count)
{
    auto* out = static_cast<u8*>(buffer);
    for (usize i = 0; i < count; ++i) {
        u32 value = io_port_read<u32>(port);
        __builtin_memcpy(out + 4 * i, &value, 4);
    }
}
inline void io_port_write32_repeated(u32 port, void const* buffer, usize count)
{
    auto const* in = static_cast<u8 const*>(buffer);
    for (usize i = 0; i < count; ++i) {
        u32 value;
        __builtin_memcpy(&value, in + 4 * i, 4);
        io_port_write<u32>(port, value);
    }
}

// The user-access window: with PAN in use it would clear PSTATE.PAN; PAN is not used yet
// (UserMode.cpp), so the kernel's access to user memory is not restricted by the CPU.
inline void begin_user_access() { }
inline void end_user_access() { }

// Before a store to device memory that a device may act on (a doorbell), earlier Normal-memory
// stores must be visible to it.
inline void device_write_barrier()
{
    asm volatile("dmb oshst" ::: "memory");
}

} // namespace skiff::arch

#pragma once

// An I/O window: a device's registers, reached the same way whether they sit in the I/O-port
// space or in memory. A driver gets one from the bus (drivers/pci: a BAR; the ISA probe: a fixed
// port range) and never learns which it is:
//   - I/O ports: x86's in/out instructions; on AArch64 the PCI I/O space, which the host bridge
//     decodes from a memory window (port p at the window's base + p) that the platform maps at
//     boot (arch::io_port_*, defined by each architecture's Processor.h).
//   - Memory: volatile loads and stores of the access's width into an uncached mapping
//     (mm::MmioRegion owns the mapping; the window only points into it). Each store is preceded by
//     arch::device_write_barrier(), so what the CPU wrote to RAM before a doorbell is visible to
//     the device when it rings (a no-op on x86-64, DMB OSHST on AArch64).
//
// A window is a plain value (a base and a kind) and owns nothing. Accesses are as wide as their
// name says: devices such as the e1000 accept only 32-bit accesses to their registers.

#include <kernel/base/Arch.h>
#include <lib/Types.h>

namespace skiff {

class IoWindow {
public:
    IoWindow() = default;
    static IoWindow ports(u32 base, u32 length) { return IoWindow(Kind::Ports, base, length); }
    static IoWindow memory(void volatile* base, u32 length)
    {
        return IoWindow(Kind::Memory, reinterpret_cast<uptr>(base), length);
    }

    bool is_valid() const { return m_kind != Kind::None; }
    bool is_ports() const { return m_kind == Kind::Ports; }
    uptr base() const { return m_base; } // the first port, or the virtual address
    u32 length() const { return m_length; }
    // A window onto part of this one (the NE2000's data port is its own window).
    IoWindow subwindow(u32 offset, u32 length) const { return IoWindow(m_kind, m_base + offset, length); }

    u8 read8(u32 offset) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_read8(port(offset));
        return *reinterpret_cast<u8 volatile*>(m_base + offset);
    }
    u16 read16(u32 offset) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_read16(port(offset));
        return *reinterpret_cast<u16 volatile*>(m_base + offset);
    }
    u32 read32(u32 offset) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_read32(port(offset));
        return *reinterpret_cast<u32 volatile*>(m_base + offset);
    }
    void write8(u32 offset, u8 value) const
    {
        if (m_kind == Kind::Ports)
            arch::io_port_write8(port(offset), value);
        else
            memory_write<u8>(offset, value);
    }
    void write16(u32 offset, u16 value) const
    {
        if (m_kind == Kind::Ports)
            arch::io_port_write16(port(offset), value);
        else
            memory_write<u16>(offset, value);
    }
    void write32(u32 offset, u32 value) const
    {
        if (m_kind == Kind::Ports)
            arch::io_port_write32(port(offset), value);
        else
            memory_write<u32>(offset, value);
    }

    // `count` accesses of one register (a FIFO or data port), to or from consecutive memory: one
    // string instruction for x86 ports, a loop elsewhere.
    void read16_repeated(u32 offset, void* buffer, usize count) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_read16_repeated(port(offset), buffer, count);
        auto* out = static_cast<u8*>(buffer);
        for (usize i = 0; i < count; ++i) {
            u16 value = read16(offset);
            __builtin_memcpy(out + i * 2, &value, 2);
        }
    }
    void write16_repeated(u32 offset, void const* buffer, usize count) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_write16_repeated(port(offset), buffer, count);
        auto const* in = static_cast<u8 const*>(buffer);
        for (usize i = 0; i < count; ++i) {
            u16 value;
            __builtin_memcpy(&value, in + i * 2, 2);
            write16(offset, value);
        }
    }
    void read32_repeated(u32 offset, void* buffer, usize count) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_read32_repeated(port(offset), buffer, count);
        auto* out = static_cast<u8*>(buffer);
        for (usize i = 0; i < count; ++i) {
            u32 value = read32(offset);
            __builtin_memcpy(out + i * 4, &value, 4);
        }
    }
    void write32_repeated(u32 offset, void const* buffer, usize count) const
    {
        if (m_kind == Kind::Ports)
            return arch::io_port_write32_repeated(port(offset), buffer, count);
        auto const* in = static_cast<u8 const*>(buffer);
        for (usize i = 0; i < count; ++i) {
            u32 value;
            __builtin_memcpy(&value, in + i * 4, 4);
            write32(offset, value);
        }
    }

private:
    enum class Kind : u8 { None, Ports, Memory };
    IoWindow(Kind kind, uptr base, u32 length)
        : m_base(base)
        , m_length(length)
        , m_kind(kind)
    {
    }
    u32 port(u32 offset) const { return static_cast<u32>(m_base + offset); }
    template<typename T>
    void memory_write(u32 offset, T value) const
    {
        arch::device_write_barrier(); // earlier stores (a descriptor) reach the device first
        *reinterpret_cast<T volatile*>(m_base + offset) = value;
    }

    uptr m_base { 0 };
    u32 m_length { 0 };
    Kind m_kind { Kind::None };
};

} // namespace skiff

#pragma once

// Port I/O instructions, for kernel/arch/x86_64/ (the PIC, the PIT, the PM timer, power-off) and
// for the I/O-port half of the I/O window (Processor.h). Drivers reach ports through
// kernel/base/IoWindow.h.

#include <lib/Types.h>

namespace skiff::arch {

inline void outb(u16 port, u8 value)
{
    asm volatile("outb %0, %1" ::"a"(value), "Nd"(port));
}
inline void outw(u16 port, u16 value)
{
    asm volatile("outw %0, %1" ::"a"(value), "Nd"(port));
}
inline void outl(u16 port, u32 value)
{
    asm volatile("outl %0, %1" ::"a"(value), "Nd"(port));
}
inline u8 inb(u16 port)
{
    u8 value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
inline u16 inw(u16 port)
{
    u16 value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
inline u32 inl(u16 port)
{
    u32 value;
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

// String I/O: move `count` 16-bit words between memory and one port (rep insw/outsw). The NE2000
// data port is read and written this way.
inline void insw(u16 port, void* buffer, usize count)
{
    asm volatile("rep insw" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}
inline void outsw(u16 port, void const* buffer, usize count)
{
    asm volatile("rep outsw" : "+S"(buffer), "+c"(count) : "d"(port) : "memory");
}
// The same with 32-bit doublewords (QEMU's NE2000 data port takes them: docs/hardware.md).
inline void insl(u16 port, void* buffer, usize count)
{
    asm volatile("rep insl" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}
inline void outsl(u16 port, void const* buffer, usize count)
{
    asm volatile("rep outsl" : "+S"(buffer), "+c"(count) : "d"(port) : "memory");
}

// A write to an unused port takes about a microsecond on real hardware; used between PIC commands.
inline void io_wait()
{
    outb(0x80, 0);
}

} // namespace skiff::arch

#pragma once

// The device that carries the kernel console: a UART (the 16550 on x86-64, the PL011 on
// AArch64). The composition root (kernel/Main.cpp) installs one; kprint writes to it and the
// console reads from it. Output is polled, so it works from any context, the panic path included;
// input arrives by interrupt into a ring the console thread drains.

#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff {

class ConsoleDevice {
public:
    // Writes every byte, turning '\n' into "\r\n". Interrupts are held off by the caller.
    virtual void write(char const* chars, usize length) = 0;
    // Enables the receive interrupt; received bytes go into a ring.
    virtual Result<void> enable_receive_interrupt() = 0;
    // Takes one byte from the receive ring; false when empty.
    virtual bool read_byte(u8& byte) = 0;
    // Called from the interrupt handler after new bytes are in the ring.
    virtual void set_receive_callback(void (*callback)(void*), void* context) = 0;
    virtual u64 overruns() const = 0;

protected:
    ~ConsoleDevice() = default;
};

// Null until the composition root installs a device; output before that is kept (up to 2 KiB)
// and written when it is installed.
void install_console_device(ConsoleDevice* device);
ConsoleDevice* console_device();

} // namespace skiff

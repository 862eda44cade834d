#pragma once

// The 16550 UART on COM1 (I/O port 0x3f8, ISA IRQ 4), as QEMU's `-serial` emulates it on pc and
// q35. It carries the kernel console: output is polled (a transmit-holding-register-empty wait per
// byte, which QEMU satisfies at once), input is interrupt-driven into a ring the console thread
// drains.

#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/IoWindow.h>
#include <lib/Types.h>

namespace skiff::drivers {

class Uart16550 final : public ConsoleDevice {
public:
    static constexpr u16 kCom1 = 0x3f8;
    static constexpr u8 kCom1Irq = 4;

    Uart16550(IoWindow registers, u32 irq)
        : m_registers(registers)
        , m_irq(irq)
    {
    }

    // 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on. Returns false if there is no
    // UART here (the scratch register does not keep a value).
    bool initialize();
    void write_byte(u8 byte);

    // ConsoleDevice
    void write(char const* chars, usize length) override;
    Result<void> enable_receive_interrupt() override;
    bool read_byte(u8& byte) override;
    void set_receive_callback(void (*callback)(void*), void* context) override
    {
        m_callback = callback;
        m_callback_context = context;
    }
    u64 overruns() const override { return m_overruns; }

private:
    static void irq_handler(void* self);
    void drain_receiver();

    IoWindow m_registers;
    u32 m_irq;
    // Receive ring: written only by the IRQ handler (m_head), read only by the console (m_tail).
    static constexpr usize kRingSize = 1024;
    u8 m_ring[kRingSize] {};
    usize volatile m_head { 0 };
    usize volatile m_tail { 0 };
    u64 m_overruns { 0 }; // bytes dropped because the ring was full
    void (*m_callback)(void*) { nullptr };
    void* m_callback_context { nullptr };
};

// COM1, constructed on first use (the composition root installs it as the console).
Uart16550& com1();

} // namespace skiff::drivers

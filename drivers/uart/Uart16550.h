#pragma once

// The 16550 UART on COM1 (I/O port 0x3f8, ISA IRQ 4), as QEMU's `-serial` emulates it. It carries
// the kernel console: output is polled (a transmit-holding-register-empty wait per byte, which
// QEMU satisfies at once), input is interrupt-driven into a ring the console thread drains.

#include <lib/Types.h>

namespace skiff::drivers {

class Uart16550 {
public:
    static constexpr u16 kCom1 = 0x3f8;
    static constexpr u8 kCom1Irq = 4;

    explicit Uart16550(u16 base)
        : m_base(base)
    {
    }

    // 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on. Returns false if there is no
    // UART at this port (the scratch register does not keep a value).
    bool initialize();
    void write_byte(u8 byte);
    void write(char const* chars, usize length);

    // Enables the "received data available" interrupt and installs the IRQ handler.
    void enable_receive_interrupt();
    // Takes one byte from the receive ring; false when empty. Called with interrupts enabled or
    // not; the ring is single-producer (the IRQ handler) and single-consumer.
    bool read_byte(u8& byte);
    bool has_input() const { return m_head != m_tail; }
    // Called from the interrupt handler after new bytes are in the ring (the console uses it to
    // wake its thread).
    void set_receive_callback(void (*callback)(void*), void* context)
    {
        m_callback = callback;
        m_callback_context = context;
    }
    u64 overruns() const { return m_overruns; }

private:
    static void irq_handler(void* self);
    void drain_receiver();

    u16 m_base;
    // Receive ring: written only by the IRQ handler (m_head), read only by the console (m_tail).
    static constexpr usize kRingSize = 1024;
    u8 m_ring[kRingSize] {};
    usize volatile m_head { 0 };
    usize volatile m_tail { 0 };
    u64 m_overruns { 0 }; // bytes dropped because the ring was full
    void (*m_callback)(void*) { nullptr };
    void* m_callback_context { nullptr };
};

Uart16550& com1();

} // namespace skiff::drivers

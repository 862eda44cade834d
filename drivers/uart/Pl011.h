#pragma once

// The Arm PrimeCell UART (PL011), as QEMU's virt machine has it at 0x09000000 (SPI 1, INTID 33).
// It carries the kernel console on AArch64: output polled, input interrupt-driven into a ring the
// console thread drains, like the 16550 on x86-64.

#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/IoWindow.h>
#include <lib/Types.h>

namespace skiff::drivers {

class Pl011 final : public ConsoleDevice {
public:
    Pl011(IoWindow registers, u32 irq)
        : m_registers(registers)
        , m_irq(irq)
    {
    }

    // 8 data bits, FIFOs on, transmitter and receiver enabled; every interrupt masked.
    void initialize();
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
    u64 m_overruns { 0 };
    void (*m_callback)(void*) { nullptr };
    void* m_callback_context { nullptr };
};

} // namespace skiff::drivers

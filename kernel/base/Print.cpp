#include <drivers/uart/Uart16550.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Print.h>

namespace skiff {

namespace {

class SerialSink final : public FormatSink {
public:
    void write(char const* chars, usize length) override { console_write(chars, length); }
};

SerialSink s_serial_sink;

} // namespace

FormatSink& console_sink()
{
    return s_serial_sink;
}

void console_write(char const* chars, usize length)
{
    arch::InterruptDisabler disabler;
    drivers::com1().write(chars, length);
}

void ConsoleBufferSink::write(char const* chars, usize length)
{
    while (length) {
        if (m_length == kCapacity)
            flush();
        usize n = min(length, kCapacity - m_length);
        for (usize i = 0; i < n; ++i)
            m_buffer[m_length + i] = chars[i];
        m_length += n;
        chars += n;
        length -= n;
    }
}

void ConsoleBufferSink::flush()
{
    if (m_length)
        console_write(m_buffer, m_length);
    m_length = 0;
}

} // namespace skiff

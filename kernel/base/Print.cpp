#include <kernel/base/Arch.h>
#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/Print.h>

namespace skiff {

namespace {

class SerialSink final : public FormatSink {
public:
    void write(char const* chars, usize length) override { console_write(chars, length); }
};

SerialSink s_serial_sink;
ConsoleDevice* s_device = nullptr;
// What was printed before a console device existed (reading the boot information comes first on
// AArch64, where the device tree says where the UART is): written out when one is installed.
char s_early[2048];
usize s_early_length = 0;

} // namespace

void install_console_device(ConsoleDevice* device)
{
    arch::InterruptDisabler disabler;
    s_device = device;
    if (s_device && s_early_length)
        s_device->write(s_early, s_early_length);
    s_early_length = 0;
}

ConsoleDevice* console_device()
{
    return s_device;
}

FormatSink& console_sink()
{
    return s_serial_sink;
}

void console_write(char const* chars, usize length)
{
    arch::InterruptDisabler disabler;
    if (s_device) {
        s_device->write(chars, length);
        return;
    }
    usize n = min(length, sizeof(s_early) - s_early_length);
    __builtin_memcpy(s_early + s_early_length, chars, n);
    s_early_length += n;
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

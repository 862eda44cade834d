#include <kernel/base/Arch.h>
#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/Print.h>
#include <kernel/console/Console.h>
#include <kernel/console/LineEditor.h>

namespace skiff::console {

namespace {

CommandTable s_commands;

void halt_until_interrupt(void*)
{
    arch::enable_interrupts_and_wait();
}
void no_wake(void*) { }

InputWaiter s_waiter { halt_until_interrupt, no_wake, nullptr };

void on_uart_input(void*)
{
    s_waiter.wake(s_waiter.context);
}

} // namespace

CommandTable& commands()
{
    return s_commands;
}

void set_input_waiter(InputWaiter waiter)
{
    s_waiter = waiter;
}

void run()
{
    ConsoleDevice* device = console_device();
    VERIFY(device); // installed by kernel_main before anything else
    device->set_receive_callback(on_uart_input, nullptr);
    LineEditor editor(console_sink(), kPrompt);
    editor.begin_line();
    for (;;) {
        u8 byte;
        while (!device->read_byte(byte))
            s_waiter.wait(s_waiter.context);
        if (!editor.feed(byte))
            continue;
        StringView line = editor.line().trimmed();
        if (!line.is_empty()) {
            int status = s_commands.execute(line, console_sink());
            if (status > 0) {
                i64 space = line.find(' ');
                kprintln("{}: exit status {}", space < 0 ? line : line.substring(0, static_cast<usize>(space)), status);
            }
        }
        editor.begin_line();
    }
}

} // namespace skiff::console

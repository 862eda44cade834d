#pragma once

// The serial console: banner, prompt, line editor, command dispatch. run() never returns.

#include <kernel/console/Command.h>

namespace skiff::console {

constexpr char const* kPrompt = "skiff> ";

// How the console waits for input. Before the scheduler exists it halts until the next interrupt;
// once threads exist, the scheduler installs a blocking wait and a wake-up that the UART
// interrupt calls, so a waiting console costs nothing.
struct InputWaiter {
    void (*wait)(void* context);
    void (*wake)(void* context); // called from the UART interrupt handler
    void* context;
};
void set_input_waiter(InputWaiter waiter);

[[noreturn]] void run();

} // namespace skiff::console

// The console's `ping`: runs the user program ping (user/programs/ping/) in the foreground with the
// same arguments: ICMP echo requests with the output a Linux user expects, now as a task.
//
//   ping <address> [-c count] [-s size] [-i interval_ms] [-W timeout_s]

#include <apps/NetworkCommands.h>
#include <apps/TaskCommands.h>
#include <kernel/console/Command.h>

namespace skiff::apps {

namespace {

int ping_command(console::Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    StringView words[console::Arguments::kMaxWords];
    usize count = 0;
    for (usize i = 0; i < arguments.count(); ++i)
        words[count++] = arguments[i];
    return run_program("ping", Span<StringView const>(words, count), false);
}

} // namespace

void register_ping_command()
{
    console::register_command({ "ping", "ping <address> [-c N] [-s size] [-i ms] [-W s]",
        "send ICMP echo requests and show the replies (default 4), as a user task", ping_command });
}

} // namespace skiff::apps

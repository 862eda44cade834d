// The console's `ttcp`: runs the user program ttcp (user/programs/ttcp/, the same core as the host
// tool, apps/ttcp/TtcpCore.cpp) in the foreground with the same arguments, so `ttcp -t ...` works
// as it always has, now as a task: Ctrl-C ends it, and its status is the command's.

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <apps/TaskCommands.h>
#include <kernel/console/Command.h>

namespace skiff::apps {

namespace {

int ttcp_command(console::Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    StringView words[console::Arguments::kMaxWords];
    usize count = 0;
    for (usize i = 0; i < arguments.count(); ++i)
        words[count++] = arguments[i];
    return run_program("ttcp", Span<StringView const>(words, count), false);
}

} // namespace

void register_ttcp_commands()
{
    console::register_command(
        { "ttcp", "ttcp -t|-r [-u] [-s] [-l len] [-n count] [-p port] [-z on|off] [-H] [-R seed] [host]",
            "classic TCP/UDP throughput test, as a user task (docs/ttcp.md)", ttcp_command });
}

} // namespace skiff::apps

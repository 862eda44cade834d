// The commands every Skiff has: help, version, uptime, reboot, poweroff, crash.

#include <apps/Apps.h>
#include <kernel/Time.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>

namespace skiff::build {
extern char const kVersion[];
extern char const kGitHash[];
extern char const kDate[];
} // namespace skiff::build

namespace skiff::apps {

namespace {

using console::Arguments;

// `help`: one line per command, its name and what it does; `help <command>`: its usage too.
// Names only in the list keep it to one screen width whatever a command's options are.
int help_command(Arguments const& arguments)
{
    auto const& table = console::commands();
    if (arguments.count() > 1) {
        auto const* command = table.find(arguments[1]);
        if (!command) {
            kprintln("help: no command '{}' (type `help` for the list)", arguments[1]);
            return 1;
        }
        kprintln("usage: {}", command->usage);
        kprintln("  {}", command->description);
        return 0;
    }
    usize width = 0;
    for (usize i = 0; i < table.count(); ++i)
        width = max(width, StringView(table.at(i).name).length());
    for (usize i = 0; i < table.count(); ++i) {
        auto const& command = table.at(i);
        kprint("  {}", command.name);
        for (usize pad = StringView(command.name).length(); pad < width + 2; ++pad)
            kprint(" ");
        kprintln("{}", command.description);
    }
    kprintln("`help <command>` shows a command's usage.");
    return 0;
}

int version_command(Arguments const&)
{
    kprintln("Skiff {}", build::kVersion);
    kprintln("  git       {}", build::kGitHash);
    kprintln("  built     {}", build::kDate);
    kprintln("  compiler  GCC {}", __VERSION__);
    kprintln("  target    {}", arch::kTargetDescription);
    return 0;
}

int uptime_command(Arguments const&)
{
    u64 ns = time::monotonic_ns();
    u64 ms = ns / 1000000;
    u64 seconds = ms / 1000;
    kprintln("up {}:{:02}:{:02}.{:03}  ({} ticks at {} Hz, {} {}.{:03} MHz)", seconds / 3600, (seconds / 60) % 60,
        seconds % 60, ms % 1000, time::ticks(), time::kTickHz, arch::kCycleCounterName, time::cycle_hz() / 1000000,
        (time::cycle_hz() / 1000) % 1000);
    return 0;
}

int reboot_command(Arguments const&)
{
    kprintln("rebooting");
    reboot();
}

int poweroff_command(Arguments const& arguments)
{
    u64 code = 0;
    if (arguments.count() > 1 && (!parse_u64(arguments[1], code) || code > 0x7fffffff)) {
        kprintln("usage: poweroff [code]   (code: 0 .. 2147483647; QEMU exits with status code*2+1)");
        return 2;
    }
    kprintln("powering off (code {})", code);
    power_off(static_cast<u32>(code));
}

// Deliberately touches an address that is never mapped (lower half, non-canonical-safe), so the
// fault report can be tested. A volatile pointer keeps the compiler from proving anything about it.
[[gnu::noinline]] int crash_command(Arguments const&)
{
    kprintln("crash: writing to an unmapped address on purpose");
    u32 volatile* volatile target = reinterpret_cast<u32 volatile*>(0x00000dead000beefull & ~3ull);
    *target = 0x5ca1ab1e;
    return 0;
}

} // namespace

void register_system_commands()
{
    console::register_command({ "help", "help [command]",
        "list the commands with a one-line description; with a name, its usage", help_command });
    console::register_command({ "version", "version", "version, git hash, build date and compiler", version_command });
    console::register_command(
        { "uptime", "uptime", "time since boot, timer ticks and cycle-counter frequency", uptime_command });
    console::register_command(
        { "reboot", "reboot", "reset the machine (QEMU exits under -no-reboot)", reboot_command });
    console::register_command(
        { "poweroff", "poweroff [code]", "power off; under QEMU the exit status is code*2+1", poweroff_command });
    console::register_command({ "crash", "crash", "page-fault on purpose, to test the fault report", crash_command });
}

} // namespace skiff::apps

// kernel_main: the composition root. Boot.S calls it in long mode on the boot stack, with the
// Multiboot magic and the physical address of the loader's information structure. It brings the
// machine up in dependency order and ends in the console.

#include <apps/Apps.h>
#include <drivers/uart/Uart16550.h>
#include <kernel/Arch.h>
#include <kernel/BootInfo.h>
#include <kernel/Panic.h>
#include <kernel/Print.h>
#include <kernel/Time.h>
#include <kernel/console/Console.h>
#include <kernel/fs/BootArchive.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/sync/Semaphore.h>
#include <mm/Memory.h>

extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

namespace skiff {

bool parse_multiboot(u32 magic, u32 info_physical);

namespace build {
extern char const kVersion[];
extern char const kGitHash[];
} // namespace build

namespace {

void run_global_constructors()
{
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

// The console thread sleeps on this until the UART interrupt posts it, so a waiting console
// leaves the CPU to other threads and idle time shows up as idle.
sync::Semaphore s_console_input;

void install_console_input_waiter()
{
    console::set_input_waiter({ [](void*) { MUST(s_console_input.wait()); }, // no timeout
        [](void*) { s_console_input.post(); }, nullptr });
}

} // namespace

} // namespace skiff

using namespace skiff;

extern "C" [[noreturn]] void kernel_main(u32 multiboot_magic, u32 multiboot_info)
{
    // Constructors first: a global with a non-constant initializer is not ready before this.
    run_global_constructors();
    drivers::com1().initialize();
    arch::initialize_early();
    bool multiboot_ok = parse_multiboot(multiboot_magic, multiboot_info);

    auto const& info = boot_info();
    kprintln("Skiff {} ({}) x86_64, {} MiB usable RAM, command line \"{}\"", build::kVersion, build::kGitHash,
        info.total_usable_bytes >> 20, info.command_line);
    if (!multiboot_ok)
        PANIC("not started by a Multiboot loader: no memory map");

    arch::initialize_interrupts();
    arch::initialize_timer();
    mm::initialize(info);
    kfs::initialize();
    sched::initialize();
    install_console_input_waiter();
    knet::initialize();
    apps::register_all_commands();
    apps::start_boot_services();
    drivers::com1().enable_receive_interrupt();
    arch::sti();
    console::run();
}

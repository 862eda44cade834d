// kernel_main: the composition root. The boot code (boot/<arch>/) calls it on the boot stack in
// the higher half, with the MMU on and interrupts off. It brings the machine up in dependency
// order, installing the architecture's pieces where the kernel needs them, and ends in the console.

#include <apps/Apps.h>
#include <drivers/pci/Pci.h>
#include <drivers/uart/Consoles.h>
#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/console/Console.h>
#include <kernel/fs/BootArchive.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/sync/Semaphore.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>

extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

namespace skiff {

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

extern "C" [[noreturn]] void kernel_main()
{
    // Constructors first: a global with a non-constant initializer is not ready before this.
    run_global_constructors();
    arch::initialize_early();
    // What the loader left says where the memory and (on AArch64) the console are; anything
    // printed before a console exists is kept and written once it does.
    auto& info = boot_info_for_update();
    bool boot_info_ok = arch::read_boot_info(info);
    install_console_device(drivers::initialize_console(info));
    kprintln("Skiff {} ({}) {}, {} MiB usable RAM, command line \"{}\"", build::kVersion, build::kGitHash, arch::kName,
        info.total_usable_bytes >> 20, info.command_line);
    if (!boot_info_ok || info.usable_count == 0)
        PANIC("no usable memory map from the boot loader");

    arch::initialize_interrupts();
    time::initialize();
    mm::initialize(info);
    kfs::initialize();
    sched::initialize();
    task::initialize();
    install_console_input_waiter();
    drivers::pci::initialize(info);
    knet::initialize();
    apps::register_all_commands();
    apps::start_boot_services();
    if (auto result = console_device()->enable_receive_interrupt(); result.is_error())
        kprintln("console: no receive interrupt ({}): input will not be seen", result.error());
    arch::enable_interrupts();
    console::run();
}

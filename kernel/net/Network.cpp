// The network thread and the composition of drivers, port and stack. See Network.h.

#include <drivers/pci/Pci.h>
#include <kernel/Time.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Print.h>
#include <kernel/net/KernelPort.h>
#include <kernel/net/NetServices.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <lib/StageProfile.h>

namespace skiff::knet {

namespace {

constexpr u32 kMaxDrivers = 4;
// Frames per driver per loop: enough to drain a burst, small enough that timers and the other
// NIC get their turn under a flood.
constexpr u32 kPollBudget = 64;
// The applications' own priority (kPriorityDefault), not above it: an interrupt makes the thread
// ready but does not cut short a task in the middle of its work (often in a system call of its
// own on the same stack); the thread runs when that task blocks or its slice ends, and one pass
// then takes every frame that came meanwhile, as Linux defers a NIC's work to NAPI polling. One
// notch above, it preempted the web server on every interrupt: `nicstat` counted 0.69 loops of
// this thread per keep-alive request and 1.91 per new connection, against 0.06 and 0.13 here,
// and each loop reads the NIC's registers and walks every connection's timers (docs/httpd.md).
constexpr u8 kNetworkThreadPriority = sched::kPriorityDefault;
// Receive livelock (Mogul and Ramakrishnan, 1997): under a flood the drivers always have more,
// and a thread that always has work would never let the applications run. After this many full batches in
// a row the thread sleeps one tick; the NIC holds or drops what arrives meanwhile.
constexpr u32 kFullBatchesBeforeRest = 8;
// Even with nothing to do the thread looks at the cards this often. With a working interrupt this
// finds nothing; with a card on another IRQ line than the driver was told (`ne2k_irq=`), it keeps
// the machine reachable, slowly, and lets the thread say what is wrong.
constexpr u64 kIdlePollMs = 250;
constexpr u32 kSilentPollsBeforeWarning = 3;
// Receive: up to 768 buffers in blocks of 1536 pages (6 MiB) in all. At MTU 1500 the e1000's ring
// holds 256 buffers of two pages (receive placement: a page's tail of headers, then the
// payload's page) and 512 more carry TCP receive queues and bursts; with jumbo frames its 64
// buffers take five pages each and the blocks left make 243 more (PacketPool.h).
constexpr net::PoolSizes kPoolSizes { 256, 768, 1536 };

// Set once by initialize(), read-only afterwards.
KernelPort s_port;
net::NetStack* s_stack { nullptr };
net::NetConfig s_config;
drivers::NicDriver* s_drivers[kMaxDrivers] {};
u32 s_driver_count { 0 };
bool s_running { false };

sync::Mutex s_stack_lock;
NetWaiter s_thread_waiter; // the network thread sleeps on it
// When the network thread means to look next (monotonic ns): set at the end of each pass, under
// the stack lock, to its earliest deadline or its idle poll; 0 while it will look again at once.
u64 s_planned_wake_ns { 0 };
NetworkThreadStats s_thread_stats; // network thread only (wakes: interrupts off)

void wake_from_interrupt(void*)
{
    ++s_thread_stats.wakes;
    s_thread_waiter.wake();
}

// A timed wake found frames although the card raised no interrupt since the last loop. Once is
// not a sign of anything: the stack's timers (delayed ACK, RACK, the tail-loss probe) wake the
// thread often, and the e1000 holds its interrupt back at least 128 us after the last one (QEMU's
// mitigation), so a timed wake regularly finds frames whose interrupt is still on its way, and the
// interrupt then comes. `silent_polls` counts such wakes in a row; an interrupt from the card
// starts it again from zero. Two in a row are counted (`frames without interrupt` in nicstat, which
// the tests require to stay 0); the warning is for a card that has never interrupted since boot,
// the one certainly on another line than its driver listens to.
void note_frames_without_interrupt(u32 index, u64& silent_polls, u64 interrupts)
{
    if (++silent_polls < 2)
        return;
    ++s_thread_stats.frames_without_interrupt;
    if (silent_polls == kSilentPollsBeforeWarning && interrupts == 0) {
        auto& nic = *s_drivers[index];
        kprintln("net: {} receives frames but IRQ {} never fires: is the card on another line? (ne2k_irq=N for "
                 "the ISA NE2000); polling every {} ms meanwhile",
            nic.name(), nic.irq(), kIdlePollMs);
    }
}

void network_thread(void*)
{
    u32 full_batches = 0;
    bool timed_wake = false;
    u64 interrupts_seen[kMaxDrivers] {};
    u64 silent_polls[kMaxDrivers] {};
    while (true) {
        ++s_thread_stats.loops;
        bool more = false;
        u64 deadline;
        {
            sync::MutexLocker locker(s_stack_lock);
            for (u32 i = 0; i < s_driver_count; ++i) {
                u32 frames;
                {
                    // LyraNET Fig. 6 "driver": the receive routine (and transmit reclaim), per frame.
                    u64 bytes_before = s_drivers[i]->counters().rx_bytes;
                    profile::ScopedStage stage(profile::Stage::ReceiveDriver, 0);
                    frames = s_drivers[i]->poll(kPollBudget);
                    stage.set_events(frames);
                    stage.set_bytes(s_drivers[i]->counters().rx_bytes - bytes_before);
                }
                s_thread_stats.frames += frames;
                more |= s_drivers[i]->more_pending();
                u64 interrupts = s_drivers[i]->driver_counters().interrupts;
                if (interrupts != interrupts_seen[i])
                    silent_polls[i] = 0; // the line works
                else if (frames && timed_wake)
                    note_frames_without_interrupt(i, silent_polls[i], interrupts);
                interrupts_seen[i] = interrupts;
            }
            u64 now_ns = time::monotonic_ns();
            s_stack->poll(now_ns);
            // Frames queued by poll() (replies) went out inside it; drivers reclaim what the
            // hardware finished on the next poll.
            deadline = s_stack->next_deadline();
            s_planned_wake_ns = more ? 0 : min(deadline, now_ns + kIdlePollMs * 1000000);
        }
        if (more) {
            // The next loop is not a timed wake: it goes on with work an interrupt or a timer
            // already announced, so frames it finds say nothing about the line.
            timed_wake = false;
            ++s_thread_stats.budget_yields;
            if (++full_batches >= kFullBatchesBeforeRest) {
                full_batches = 0;
                sched::sleep_ms(1);
            }
            continue;
        }
        full_batches = 0;
        u64 now = time::monotonic_ns();
        u64 timeout_ms = kIdlePollMs;
        if (deadline != net::NetStack::kNoDeadline)
            timeout_ms = deadline <= now ? 0 : min<u64>(timeout_ms, (deadline - now + 999999) / 1000000);
        timed_wake = false;
        if (timeout_ms == 0)
            continue;
        if (!s_thread_waiter.wait(timeout_ms)) {
            ++s_thread_stats.deadline_wakes;
            timed_wake = true;
        }
    }
}

} // namespace

void initialize()
{
    u32 found = drivers::probe_network_cards(s_drivers, kMaxDrivers);
    if (found == 0) {
        kprintln("net: no network card found; networking is off");
        return;
    }
    auto config = net::NetConfig::parse(boot_info().command_line);
    if (config.is_error()) {
        kprintln(
            "net: bad ip=/gw=/mtu= on the command line ({}); using 10.0.2.15/24 gw 10.0.2.2, MTU 1500", config.error());
    } else {
        s_config = config.value();
    }
    s_stack = new net::NetStack(s_port);
    if (auto result = s_stack->initialize(kPoolSizes); result.is_error()) {
        kprintln("net: cannot allocate the packet pools: {}", result.error());
        return;
    }
    // Where remapping a received page beats copying it, on this machine (KernelPort.h).
    auto threshold = measure_zero_copy_threshold();
    if (threshold.measured) {
        set_zero_copy_threshold(threshold);
        s_stack->tcp().set_default_zero_copy_threshold(threshold.bytes);
        kprintln("net: zero-copy receive remaps from {} bytes (remap {} cycles, copy {} cycles/KiB; measured in {} us)",
            threshold.bytes, threshold.remap_cycles, threshold.copy_cycles_per_kib,
            time::cycles_to_ns(threshold.measurement_cycles) / 1000);
    }
    // One interface: the first card found carries the configured address. (Several NICs with one
    // address would confuse ARP; a second card is reported and left unused.)
    for (u32 i = 1; i < found; ++i)
        kprintln("net: {} found but not used (one interface)", s_drivers[i]->name());
    drivers::NicDriver& nic = *s_drivers[0];
    s_driver_count = 1;
    auto attached = s_stack->attach(nic, s_config);
    if (attached.is_error()) {
        kprintln("net: cannot attach {}: {}", nic.name(), attached.error());
        return;
    }
    if (s_config.mtu) {
        // Before start(): the driver lays its receive ring out for it (the e1000 writes RCTL once).
        auto caps = nic.capabilities();
        auto set = s_stack->set_mtu(attached.value(), s_config.mtu);
        if (set.is_error() && set.error() == Error::OutOfRange)
            kprintln("net: mtu={} is outside what {} takes ({} to {}); keeping MTU {}", s_config.mtu, nic.name(),
                caps.min_mtu, caps.max_mtu, caps.mtu);
        else if (set.is_error())
            kprintln("net: {} cannot switch to MTU {} ({}); keeping MTU {}", nic.name(), s_config.mtu, set.error(),
                caps.mtu);
    }
    nic.set_wake_hook(wake_from_interrupt, nullptr);
    {
        sync::MutexLocker locker(s_stack_lock);
        if (auto started = nic.start(); started.is_error()) {
            kprintln("net: {} did not start: {}", nic.name(), started.error());
            return;
        }
    }
    char address[16], gateway[16];
    s_config.address.to_string(address, sizeof(address));
    s_config.gateway.to_string(gateway, sizeof(gateway));
    kprintln("net: {} is {}/{}, gateway {}, MTU {}", nic.name(), address, s_config.prefix_length,
        s_config.gateway.is_any() ? "none" : gateway, s_stack->interface(0).mtu);
    s_running = true;
    auto thread = sched::create_thread("network", network_thread, nullptr, kNetworkThreadPriority);
    if (thread.is_error()) {
        kprintln("net: cannot start the network thread: {}", thread.error());
        s_running = false;
        return;
    }
    sched::detach(thread.value());
    start_services();
}

bool is_running()
{
    return s_running;
}

net::NetStack& stack()
{
    VERIFY(s_stack);
    return *s_stack;
}

sync::Mutex& stack_lock()
{
    return s_stack_lock;
}

net::NetConfig const& config()
{
    return s_config;
}

u32 driver_count()
{
    return s_driver_count;
}

drivers::NicDriver& driver(u32 index)
{
    VERIFY(index < s_driver_count);
    return *s_drivers[index];
}

u32 tcp_receive_window_hint()
{
    return s_driver_count ? s_drivers[0]->receive_window_hint() : 0;
}

NetworkThreadStats network_thread_stats()
{
    arch::InterruptDisabler disabler;
    return s_thread_stats;
}

void wake_network_thread()
{
    s_thread_waiter.wake();
}

void wake_network_thread_by(u64 deadline_ns)
{
    if (deadline_ns >= s_planned_wake_ns) {
        ++s_thread_stats.wakes_spared; // it looks by then anyway (a wake already asked for set the plan to 0)
        return;
    }
    s_planned_wake_ns = 0;
    ++s_thread_stats.early_wakes;
    s_thread_waiter.wake();
}

namespace {

char const* bar_kind(drivers::pci::Bar const& bar)
{
    switch (bar.kind) {
    case drivers::pci::Bar::Kind::Io: return "I/O ports";
    case drivers::pci::Bar::Kind::Memory32: return "memory (32-bit)";
    case drivers::pci::Bar::Kind::Memory64: return "memory (64-bit)";
    default: return "";
    }
}

} // namespace

void print_pci_devices(FormatSink& out, bool verbose)
{
    for (u32 i = 0; i < drivers::pci::device_count(); ++i) {
        auto const& device = drivers::pci::device(i);
        format(out, "{:02x}:{:02x}.{} {} [{:02x}{:02x}]: {:04x}:{:04x} (rev {:02x})", device.address.bus,
            device.address.device, device.address.function,
            drivers::pci::class_name(device.class_code, device.subclass), device.class_code, device.subclass,
            device.vendor_id, device.device_id, device.revision);
        if (device.interrupt_pin && device.has_interrupt())
            format(out, " INT{} IRQ {}", static_cast<char>('A' + device.interrupt_pin - 1), device.interrupt_line);
        else if (device.interrupt_pin)
            format(out, " INT{} no IRQ", static_cast<char>('A' + device.interrupt_pin - 1));
        format(out, "\n");
        if (!verbose)
            continue;
        for (u32 b = 0; b < 6; ++b) {
            auto const& bar = device.bars[b];
            if (bar.kind == drivers::pci::Bar::Kind::None)
                continue;
            if (bar.assigned)
                format(out, "        BAR{}: {} at {:#x}, {} bytes{}\n", b, bar_kind(bar), bar.address, bar.size,
                    bar.prefetchable ? ", prefetchable" : "");
            else
                format(out, "        BAR{}: {}, {} bytes, not assigned\n", b, bar_kind(bar), bar.size);
        }
    }
    if (drivers::pci::device_count() == 0)
        format(out, "no PCI devices (configuration access: {})\n", drivers::pci::access_name());
}

} // namespace skiff::knet

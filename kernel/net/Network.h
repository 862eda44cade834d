#pragma once

// The kernel side of networking: finds the NICs, builds the stack (net/NetStack.h) on the kernel
// port, and runs the network thread. Everything that touches the stack holds its lock (the stack
// itself has none: it is driven by one thread at a time):
//
//   interrupt handler --(acknowledge, wake)--> network thread: lock; each driver poll(budget);
//                                              stack.poll(now); unlock; sleep until the earlier of
//                                              stack.next_deadline() and the next wake
//   application thread: lock; socket call; unlock; if it would block, wait on the socket's
//                       NetWaiter (woken by Port::wake from inside poll) and retry
//
// Configuration comes from the kernel command line: `ip=10.0.2.15/24 gw=10.0.2.2` (the default).

#include <drivers/net/NicDriver.h>
#include <kernel/sync/Mutex.h>
#include <net/Config.h>
#include <net/NetStack.h>

namespace skiff::knet {

// NIC probing (on the PCI devices kernel_main found), the stack, the network thread and the boot-time services (UDP
// echo on port 7). Call once after mm::initialize() and sched::initialize(). Without a NIC the
// stack is not started and the network commands say so.
void initialize();

bool is_running();
net::NetStack& stack(); // only when is_running()
sync::Mutex& stack_lock();
net::NetConfig const& config();
u32 driver_count();
drivers::NicDriver& driver(u32 index);

// Holds the stack lock for a scope.
class StackLocker {
public:
    StackLocker()
        : m_locker(stack_lock())
    {
    }

private:
    sync::MutexLocker m_locker;
};

struct NetworkThreadStats {
    u64 loops { 0 };
    u64 wakes { 0 };                    // wake-ups from interrupt handlers
    u64 deadline_wakes { 0 };           // timed out waiting: a protocol timer was due, or the idle poll
    u64 frames_without_interrupt { 0 }; // timed wakes in a row finding frames, no interrupt between: IRQ wrong?
    u64 frames { 0 };                   // frames the drivers handed up
    u64 budget_yields { 0 };            // loops that ended with work left (yielded, then went on)
    u64 early_wakes { 0 };              // socket calls that set a timer due before the planned look
    u64 wakes_spared { 0 };             // socket calls whose timers the planned look covers
};
NetworkThreadStats network_thread_stats();

// The TCP receive window the attached NIC can take without overrunning its receive memory (0: no
// limit; see NicDriver::receive_window_hint). TCP listeners and sockets that receive in bulk set
// it with TcpSocket::set_buffer_sizes(0, hint).
u32 tcp_receive_window_hint();

// `lspci`: every PCI function the bus scan found (verbose: with its BARs). The bus is scanned by
// kernel_main (drivers/pci), before the NICs are probed here.
void print_pci_devices(FormatSink& out, bool verbose);

// Wake the network thread (interrupt handlers, and socket calls that queued output).
void wake_network_thread();
// Wake it only if `deadline_ns` comes before the moment it means to look at the stack next (the
// earliest timer when it last looked, or its idle poll): what a socket call that just set a timer
// (an ACK due now, a retransmission timeout) calls with the socket's next_deadline(). A thread
// that sleeps longer than it must would leave the timer late; one woken for every call repeats
// its whole pass (driver registers, every connection's timers) per request. Stack lock held.
void wake_network_thread_by(u64 deadline_ns);

} // namespace skiff::knet

// Console commands for accounting and the reliability tests (tests/net/reliability):
//
//   resources   one machine-readable line of everything a finished network scenario must give
//               back — free frames, heap blocks and bytes, pages pinned for zero-copy send,
//               zero-copy buffer bytes (the kernel's and the tasks'), tasks, packet buffers in use
//               per pool, TCP sockets in use (and
//               how many of them only wait out TIME-WAIT, or are half-open children of a listener
//               in SYN-RECEIVED: neither holds data buffers, and a SYN flood from addresses that
//               never answer leaves up to a backlog of the latter per listener until their SYN-ACK
//               retransmissions run out)
//   stats [-a]  the network stack's counters (net/Counters.h), `name=value`, eight to a line; the
//               non-zero ones unless -a

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>

namespace skiff::apps {

namespace {

using console::Arguments;

int resources_command(Arguments const&)
{
    // Threads that have exited (a task's, just now) hold their stacks until reaped: count after.
    sched::reap_exited_threads();
    auto memory = mm::stats();
    kprint("resources: frames_free={} heap_blocks={} heap_bytes={} heap_cached={} pinned={} zc_bytes={} tasks={}",
        memory.frames.free, memory.heap.live_blocks, memory.heap.bytes_in_blocks, memory.heap.cached_pages,
        memory.pinned_frames, memory.zero_copy_bytes, task::task_count());
    if (!knet::is_running()) {
        kprintln("");
        return 0;
    }
    knet::StackLocker locker;
    auto& stack = knet::stack();
    auto const& pool = stack.pool();
    u32 time_wait = 0;
    u32 half_open = 0;
    stack.tcp().for_each_socket([&](net::TcpSocket const& socket) {
        if (socket.state() == net::TcpState::TimeWait)
            ++time_wait;
        else if (socket.state() == net::TcpState::SynReceived)
            ++half_open;
    });
    kprintln(" rx_pool={} tx_pool={} large_pool={} tcp_sockets={} tcp_timewait={} tcp_half_open={}",
        pool.receive_counters().in_use, pool.transmit_counters().in_use, pool.large_counters().in_use,
        stack.tcp().sockets_in_use(), time_wait, half_open);
    return 0;
}

int stats_command(Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    bool all = arguments.has_flag("-a");
    net::NetCounters counters;
    {
        knet::StackLocker locker;
        counters = knet::stack().counters();
    }
    u32 on_line = 0;
    counters.for_each([&](char const* name, u64 value) {
        if (!all && value == 0)
            return;
        kprint("{}{}={}", on_line ? " " : "", name, value);
        if (++on_line == 8) {
            kprintln("");
            on_line = 0;
        }
    });
    if (on_line)
        kprintln("");
    return 0;
}

} // namespace

void register_resource_commands()
{
    console::register_command({ "resources", "resources",
        "one line: free frames, heap, pinned pages, packet pools, TCP sockets (for tests)", resources_command });
    console::register_command(
        { "stats", "stats [-a]", "the network stack's counters, name=value (-a: the zero ones too)", stats_command });
}

} // namespace skiff::apps

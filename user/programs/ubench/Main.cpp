// ubench: what crossing the user/kernel boundary costs, measured from user space with the cycle
// counter (TSC / CNTVCT, which tasks may read). Each result is the median of kRounds rounds.
//
//   ubench null [N]                 a system call that does nothing (Null), N per round
//   ubench switch [N]               N Yields: run two at once (`run -b ubench switch`, then
//                                   `run ubench switch`) and each Yield is a switch between two
//                                   tasks (their address spaces); alone, a Yield with no switch
//   ubench threads [N]              the same between two threads of this task (no address-space
//                                   switch)
//   ubench fault [N]                the first touch of N fresh pages (demand zero), per page
//   ubench cow HOST PORT [N]        sends N pages of a zero-copy buffer with copy elimination to a
//                                   TCP receiver at HOST:PORT, then writes each page while the send
//                                   still holds it (a copy-on-write fault that copies) and, after
//                                   the ACK, writes them again once each (the fault that only makes
//                                   the page writable again), per page; beside: a write to a page
//                                   already writable
//
// One line per measurement: `ubench: <what> <median> cycles (<ns> ns) ...`, for tools/eval.

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>
#include <user/runtime/ZeroCopy.h>

namespace skiff::user {

namespace {

constexpr u32 kRounds = 9;
constexpr u64 kPage = 4096;

u64 s_cycles_per_us = 0; // the counter's rate, from the kernel's clock

void calibrate()
{
    u64 start_ns = clock_ns();
    u64 start = cycle_counter();
    sleep_ms(50);
    u64 cycles = cycle_counter() - start;
    u64 ns = clock_ns() - start_ns;
    s_cycles_per_us = ns ? cycles * 1000 / ns : 1;
}

u64 ns_of(u64 cycles)
{
    return s_cycles_per_us ? cycles * 1000 / s_cycles_per_us : 0;
}

u64 median(u64* values, u32 count)
{
    for (u32 i = 1; i < count; ++i)
        for (u32 k = i; k > 0 && values[k] < values[k - 1]; --k) {
            u64 t = values[k];
            values[k] = values[k - 1];
            values[k - 1] = t;
        }
    return values[count / 2];
}

void report(char const* what, u64* per_round, u32 count, char const* detail = "")
{
    u64 middle = median(per_round, count);
    println("ubench: {} {} cycles ({} ns) median of {} rounds, min {} max {}{}", what, middle, ns_of(middle), count,
        per_round[0], per_round[count - 1], detail);
}

int null_calls(u64 n)
{
    u64 rounds[kRounds];
    for (u32 r = 0; r < kRounds; ++r) {
        u64 start = cycle_counter();
        for (u64 i = 0; i < n; ++i)
            (void)raw_call(abi::Call::Null);
        rounds[r] = (cycle_counter() - start) / n;
    }
    report("null-call", rounds, kRounds);
    return 0;
}

u64 yields(u64 n)
{
    u64 start = cycle_counter();
    for (u64 i = 0; i < n; ++i)
        yield();
    return (cycle_counter() - start) / n;
}

int task_switch(u64 n)
{
    u64 rounds[kRounds];
    for (u32 r = 0; r < kRounds; ++r)
        rounds[r] = yields(n);
    report("yield", rounds, kRounds, " (with a second task yielding: one task switch each)");
    return 0;
}

struct Partner {
    u64 n;
    bool volatile stop;
};

int partner_thread(void* argument)
{
    auto* partner = static_cast<Partner*>(argument);
    while (!partner->stop)
        yield();
    return 0;
}

int thread_switch(u64 n)
{
    Partner partner { n, false };
    auto thread = thread_create(partner_thread, &partner);
    if (thread.is_error()) {
        println("ubench: thread_create: {}", thread.error());
        return 1;
    }
    u64 rounds[kRounds];
    for (u32 r = 0; r < kRounds; ++r)
        rounds[r] = yields(n);
    partner.stop = true;
    (void)thread_join(thread.value());
    report("thread-yield", rounds, kRounds, " (two threads of one task: a switch without an address-space change)");
    return 0;
}

int demand_zero(u64 pages)
{
    u64 rounds[kRounds];
    u64 touch[kRounds];
    for (u32 r = 0; r < kRounds; ++r) {
        auto memory = map_memory(pages * kPage);
        if (memory.is_error()) {
            println("ubench: map_memory: {}", memory.error());
            return 1;
        }
        u8 volatile* bytes = memory.value();
        u64 start = cycle_counter();
        for (u64 page = 0; page < pages; ++page)
            bytes[page * kPage] = 1;
        rounds[r] = (cycle_counter() - start) / pages;
        // The same writes again, the pages present: what the faults added.
        start = cycle_counter();
        for (u64 page = 0; page < pages; ++page)
            bytes[page * kPage + 1] = 1;
        touch[r] = (cycle_counter() - start) / pages;
        (void)unmap_memory(memory.value(), pages * kPage);
    }
    report("demand-zero-fault", rounds, kRounds, " per page");
    report("present-page-write", touch, kRounds, " per page (the same writes, no fault)");
    return 0;
}

int copy_on_write(u32 host, u16 port, u64 pages)
{
    auto opened = socket(abi::SocketType::Stream);
    if (opened.is_error()) {
        println("ubench: socket: {}", opened.error());
        return 1;
    }
    i64 tcp = opened.value();
    (void)set_option(tcp, abi::SocketOption::ZeroCopy, 1);
    if (auto connected = connect(tcp, { host, port }); connected.is_error()) {
        println("ubench: connect: {}", connected.error());
        return 1;
    }
    auto buffer = zero_copy_allocate(pages * kPage);
    if (buffer.is_error()) {
        println("ubench: zero_copy_allocate: {}", buffer.error());
        return 1;
    }
    u8 volatile* bytes = buffer.value();
    u64 copies[kRounds], reclaims[kRounds], plain[kRounds];
    for (u32 r = 0; r < kRounds; ++r) {
        // 1. Send every page (pinned, write-protected in this task's table), and write each at
        //    once, while the send most likely still holds it: a fault that copies the page.
        u64 queued = 0;
        while (queued < pages * kPage) {
            auto sent = send(tcp, { buffer.value() + queued, pages * kPage - queued });
            if (sent.is_error()) {
                println("ubench: send: {}", sent.error());
                return 1;
            }
            queued += sent.value();
        }
        u64 start = cycle_counter();
        for (u64 page = 0; page < pages; ++page)
            bytes[page * kPage] = static_cast<u8>(r);
        copies[r] = (cycle_counter() - start) / pages;
        // 2. Send again, wait until everything is acknowledged (no send holds a page), and write
        //    each page: the fault that only makes it writable again (a lazy reclaim).
        queued = 0;
        while (queued < pages * kPage) {
            auto sent = send(tcp, { buffer.value() + queued, pages * kPage - queued });
            if (sent.is_error())
                return 1;
            queued += sent.value();
        }
        while (true) {
            auto left = get_option(tcp, abi::SocketOption::SendQueued);
            if (left.is_error() || left.value() == 0)
                break;
            sleep_ms(1);
        }
        start = cycle_counter();
        for (u64 page = 0; page < pages; ++page)
            bytes[page * kPage] = static_cast<u8>(r + 1);
        reclaims[r] = (cycle_counter() - start) / pages;
        // 3. The same writes once more: the pages are writable now.
        start = cycle_counter();
        for (u64 page = 0; page < pages; ++page)
            bytes[page * kPage + 1] = static_cast<u8>(r);
        plain[r] = (cycle_counter() - start) / pages;
    }
    report("cow-fault-copy", copies, kRounds, " per page (a write while a send holds it)");
    report("cow-fault-reclaim", reclaims, kRounds, " per page (a write after the ACK: writable again, no copy)");
    report("writable-page-write", plain, kRounds, " per page (no fault)");
    (void)set_option(tcp, abi::SocketOption::Linger, 30000);
    (void)close(tcp);
    (void)zero_copy_free(buffer.value(), pages * kPage);
    return 0;
}

u64 count_or(Span<StringView const> arguments, usize index, u64 fallback)
{
    u64 value;
    if (arguments.size() > index && parse_u64(arguments[index], value) && value > 0)
        return value;
    return fallback;
}

} // namespace

int main(Span<StringView const> arguments)
{
    StringView what = arguments.size() > 1 ? arguments[1] : StringView("");
    calibrate();
    if (what == "null")
        return null_calls(count_or(arguments, 2, 10000));
    if (what == "switch")
        return task_switch(count_or(arguments, 2, 2000));
    if (what == "threads")
        return thread_switch(count_or(arguments, 2, 2000));
    if (what == "fault")
        return demand_zero(count_or(arguments, 2, 256));
    u32 host;
    if (what == "cow" && arguments.size() > 3 && parse_ipv4(arguments[2], host)) {
        u64 port;
        if (parse_u64(arguments[3], port) && port > 0 && port < 65536)
            return copy_on_write(host, static_cast<u16>(port), count_or(arguments, 4, 64));
    }
    println("usage: ubench null [N] | switch [N] | threads [N] | fault [PAGES] | cow HOST PORT [PAGES]");
    return 2;
}

} // namespace skiff::user

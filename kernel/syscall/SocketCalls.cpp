// The socket calls (lib/Abi.h 16-29): BSD sockets for tasks over the stack's non-blocking calls
// (net/socket/Socket.h), blocking the way the kernel's own glue does — take the stack lock, try,
// and if the call would block wait on the task's NetWaiter (which the stack wakes through
// Port::wake) and try again — with three additions for user space:
//
// - The waits are interruptible: killing the task ends them, and the call returns Interrupted.
// - User memory the stack reads or writes in place (send, receive) is made safe first: under the
//   task's memory lock (so no thread of the task can unmap it meanwhile) and the stack lock,
//   UserSpace::prepare_access checks every page of the buffer and makes it present (and writable,
//   to receive into); only then does the stack touch it, inside the user-access window (SMAP). So
//   the copy path is one copy, user memory to packet buffer or packet buffer to user memory, and
//   a bad buffer is Fault before the stack sees it. Small structures (addresses, poll entries) go
//   through the fault-safe copies.
// - Lock order: the task's memory lock, then the stack lock, never the other way.

#include <kernel/syscall/SocketCalls.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/syscall/CallResults.h>
#include <kernel/syscall/Descriptors.h>
#include <kernel/syscall/PacketRing.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>
#include <net/icmp/Icmp.h>
#include <net/socket/Socket.h>
#include <net/tcp/TcpLayer.h>
#include <net/tcp/TcpSocket.h>
#include <net/udp/UdpLayer.h>
#include <net/udp/UdpSocket.h>

namespace skiff::syscall {

namespace {

using abi::Call;
using arch::InterruptDisabler;

constexpr u64 kWaitSliceMs = 1000; // re-check at least this often, whatever the wakes say
constexpr u64 kPingSliceMs = 50;   // ping replies wake one waiter only (net/icmp/Icmp.h)
constexpr u64 kMaxPingData = 8192;
constexpr u64 kPlacedSlack = 4096; // kReceivePlaced: the first page is where the bytes may start
// SendFile blocked on the stack's transmit pool: nothing wakes a task when another socket's buffers
// come back, so it looks again this often.
constexpr u64 kPoolSliceMs = 2;

u16 s_next_ping_identifier = 0x5300; // guarded by interrupts off

// A descriptor held for the length of a call.
class Held {
public:
    Held(DescriptorTable* table, Descriptor* descriptor)
        : m_table(table)
        , m_descriptor(descriptor)
    {
    }
    ~Held()
    {
        if (m_descriptor)
            m_table->release(m_descriptor);
    }
    Held(Held const&) = delete;
    Held& operator=(Held const&) = delete;
    explicit operator bool() const { return m_descriptor; }
    Descriptor& operator*() const { return *m_descriptor; }
    Descriptor* operator->() const { return m_descriptor; }

private:
    DescriptorTable* m_table;
    Descriptor* m_descriptor;
};

struct Context {
    task::Task& task;
    DescriptorTable& table;
};

// The task's table (made on first use) or an error.
Result<DescriptorTable*> table_of(task::Task& task)
{
    return DescriptorTable::of(task);
}

Result<net::SocketAddress> read_address(uptr address)
{
    abi::SocketAddress user;
    if (!mm::is_user_range(address, sizeof(user)) || !arch::copy_from_user(&user, address, sizeof(user)))
        return Error::Fault;
    return net::SocketAddress { net::Ipv4Address { user.address }, user.port };
}

Result<void> write_address(uptr address, net::SocketAddress const& value)
{
    if (!address)
        return {};
    abi::SocketAddress user { value.address.value, value.port, 0 };
    if (!mm::is_user_range(address, sizeof(user)) || !arch::copy_to_user(address, &user, sizeof(user)))
        return Error::Fault;
    return {};
}

// With the memory and stack locks held: make the buffer safe for the stack to touch in place.
Result<void> prepare(task::Task& task, uptr buffer, u64 length, bool write)
{
    InterruptDisabler disabler;
    return task.space().prepare_access(buffer, length, write);
}

// One attempt of a socket call under the stack lock (and the task's memory lock first when it
// touches user memory); `seen` is the waiter's generation before it.
template<typename Attempt>
auto attempt_locked(Context& context, bool user_memory, u64& seen, Attempt attempt) -> decltype(attempt())
{
    if (user_memory) {
        sync::MutexLocker memory(context.task.memory_lock());
        knet::StackLocker stack;
        seen = context.table.waiter().generation();
        return attempt();
    }
    knet::StackLocker stack;
    seen = context.table.waiter().generation();
    return attempt();
}

// Waits for the next wake after `seen`, for at most `deadline_ns`; Interrupted when the task is
// being killed, TimedOut past the deadline.
Result<void> wait_after(Context& context, u64 seen, u64 deadline_ns, u64 slice_ms = kWaitSliceMs)
{
    if (sched::current()->interrupt_pending())
        return Error::Interrupted;
    u64 now = time::monotonic_ns();
    if (now >= deadline_ns)
        return Error::TimedOut;
    u64 left_ms = (deadline_ns - now + 999999) / 1000000;
    {
        sched::InterruptibleWait interruptible;
        context.table.waiter().wait_for_change(seen, min(left_ms, slice_ms));
    }
    if (sched::current()->interrupt_pending())
        return Error::Interrupted;
    return {};
}

u64 deadline_after(u64 timeout_ms)
{
    return timeout_ms ? time::monotonic_ns() + timeout_ms * 1000000 : ~0ull;
}

// Retries `attempt` until it does anything but WouldBlock (or the descriptor is non-blocking).
template<typename Attempt>
auto blocking(Context& context, Descriptor& descriptor, u64 timeout_ms, bool user_memory, Attempt attempt)
    -> decltype(attempt())
{
    u64 deadline = deadline_after(timeout_ms);
    while (true) {
        u64 seen;
        auto result = attempt_locked(context, user_memory, seen, attempt);
        if (!result.is_error() || result.error() != Error::WouldBlock || descriptor.nonblocking)
            return result;
        TRY(wait_after(context, seen, deadline));
    }
}

// Waits until `done` (called under the stack lock) is true or fails.
template<typename Condition>
Result<void> wait_until(Context& context, u64 timeout_ms, Condition condition)
{
    u64 deadline = deadline_after(timeout_ms);
    while (true) {
        u64 seen;
        bool reached = TRY(attempt_locked(context, false, seen, condition));
        if (reached)
            return {};
        TRY(wait_after(context, seen, deadline));
    }
}

// After a call changed a TCP connection (queued data, read some, closed its sending half): the
// network thread is woken only if one of the connection's timers (an ACK now due, a retransmission
// timeout just armed) comes before the thread's own next look. Stack lock held.
void wake_for_timers(net::TcpSocket const& socket)
{
    knet::wake_network_thread_by(socket.next_deadline().ns());
}

// --- The calls --------------------------------------------------------------------------------

i64 open_socket(Context& context, u64 type)
{
    if (!knet::is_running())
        return failed(Error::NetworkUnreachable);
    auto* descriptor = new (std::nothrow) Descriptor;
    if (!descriptor)
        return failed(Error::NoMemory);
    Result<void> opened = {};
    switch (static_cast<abi::SocketType>(type)) {
    case abi::SocketType::Stream: {
        descriptor->kind = DescriptorKind::Tcp;
        knet::StackLocker locker;
        auto socket = knet::stack().tcp().open();
        if (socket.is_error()) {
            opened = socket.error();
            break;
        }
        descriptor->tcp = socket.value();
        descriptor->tcp->set_waiter(&context.table.waiter());
        // As the kernel's own bulk receivers do: a window the NIC can take.
        if (u32 window = knet::tcp_receive_window_hint())
            descriptor->tcp->set_buffer_sizes(0, window);
        break;
    }
    case abi::SocketType::Datagram: {
        descriptor->kind = DescriptorKind::Udp;
        knet::StackLocker locker;
        auto socket = knet::stack().udp().open();
        if (socket.is_error()) {
            opened = socket.error();
            break;
        }
        descriptor->udp = socket.value();
        descriptor->udp->set_waiter(&context.table.waiter());
        break;
    }
    case abi::SocketType::Ping: {
        descriptor->kind = DescriptorKind::Ping;
        InterruptDisabler disabler;
        descriptor->ping_identifier = s_next_ping_identifier++;
        break;
    }
    default: opened = Error::InvalidArgument; break;
    }
    if (opened.is_error()) {
        delete descriptor;
        return failed(opened.error());
    }
    auto number = context.table.add(descriptor);
    if (number.is_error()) {
        context.table.release(descriptor); // closes the socket just opened
        return failed(number.error());
    }
    return number.value();
}

i64 bind(Context&, Descriptor& descriptor, uptr address)
{
    auto local = read_address(address);
    if (local.is_error())
        return failed(local.error());
    knet::StackLocker locker;
    switch (descriptor.kind) {
    case DescriptorKind::Tcp: return succeeded(descriptor.tcp->bind(local.value()));
    case DescriptorKind::Udp: return succeeded(descriptor.udp->bind(local.value()));
    default: return failed(Error::NotSupported);
    }
}

i64 listen(Context&, Descriptor& descriptor, u64 backlog)
{
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    knet::StackLocker locker;
    return succeeded(descriptor.tcp->listen(static_cast<u32>(min<u64>(backlog, 64))));
}

i64 accept(Context& context, Descriptor& listener, uptr peer_address)
{
    if (listener.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    if (peer_address && !mm::is_user_range(peer_address, sizeof(abi::SocketAddress)))
        return failed(Error::Fault);
    auto* descriptor = new (std::nothrow) Descriptor;
    if (!descriptor)
        return failed(Error::NoMemory);
    net::SocketAddress peer;
    auto accepted
        = blocking(context, listener, listener.receive_timeout_ms, false, [&] { return listener.tcp->accept(&peer); });
    if (accepted.is_error()) {
        delete descriptor;
        return failed(accepted.error());
    }
    {
        knet::StackLocker locker;
        descriptor->kind = DescriptorKind::Tcp;
        descriptor->tcp = accepted.value();
        descriptor->tcp->set_waiter(&context.table.waiter());
    }
    auto number = context.table.add(descriptor);
    if (number.is_error()) {
        context.table.release(descriptor); // no room: the connection is closed
        return failed(number.error());
    }
    (void)write_address(peer_address, peer);
    return number.value();
}

i64 connect(Context& context, Descriptor& descriptor, uptr address)
{
    auto remote = read_address(address);
    if (remote.is_error())
        return failed(remote.error());
    if (descriptor.kind == DescriptorKind::Udp) {
        knet::StackLocker locker;
        return succeeded(descriptor.udp->connect(remote.value()));
    }
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    auto started = [&] {
        knet::StackLocker locker;
        return descriptor.tcp->connect(remote.value());
    }();
    knet::wake_network_thread();
    if (started.is_error() && started.error() != Error::InProgress)
        return failed(started.error());
    if (descriptor.nonblocking)
        return failed(Error::InProgress);
    // The three-way handshake: SYN-SENT until the SYN,ACK, or Closed with the reason.
    net::TcpSocket* socket = descriptor.tcp;
    return succeeded(wait_until(context, 0, [socket]() -> Result<bool> {
        switch (socket->state()) {
        case net::TcpState::SynSent:
        case net::TcpState::SynReceived: return false;
        case net::TcpState::Closed: return socket->error() != Error::None ? socket->error() : Error::ConnectionRefused;
        default: return true;
        }
    }));
}

i64 send(Context& context, Descriptor& descriptor, uptr buffer, u64 length, u64 flags, uptr address)
{
    // A Ping socket's buffer is unused (the kernel makes the echo data).
    if (descriptor.kind != DescriptorKind::Ping && !mm::is_user_range(buffer, length))
        return failed(Error::Fault);
    auto* data = reinterpret_cast<u8 const*>(buffer);
    bool dont_wait = flags & abi::kSendDontWait;
    switch (descriptor.kind) {
    case DescriptorKind::Tcp: {
        if (address)
            return failed(Error::AlreadyConnected);
        bool was = descriptor.nonblocking;
        descriptor.nonblocking |= dont_wait;
        // The network thread sleeps until the stack's next deadline: it is woken only when this
        // send set a timer due before then, not for every write — with data in flight, the ACKs
        // wake it and send what was queued (as the kernel's own senders do).
        auto sent = blocking(context, descriptor, 0, true, [&]() -> Result<usize> {
            TRY(prepare(context.task, buffer, length, false));
            arch::begin_user_access();
            auto result = descriptor.tcp->send({ data, length });
            arch::end_user_access();
            wake_for_timers(*descriptor.tcp);
            return result;
        });
        descriptor.nonblocking = was;
        return value_or_error(sent);
    }
    case DescriptorKind::Udp: {
        net::SocketAddress destination;
        if (address) {
            auto read = read_address(address);
            if (read.is_error())
                return failed(read.error());
            destination = read.value();
        }
        u64 seen;
        auto sent = attempt_locked(context, true, seen, [&]() -> Result<usize> {
            TRY(prepare(context.task, buffer, length, false));
            arch::begin_user_access();
            auto result = address ? descriptor.udp->sendto({ data, length }, destination)
                                  : descriptor.udp->send({ data, length });
            arch::end_user_access();
            return result;
        });
        // The send may have armed a timer (an ARP request): let the network thread recompute.
        knet::wake_network_thread();
        return value_or_error(sent);
    }
    case DescriptorKind::Ping: {
        if (!address)
            return failed(Error::NotConnected);
        if (length > kMaxPingData)
            return failed(Error::MessageTooLong);
        auto destination = read_address(address);
        if (destination.is_error())
            return failed(destination.error());
        auto sent = [&] {
            knet::StackLocker locker;
            knet::stack().icmp().set_echo_waiter(&context.table.waiter());
            return knet::stack().icmp().send_echo_request(destination.value().address, descriptor.ping_identifier,
                static_cast<u16>(flags >> 16), static_cast<u16>(length));
        }();
        knet::wake_network_thread();
        return sent.is_error() ? failed(sent.error()) : static_cast<i64>(length);
    }
    case DescriptorKind::Ring: return failed(Error::NotSupported); // RingTransmit sends
    case DescriptorKind::File: return failed(Error::NotSupported); // read only: SendFile sends it
    }
    return failed(Error::NotSupported);
}

// SendFile: the head (copied, like Send) and then file bytes by reference, in one hold of the
// stack lock, so that a small response's head and body leave in one segment (or one TSO unit).
// The head goes whole before any file byte: if only part of it fits, that part is the result.
i64 send_file(Context& context, Descriptor& descriptor, u64 const* a)
{
    i64 file_number = static_cast<i64>(a[1]);
    u64 offset = a[2];
    u64 length = a[3];
    uptr head = a[4];
    u64 head_length = a[5];
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    if (head_length > abi::kMaxSendFileHead)
        return failed(Error::InvalidArgument);
    if (head_length && !mm::is_user_range(head, head_length))
        return failed(Error::Fault);
    Held file(&context.table, context.table.acquire(file_number));
    if (!file)
        return failed(Error::BadDescriptor);
    if (file->kind != DescriptorKind::File)
        return failed(Error::InvalidArgument);
    kfs::File const& bytes = file->file;
    if (offset > bytes.size || length > bytes.size - offset)
        return failed(Error::OutOfRange);
    net::TcpSocket* socket = descriptor.tcp;
    auto attempt = [&]() -> Result<usize> {
        usize queued = 0;
        if (head_length) {
            TRY(prepare(context.task, head, head_length, false));
            arch::begin_user_access();
            auto sent = socket->send({ reinterpret_cast<u8 const*>(head), head_length });
            arch::end_user_access();
            queued = TRY(sent);
        }
        if (queued == head_length && length) {
            auto sent = knet::send_file_range(*socket, bytes, offset, length);
            if (sent.is_error() && queued == 0)
                return sent.error();
            if (!sent.is_error())
                queued += sent.value();
        }
        wake_for_timers(*socket); // as Send: only for a timer due before the thread's next look
        return queued;
    };
    auto sent = [&]() -> Result<usize> {
        while (true) {
            u64 seen;
            auto result = attempt_locked(context, head_length != 0, seen, attempt);
            if (!result.is_error() || descriptor.nonblocking)
                return result;
            if (result.error() != Error::WouldBlock && result.error() != Error::NoBufferSpace)
                return result;
            u64 slice_ms = result.error() == Error::NoBufferSpace ? kPoolSliceMs : kWaitSliceMs;
            TRY(wait_after(context, seen, ~0ull, slice_ms));
        }
    }();
    return value_or_error(sent);
}

Result<net::EchoReply> wait_ping_reply(Context& context, Descriptor& descriptor, u16 sequence);

// Receive with kReceivePlaced on a TCP socket: the zero-copy receive contract (docs/zero-copy.md)
// for a task. `buffer` is `length` bytes of the task's zero-copy memory whose first page is slack:
// the bytes may start anywhere in it, and `offset` says where. Under one hold of the locks it
//   - takes what the NIC read straight into the buffer the task posted (header-first receive;
//     the bytes start at the buffer's start);
//   - else receives at the page offset of the next queued payload, so that copy elimination can
//     remap what lines up;
//   - else, nothing queued, posts the buffer (in this task's address space: TcpSocket::post_receive
//     with the space as owner) and waits, so that the NE2000's header-first receive puts payload
//     straight into it.
// The posting ends before the call returns, whatever ends it (data, the timeout, the task being
// killed) — except `next`: a second buffer like the first, posted as the call returns with data
// when nothing is queued, so that segments arriving while the task works on what it got go
// straight into it. The task passes it as `buffer` next time (double buffering); closing the
// socket or freeing the pages (zero_copy_free, under the stack lock) ends that posting.
Result<usize> receive_placed(Context& context, Descriptor& descriptor, uptr buffer, u64 length, uptr next, u32& offset)
{
    auto* data = reinterpret_cast<u8*>(buffer);
    usize usable = length - kPlacedSlack;
    void* space = &context.task.space();
    net::TcpSocket& socket = *descriptor.tcp;
    // Under the locks. What a posting collected is the task's in order: it goes first. A posting
    // of another buffer than this call's (the task passed a different one than last time's next)
    // is copied across, as far as this call's buffer reaches: TCP has acknowledged those bytes, so
    // what does not fit (a smaller buffer than the one posted) or sat in pages the task has freed
    // since is lost to the task — its own doing; the kernel only never writes outside its memory.
    auto take_posted = [&]() -> usize {
        u8* posted = socket.tcb().posted.buffer;
        usize placed = socket.take_posted();
        if (placed && posted != data) {
            // Still the task's zero-copy memory (the memory lock, held here, keeps it so)?
            // Otherwise the bytes went with the pages the task freed.
            placed = min(placed, usable);
            if (!mm::is_zero_copy_buffer(posted, placed))
                return 0;
            arch::begin_user_access();
            __builtin_memmove(data, posted, placed);
            arch::end_user_access();
        }
        offset = 0;
        return placed;
    };
    auto post_next = [&] {
        if (next)
            (void)socket.post_receive({ reinterpret_cast<u8*>(next), usable }, space); // refused if queued: fine
    };
    u64 deadline = deadline_after(descriptor.receive_timeout_ms);
    while (true) {
        u64 seen;
        auto received = attempt_locked(context, true, seen, [&]() -> Result<usize> {
            TRY(prepare(context.task, buffer, length, true));
            if (usize placed = take_posted()) {
                post_next();
                return placed;
            }
            offset = socket.receive_page_offset();
            arch::begin_user_access();
            auto result = socket.recv_zero_copy({ data + offset, usable });
            arch::end_user_access();
            if (!result.is_error() && result.value())
                post_next();
            else if (result.is_error() && result.error() == Error::WouldBlock && !descriptor.nonblocking)
                (void)socket.post_receive({ data, usable }, space); // refused (zc off, ...): wait anyway
            return result;
        });
        if (!received.is_error() || received.error() != Error::WouldBlock || descriptor.nonblocking)
            return received;
        auto waited = wait_after(context, seen, deadline);
        if (waited.is_error()) {
            // Timed out or killed: the posting ends here, with whatever it collected.
            u64 unused;
            return attempt_locked(context, true, unused, [&]() -> Result<usize> {
                if (usize placed = take_posted())
                    return placed;
                return waited.error();
            });
        }
    }
}

i64 receive(
    Context& context, Descriptor& descriptor, uptr buffer, u64 length, u64 flags, uptr extra, uptr next, bool from)
{
    if (!mm::is_user_range(buffer, length))
        return failed(Error::Fault);
    auto* data = reinterpret_cast<u8*>(buffer);
    bool was = descriptor.nonblocking;
    descriptor.nonblocking |= (flags & abi::kReceiveDontWait) != 0;
    i64 result = failed(Error::NotSupported);
    switch (descriptor.kind) {
    case DescriptorKind::Tcp: {
        if (from) {
            result = failed(Error::NotSupported);
            break;
        }
        bool placed = flags & abi::kReceivePlaced;
        if (placed && length <= kPlacedSlack) {
            result = failed(Error::InvalidArgument);
            break;
        }
        if (extra && !mm::is_user_range(extra, sizeof(u32))) {
            result = failed(Error::Fault);
            break;
        }
        if (next && (!placed || !mm::is_user_range(next, length))) {
            result = failed(next && !placed ? Error::InvalidArgument : Error::Fault);
            break;
        }
        u32 offset = 0;
        auto received = placed
            ? receive_placed(context, descriptor, buffer, length, next, offset)
            : blocking(context, descriptor, descriptor.receive_timeout_ms, true, [&]() -> Result<usize> {
                  TRY(prepare(context.task, buffer, length, true));
                  arch::begin_user_access();
                  auto result = descriptor.tcp->recv({ data, length });
                  arch::end_user_access();
                  return result;
              });
        // Reading may have opened the window: a window update then is due now (TcpSocket::receive
        // moves the delayed-ACK deadline), and the network thread sends it.
        {
            knet::StackLocker locker;
            wake_for_timers(*descriptor.tcp);
        }
        if (!received.is_error() && extra && !arch::copy_to_user(extra, &offset, sizeof(offset)))
            result = failed(Error::Fault);
        else
            result = value_or_error(received);
        break;
    }
    case DescriptorKind::Udp: {
        if (extra && !mm::is_user_range(extra, sizeof(abi::SocketAddress))) {
            result = failed(Error::Fault);
            break;
        }
        net::SocketAddress peer;
        auto received = blocking(context, descriptor, descriptor.receive_timeout_ms, true, [&]() -> Result<usize> {
            TRY(prepare(context.task, buffer, length, true));
            arch::begin_user_access();
            auto result = descriptor.udp->recvfrom({ data, length }, &peer);
            arch::end_user_access();
            return result;
        });
        if (!received.is_error() && from && write_address(extra, peer).is_error())
            result = failed(Error::Fault);
        else
            result = value_or_error(received);
        break;
    }
    case DescriptorKind::Ping: {
        if (length < sizeof(abi::PingReply)) {
            result = failed(Error::InvalidArgument);
            break;
        }
        u16 sequence = static_cast<u16>(flags >> 16); // flags' low bits are the receive flags
        auto reply = wait_ping_reply(context, descriptor, sequence);
        if (reply.is_error()) {
            result = failed(reply.error());
            break;
        }
        auto const& echo = reply.value();
        abi::PingReply out { echo.source.value, echo.identifier, echo.sequence, echo.length, echo.ttl,
            static_cast<u8>(echo.data_ok), 0, echo.received_ns };
        result = arch::copy_to_user(buffer, &out, sizeof(out)) ? static_cast<i64>(sizeof(out)) : failed(Error::Fault);
        if (from && write_address(extra, { echo.source, 0 }).is_error())
            result = failed(Error::Fault);
        break;
    }
    case DescriptorKind::Ring: break; // RingWait and the ring's own pages receive
    case DescriptorKind::File: break; // FileRead reads
    }
    descriptor.nonblocking = was;
    return result;
}

// A Ping socket's reply with `sequence` (older ones are skipped: ping counted them lost already).
Result<net::EchoReply> wait_ping_reply(Context& context, Descriptor& descriptor, u16 sequence)
{
    u64 deadline = deadline_after(descriptor.receive_timeout_ms);
    while (true) {
        u64 seen;
        auto reply = attempt_locked(context, false, seen, [&]() -> Result<net::EchoReply> {
            while (true) {
                auto next = knet::stack().icmp().take_echo_reply(descriptor.ping_identifier);
                if (next.is_error())
                    return Error::WouldBlock;
                if (next.value().sequence == sequence)
                    return next.value();
            }
        });
        if (!reply.is_error() || descriptor.nonblocking)
            return reply;
        TRY(wait_after(context, seen, deadline, kPingSliceMs));
    }
}

i64 shutdown(Context&, Descriptor& descriptor)
{
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    auto result = [&] {
        knet::StackLocker locker;
        auto shut = descriptor.tcp->shutdown_write();
        wake_for_timers(*descriptor.tcp); // the FIN went out; its retransmission timer
        return shut;
    }();
    return succeeded(result);
}

i64 close(Context& context, i64 number)
{
    auto taken = context.table.take(number);
    if (taken.is_error())
        return failed(taken.error());
    Descriptor* descriptor = taken.value();
    if (descriptor->kind == DescriptorKind::Tcp && descriptor->linger_ms == abi::kLingerAbort) {
        {
            knet::StackLocker locker;
            descriptor->tcp->set_waiter(nullptr);
            descriptor->tcp->abort();                // RST now; its buffers go back to the pool
            descriptor->kind = DescriptorKind::Ping; // nothing left to close
        }
        context.table.release(descriptor); // the reset went out inline: no timer is left
        return 0;
    }
    if (descriptor->kind == DescriptorKind::Tcp && descriptor->linger_ms) {
        // Linger: the data queued is acknowledged before the FIN, or the connection is reset.
        net::TcpSocket* socket = descriptor->tcp;
        auto drained = wait_until(context, descriptor->linger_ms, [socket]() -> Result<bool> {
            switch (socket->state()) {
            case net::TcpState::Established:
            case net::TcpState::CloseWait: return socket->send_queued_bytes() == 0;
            default: return true;
            }
        });
        bool reset = false;
        {
            knet::StackLocker locker;
            if (drained.is_error() && socket->send_queued_bytes() != 0) {
                socket->set_waiter(nullptr);
                socket->abort();
                descriptor->kind = DescriptorKind::Ping; // nothing left to close
                reset = true;
            }
        }
        context.table.release(descriptor);
        return reset ? failed(Error::TimedOut) : 0;
    }
    context.table.release(descriptor);
    return 0;
}

// Fills each entry's returned events, waiting until one has any (or the timeout: 0 ready).
Result<u32> poll_ready(Context& context, Descriptor** held, abi::PollEntry* user, u64 count, i64 timeout_ms)
{
    u64 deadline = timeout_ms < 0 ? ~0ull : time::monotonic_ns() + static_cast<u64>(timeout_ms) * 1000000;
    bool looked = false;
    while (true) {
        u64 seen;
        u32 ready = TRY(attempt_locked(context, false, seen, [&]() -> Result<u32> {
            u32 count_ready = 0;
            for (u64 i = 0; i < count; ++i) {
                u32 events = 0;
                Descriptor* descriptor = held[i];
                if (!descriptor)
                    events = abi::kPollInvalid;
                else if (descriptor->kind == DescriptorKind::Tcp)
                    events = descriptor->tcp->poll_events();
                else if (descriptor->kind == DescriptorKind::Udp)
                    events = descriptor->udp->poll_events();
                else if (descriptor->kind == DescriptorKind::Ring)
                    events = abi::kPollOut; // RingWait waits for frames
                else if (descriptor->kind == DescriptorKind::File)
                    events = abi::kPollIn | abi::kPollOut; // as a regular file: never waits
                else
                    events = abi::kPollOut;
                user[i].returned_events
                    = events & (user[i].events | abi::kPollError | abi::kPollHangUp | abi::kPollInvalid);
                count_ready += user[i].returned_events != 0;
            }
            return count_ready;
        }));
        if (ready > 0 || timeout_ms == 0)
            return ready;
        if (!looked) {
            // Before the task sleeps, the network thread looks at the NICs once (busy polling, in
            // the spirit of Linux's): frames that came while the task worked wait in the device for
            // an interrupt its mitigation holds back, often for longer than it takes to handle
            // them. The thread runs first (it has the higher priority); the wait below then sees
            // what they brought. A server that answers a burst of requests and polls again pays
            // one look per burst, not one per request, as when it was a kernel thread.
            looked = true;
            knet::wake_network_thread();
        }
        auto waited = wait_after(context, seen, deadline);
        if (waited.is_error())
            return waited.error() == Error::TimedOut ? Result<u32>(0u) : Result<u32>(waited.error());
    }
}

i64 poll(Context& context, uptr entries, u64 count, i64 timeout_ms)
{
    if (count > abi::kMaxPollEntries)
        return failed(Error::InvalidArgument);
    u64 bytes = count * sizeof(abi::PollEntry);
    if (!mm::is_user_range(entries, bytes))
        return failed(Error::Fault);
    auto* copy = context.table.take_poll_scratch(); // DescriptorTable::PollScratch: why not the stack
    if (!copy)
        return failed(Error::NoMemory);
    if (!arch::copy_from_user(copy->user, entries, bytes)) {
        context.table.give_back_poll_scratch(copy);
        return failed(Error::Fault);
    }
    for (u64 i = 0; i < count; ++i)
        copy->held[i] = context.table.acquire(copy->user[i].descriptor);
    auto ready = poll_ready(context, copy->held, copy->user, count, timeout_ms);
    for (u64 i = 0; i < count; ++i) {
        if (copy->held[i])
            context.table.release(copy->held[i]);
    }
    i64 result = ready.is_error()                         ? failed(ready.error())
        : !arch::copy_to_user(entries, copy->user, bytes) ? failed(Error::Fault)
                                                          : static_cast<i64>(ready.value());
    context.table.give_back_poll_scratch(copy);
    return result;
}

// Options lib/Abi.h defines (whether or not they apply to a given socket).
bool is_known_option(u64 option)
{
    return option >= static_cast<u64>(abi::SocketOption::NoDelay)
        && option <= static_cast<u64>(abi::SocketOption::TransmitShare);
}

i64 set_option(Context&, Descriptor& descriptor, u64 option, u64 value)
{
    using O = abi::SocketOption;
    if (!is_known_option(option))
        return failed(Error::InvalidArgument);
    switch (static_cast<O>(option)) {
    case O::NonBlocking: descriptor.nonblocking = value != 0; return 0;
    case O::ReceiveTimeout: descriptor.receive_timeout_ms = value; return 0;
    case O::Linger: descriptor.linger_ms = value; return 0;
    default: break;
    }
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    knet::StackLocker locker;
    net::TcpSocket& socket = *descriptor.tcp;
    switch (static_cast<O>(option)) {
    case O::NoDelay: socket.set_nodelay(value != 0); return 0;
    case O::ZeroCopy:
        if (value > 1)
            return failed(Error::InvalidArgument);
        socket.set_zero_copy(value != 0);
        return 0;
    case O::ReceiveBuffer:
    case O::SendBuffer:
        if (value < 1024 || value > (1u << 24))
            return failed(Error::InvalidArgument);
        if (static_cast<O>(option) == O::ReceiveBuffer)
            socket.set_buffer_sizes(0, static_cast<u32>(value));
        else
            socket.set_buffer_sizes(static_cast<u32>(value), 0);
        return 0;
    case O::KeepAlive: socket.set_keepalive(value != 0); return 0;
    case O::ZeroCopyThreshold:
        if (value > 65536)
            return failed(Error::InvalidArgument);
        socket.options().zero_copy_threshold = static_cast<u32>(value);
        return 0;
    default: return failed(Error::InvalidArgument);
    }
}

i64 get_option(Context&, Descriptor& descriptor, u64 option)
{
    using O = abi::SocketOption;
    if (!is_known_option(option))
        return failed(Error::InvalidArgument);
    switch (static_cast<O>(option)) {
    case O::NonBlocking: return descriptor.nonblocking;
    case O::ReceiveTimeout: return static_cast<i64>(descriptor.receive_timeout_ms);
    case O::Linger: return static_cast<i64>(descriptor.linger_ms);
    case O::PingIdentifier:
        return descriptor.kind == DescriptorKind::Ping ? descriptor.ping_identifier : failed(Error::NotSupported);
    default: break;
    }
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    knet::StackLocker locker;
    net::TcpSocket& socket = *descriptor.tcp;
    switch (static_cast<O>(option)) {
    case O::NoDelay: return socket.options().nodelay;
    case O::ZeroCopy: return socket.options().zero_copy;
    case O::ReceiveBuffer: return socket.options().receive_buffer;
    case O::SendBuffer: return socket.options().send_buffer;
    case O::ZeroCopyThreshold: return socket.options().zero_copy_threshold;
    case O::SendQueued: return socket.send_queued_bytes();
    case O::State: return static_cast<i64>(socket.state());
    case O::TransmitShare: return knet::transmit_buffers_to_share();
    default: return failed(Error::InvalidArgument);
    }
}

// --- The completion report of the zero-copy send path ------------------------------------------

// ZeroCopyCompletions: waits (interruptibly, up to timeout_ms) until the stack has released the
// first `offset` bytes the socket took, then reports (lib/Abi.h, net::TcpSocket::send_released).
i64 zero_copy_completions(Context& context, Descriptor& descriptor, uptr report_address, u64 offset, u64 timeout_ms)
{
    if (descriptor.kind != DescriptorKind::Tcp)
        return failed(Error::NotSupported);
    if (!mm::is_user_range(report_address, sizeof(abi::ZeroCopyReport)))
        return failed(Error::Fault);
    net::TcpSocket* socket = descriptor.tcp;
    if (offset) {
        auto released = wait_until(context, timeout_ms, [socket, offset]() -> Result<bool> {
            if (offset > socket->send_accepted())
                return Error::InvalidArgument; // bytes never sent are never released
            return socket->send_released() >= offset;
        });
        if (released.is_error())
            return failed(released.error());
    }
    abi::ZeroCopyReport report {};
    {
        knet::StackLocker locker;
        auto const& stats = socket->stats();
        report.accepted_bytes = socket->send_accepted();
        report.released_bytes = socket->send_released();
        report.copied_bytes = stats.copied_bytes;
        report.pinned_pieces = stats.zero_copy_pieces;
        report.received_bytes = stats.bytes_received;
        report.remapped_bytes = stats.remapped_bytes;
    }
    report.pinned_pages_now = mm::stats().pinned_frames;
    if (!arch::copy_to_user(report_address, &report, sizeof(report)))
        return failed(Error::Fault);
    return 0;
}

// --- Packet rings ------------------------------------------------------------------------------

i64 map_ring(Context& context, uptr setup_address)
{
    abi::RingSetup setup;
    if (!mm::is_user_range(setup_address, sizeof(setup)) || !arch::copy_from_user(&setup, setup_address, sizeof(setup)))
        return failed(Error::Fault);
    auto* descriptor = new (std::nothrow) Descriptor;
    if (!descriptor)
        return failed(Error::NoMemory);
    auto ring = map_packet_ring(context.task, setup, context.table.waiter());
    if (ring.is_error()) {
        delete descriptor;
        return failed(ring.error());
    }
    descriptor->kind = DescriptorKind::Ring;
    descriptor->ring = ring.value();
    auto number = context.table.add(descriptor);
    if (number.is_error()) {
        context.table.release(descriptor); // unmaps the ring again
        return failed(number.error());
    }
    if (!arch::copy_to_user(setup_address, &setup, sizeof(setup))) {
        (void)context.table.take(number.value());
        context.table.release(descriptor);
        return failed(Error::Fault);
    }
    return number.value();
}

i64 ring_call(Context& context, Call call, Descriptor& descriptor, u64 const* a)
{
    if (descriptor.kind != DescriptorKind::Ring)
        return failed(Error::InvalidArgument);
    PacketRing& ring = *descriptor.ring;
    switch (call) {
    case Call::RingRelease: return value_or_error(release_ring_slots(ring, static_cast<u32>(min<u64>(a[1], 1u << 20))));
    case Call::RingTransmit:
        return value_or_error(transmit_ring_slots(ring, static_cast<u32>(min<u64>(a[1], 1u << 20))));
    case Call::RingWait: {
        i64 timeout_ms = static_cast<i64>(a[1]);
        u64 deadline = timeout_ms < 0 ? ~0ull : time::monotonic_ns() + static_cast<u64>(timeout_ms) * 1000000;
        while (true) {
            u64 seen = context.table.waiter().generation();
            u32 full = ring_full_slots(ring);
            if (full || timeout_ms == 0)
                return full;
            auto waited = wait_after(context, seen, deadline);
            if (waited.is_error())
                return waited.error() == Error::TimedOut ? 0 : failed(waited.error());
        }
    }
    case Call::RingStatistics: {
        abi::RingStats stats = ring_statistics(ring);
        if (!mm::is_user_range(a[1], sizeof(stats)) || !arch::copy_to_user(a[1], &stats, sizeof(stats)))
            return failed(Error::Fault);
        return 0;
    }
    default: return failed(Error::NotSupported);
    }
}

} // namespace

i64 socket_call(abi::Call call, task::Task& task, u64 const* a)
{
    auto table = table_of(task);
    if (table.is_error())
        return failed(table.error());
    Context context { task, *table.value() };
    if (call == Call::Socket)
        return open_socket(context, a[0]);
    if (call == Call::Close)
        return close(context, static_cast<i64>(a[0]));
    if (call == Call::Poll)
        return poll(context, a[0], a[1], static_cast<i64>(a[2]));
    if (call == Call::RingMap)
        return map_ring(context, a[0]);
    Held descriptor(&context.table, context.table.acquire(static_cast<i64>(a[0])));
    if (!descriptor)
        return failed(Error::BadDescriptor);
    switch (call) {
    case Call::Bind: return bind(context, *descriptor, a[1]);
    case Call::Listen: return listen(context, *descriptor, a[1]);
    case Call::Accept: return accept(context, *descriptor, a[1]);
    case Call::Connect: return connect(context, *descriptor, a[1]);
    case Call::Send: return send(context, *descriptor, a[1], a[2], a[3], 0);
    case Call::Receive: return receive(context, *descriptor, a[1], a[2], a[3], a[4], a[5], false);
    case Call::SendTo: return send(context, *descriptor, a[1], a[2], a[3], a[4] ? a[4] : ~0ull);
    case Call::ReceiveFrom: return receive(context, *descriptor, a[1], a[2], a[3], a[4], 0, true);
    case Call::Shutdown: return shutdown(context, *descriptor);
    case Call::SetOption: return set_option(context, *descriptor, a[1], a[2]);
    case Call::GetOption: return get_option(context, *descriptor, a[1]);
    case Call::RingRelease:
    case Call::RingTransmit:
    case Call::RingWait:
    case Call::RingStatistics: return ring_call(context, call, *descriptor, a);
    case Call::ZeroCopyCompletions: return zero_copy_completions(context, *descriptor, a[1], a[2], a[3]);
    case Call::SendFile: return send_file(context, *descriptor, a);
    default: return failed(Error::NotSupported);
    }
}

namespace {

template<typename Socket>
Result<i64> adopt(task::Task& task, Socket* socket, DescriptorKind kind)
{
    DescriptorTable* table = TRY(table_of(task));
    auto* descriptor = new (std::nothrow) Descriptor;
    if (!descriptor)
        return Error::NoMemory;
    descriptor->kind = kind;
    {
        knet::StackLocker locker;
        if constexpr (requires { socket->recv(Bytes {}); })
            descriptor->tcp = socket;
        else
            descriptor->udp = socket;
        socket->set_waiter(&table->waiter());
    }
    auto number = table->add(descriptor);
    if (number.is_error()) {
        table->release(descriptor); // closes it
        return number.error();
    }
    return number.value();
}

} // namespace

Result<i64> adopt_socket(task::Task& task, net::TcpSocket* socket)
{
    return adopt(task, socket, DescriptorKind::Tcp);
}

Result<i64> adopt_socket(task::Task& task, net::UdpSocket* socket)
{
    return adopt(task, socket, DescriptorKind::Udp);
}

i64 write_socket(task::Task& task, i64 number, uptr buffer, u64 length)
{
    u64 arguments[6] { static_cast<u64>(number), buffer, length, 0, 0, 0 };
    return socket_call(Call::Send, task, arguments);
}

} // namespace skiff::syscall

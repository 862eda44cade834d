#include <user/runtime/Print.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>
#include <user/runtime/ZeroCopy.h>
#include <user/services/Service.h>

namespace skiff::user {

namespace {

constexpr u32 kMaxConnections = 8;
constexpr u32 kBacklog = 32;
constexpr u32 kEchoBufferBytes = 16384;
constexpr u32 kScratchBytes = 65536;
// The largest UDP payload a reassembled IPv4 datagram can carry here (the stack's large buffers
// are 16 KiB); bigger ones are truncated and echoed truncated.
constexpr u32 kDatagramBytes = 16384;
constexpr i64 kInheritedListener = 3;
constexpr i64 kInheritedDatagram = 4;
constexpr u64 kListenState = 1; // SocketOption::State's LISTEN

struct Connection {
    i64 descriptor { -1 };
    bool peer_closed { false };
    u32 pending { 0 }; // echo: bytes received and not yet sent back, at the front of `buffer`
    u8* buffer { nullptr };
};

struct State {
    Service service;
    i64 listener { -1 };
    i64 datagram { -1 };
    Connection connections[kMaxConnections];
    u8* scratch { nullptr };
    u8* datagram_buffer { nullptr };
    u64 connections_served { 0 };
    u64 bytes { 0 };
};

char const* name_of(Service service)
{
    switch (service) {
    case Service::Echo: return "echo";
    case Service::Discard: return "discard";
    case Service::Sink: return "sink";
    }
    return "?";
}

bool is_tcp_listener(i64 descriptor)
{
    auto state = get_option(descriptor, abi::SocketOption::State);
    return !state.is_error() && state.value() == kListenState;
}

Result<i64> open_listener(u16 port)
{
    i64 descriptor = TRY(socket(abi::SocketType::Stream));
    if (auto bound = bind(descriptor, { 0, port }); bound.is_error()) {
        (void)close(descriptor);
        return bound.error();
    }
    TRY(listen(descriptor, kBacklog));
    return descriptor;
}

Result<i64> open_datagram(u16 port)
{
    i64 descriptor = TRY(socket(abi::SocketType::Datagram));
    if (auto bound = bind(descriptor, { 0, port }); bound.is_error()) {
        (void)close(descriptor);
        return bound.error();
    }
    return descriptor;
}

// RFC 862: "When a datagram is received, the data from it is sent back in an answering datagram."
void serve_datagrams(State& state)
{
    for (u32 round = 0; round < 16; ++round) {
        Endpoint from;
        auto received = receive_from(state.datagram, { state.datagram_buffer, kDatagramBytes }, &from);
        if (received.is_error())
            return;
        usize length = min<usize>(received.value(), kDatagramBytes);
        (void)send_to(state.datagram, { state.datagram_buffer, length }, from);
    }
}

// Serves one connection as far as it can go now, without waiting.
void serve(State& state, Connection& c)
{
    bool echo = state.service == Service::Echo;
    for (u32 round = 0; round < 16; ++round) {
        Bytes into = echo ? Bytes { c.buffer + c.pending, kEchoBufferBytes - c.pending }
                          : Bytes { state.scratch, kScratchBytes };
        if (into.size() == 0)
            break; // echo back-pressure: nothing more is read until the peer takes what we send
        auto received = receive(c.descriptor, into, abi::kReceiveDontWait);
        if (received.is_error()) {
            if (received.error() != Error::WouldBlock)
                c.peer_closed = true;
            break;
        }
        if (received.value() == 0) {
            c.peer_closed = true;
            break;
        }
        state.bytes += received.value();
        if (echo)
            c.pending += static_cast<u32>(received.value());
    }
    if (echo && c.pending) {
        auto sent = send(c.descriptor, { c.buffer, c.pending }, abi::kSendDontWait);
        if (!sent.is_error() && sent.value()) {
            u32 count = static_cast<u32>(sent.value());
            __builtin_memmove(c.buffer, c.buffer + count, c.pending - count);
            c.pending -= count;
        } else if (sent.is_error() && sent.error() != Error::WouldBlock) {
            c.peer_closed = true;
            c.pending = 0;
        }
    }
    if (c.peer_closed && c.pending == 0) {
        (void)close(c.descriptor); // FIN after everything queued, or release a dead connection
        c.descriptor = -1;
    }
}

void accept_waiting(State& state)
{
    for (auto& c : state.connections) {
        if (c.descriptor >= 0)
            continue;
        // With every slot busy, connections wait in the listener's queue (and further SYNs in the
        // backlog) rather than being accepted and reset: clients wait.
        auto accepted = accept(state.listener);
        if (accepted.is_error())
            return;
        c.descriptor = accepted.value();
        c.peer_closed = false;
        c.pending = 0;
        (void)set_option(c.descriptor, abi::SocketOption::NonBlocking, 1);
        ++state.connections_served;
    }
}

} // namespace

int serve(Service service, u16 default_port, Span<StringView const> arguments)
{
    u64 port = default_port;
    if (arguments.size() > 1 && (!parse_u64(arguments[1], port) || port == 0 || port > 65535)) {
        println("usage: {} [port]   (default {})", name_of(service), default_port);
        return 2;
    }
    State state;
    state.service = service;
    // Inherited from the kernel at boot, or opened here.
    if (is_tcp_listener(kInheritedListener)) {
        state.listener = kInheritedListener;
    } else {
        auto opened = open_listener(static_cast<u16>(port));
        if (opened.is_error()) {
            println("{}: TCP port {}: {}", name_of(service), port, opened.error());
            return 1;
        }
        state.listener = opened.value();
    }
    if (service == Service::Echo) {
        if (!get_option(kInheritedDatagram, abi::SocketOption::NonBlocking).is_error()) {
            state.datagram = kInheritedDatagram;
        } else {
            auto opened = open_datagram(static_cast<u16>(port));
            if (opened.is_error()) {
                println("{}: UDP port {}: {}", name_of(service), port, opened.error());
                return 1;
            }
            state.datagram = opened.value();
        }
        (void)set_option(state.datagram, abi::SocketOption::NonBlocking, 1);
    }
    (void)set_option(state.listener, abi::SocketOption::NonBlocking, 1);

    // Echo buffers are zero-copy buffers, so that with copy elimination on (`zc on`) the echo's
    // sends are pinned rather than copied, and the compaction in serve(), which rewrites bytes TCP
    // may still hold, goes through copy-on-write (docs/zero-copy.md). If there is no room for
    // them, ordinary memory does, and the echo copies.
    u64 buffer_bytes = service == Service::Echo ? kMaxConnections * kEchoBufferBytes + kDatagramBytes : kScratchBytes;
    auto memory = [&]() -> Result<u8*> {
        if (service == Service::Echo) {
            auto zero_copy = zero_copy_allocate(buffer_bytes);
            if (!zero_copy.is_error())
                return zero_copy.value();
        }
        // Faulted in now: a server's memory is resident from the start, not grown by its clients.
        return map_memory(buffer_bytes, abi::kMapPopulate);
    }();
    if (memory.is_error()) {
        println("{}: no memory for buffers: {}", name_of(service), memory.error());
        return 1;
    }
    if (service == Service::Echo) {
        for (u32 i = 0; i < kMaxConnections; ++i)
            state.connections[i].buffer = memory.value() + i * kEchoBufferBytes;
        state.datagram_buffer = memory.value() + kMaxConnections * kEchoBufferBytes;
    } else {
        state.scratch = memory.value();
    }

    abi::PollEntry entries[2 + kMaxConnections];
    while (true) {
        u32 count = 0;
        bool free_slot = false;
        for (auto const& c : state.connections)
            free_slot |= c.descriptor < 0;
        if (free_slot)
            entries[count++] = { static_cast<i32>(state.listener), abi::kPollIn, 0, 0 };
        if (state.datagram >= 0)
            entries[count++] = { static_cast<i32>(state.datagram), abi::kPollIn, 0, 0 };
        for (auto const& c : state.connections) {
            if (c.descriptor < 0)
                continue;
            u32 events = 0;
            if (service != Service::Echo || c.pending < kEchoBufferBytes)
                events |= abi::kPollIn;
            if (c.pending)
                events |= abi::kPollOut;
            entries[count++] = { static_cast<i32>(c.descriptor), events, 0, 0 };
        }
        auto polled = poll({ entries, count }, -1);
        if (polled.is_error()) {
            println("{}: poll: {}", name_of(service), polled.error());
            return 1;
        }
        if (free_slot)
            accept_waiting(state);
        if (state.datagram >= 0)
            serve_datagrams(state);
        for (auto& c : state.connections) {
            if (c.descriptor >= 0)
                serve(state, c);
        }
    }
}

} // namespace skiff::user

#pragma once

// BSD sockets for user programs: the socket calls of lib/Abi.h, typed. Descriptors are i64; an
// address is an IPv4 address in host byte order and a port. Calls block unless the descriptor is
// non-blocking (SocketOption::NonBlocking) or the call says not to wait.

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>

namespace skiff::user {

struct Endpoint {
    u32 address { 0 }; // host byte order; 0 = any
    u16 port { 0 };
};

Result<i64> socket(abi::SocketType type);
Result<void> bind(i64 descriptor, Endpoint local);
Result<void> listen(i64 descriptor, u32 backlog);
Result<i64> accept(i64 descriptor, Endpoint* peer = nullptr);
Result<void> connect(i64 descriptor, Endpoint remote);
// TCP: queues some of `data` (at least one byte unless non-blocking) and says how much.
Result<usize> send(i64 descriptor, ReadonlyBytes data, u64 flags = 0);
// TCP: up to buffer.size() bytes; 0 is the end of the stream. UDP: one datagram (truncated).
Result<usize> receive(i64 descriptor, Bytes buffer, u64 flags = 0);
// TCP, for copy elimination (docs/zero-copy.md): the bytes start at `offset` (< 4096) into
// `buffer`, at the page offset the next payload has, at most buffer.size() - 4096 of them; the
// buffer's pages are the call's whole. With `next` (another such buffer of the same size), the
// kernel posts it as the call returns, so that payload arriving meanwhile goes straight into it
// (the NE2000's header-first receive): pass it as `buffer` next time, and this one as `next`.
Result<usize> receive_placed(i64 descriptor, Bytes buffer, u32& offset, Bytes next = {});
Result<usize> send_to(i64 descriptor, ReadonlyBytes data, Endpoint destination, u64 flags = 0);
Result<usize> receive_from(i64 descriptor, Bytes buffer, Endpoint* from, u64 flags = 0);
Result<void> shutdown(i64 descriptor);
Result<void> close(i64 descriptor);
// Fills each entry's returned_events; waits up to timeout_ms (-1: forever) for one to have any.
Result<u32> poll(Span<abi::PollEntry> entries, i64 timeout_ms);
Result<void> set_option(i64 descriptor, abi::SocketOption option, u64 value);
Result<u64> get_option(i64 descriptor, abi::SocketOption option);

} // namespace skiff::user

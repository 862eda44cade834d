#pragma once

// Zero-copy buffers for user programs (LyraNET's "special system call"): whole pages, registered
// once with the kernel, that a TCP send with copy elimination pins instead of copying and a
// placed receive remaps into instead of copying (docs/zero-copy.md, docs/userspace.md). Any
// memory works with the socket calls; only these take the zero-copy paths.

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::user {

Result<u8*> zero_copy_allocate(usize length);
Result<void> zero_copy_free(u8* buffer, usize length);
// About to rewrite the buffer: the pages no send still holds become writable now, without a fault
// each. Returns how many pages stay protected (a write to those takes a private copy).
Result<u64> zero_copy_release(u8 const* buffer, usize length);
// What the socket's zero-copy send path did; first waits (up to timeout_ms) until the first
// `released_offset` bytes sent are released, when that is not 0.
Result<abi::ZeroCopyReport> zero_copy_report(i64 descriptor, u64 released_offset = 0, u64 timeout_ms = 0);

} // namespace skiff::user

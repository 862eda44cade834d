#pragma once

#include <lib/Types.h>

namespace skiff {

// One error vocabulary for the kernel and the network stack. Names follow POSIX where a POSIX
// errno exists, so a socket error reads the way a networking engineer expects. The values are also
// the system-call ABI's error codes (lib/Abi.h): append only.
enum class Error : u16 {
    None = 0,
    NoMemory,            // ENOMEM: a pool or the heap is exhausted
    InvalidArgument,     // EINVAL
    OutOfRange,          // ERANGE / EOVERFLOW: a value does not fit
    NotFound,            // ENOENT
    AlreadyExists,       // EEXIST
    Busy,                // EBUSY
    WouldBlock,          // EAGAIN: non-blocking call with nothing to do
    TimedOut,            // ETIMEDOUT
    Interrupted,         // EINTR
    NotSupported,        // EOPNOTSUPP
    Malformed,           // bad input (a header that does not parse)
    AddressInUse,        // EADDRINUSE
    AddressNotAvailable, // EADDRNOTAVAIL
    NetworkUnreachable,  // ENETUNREACH
    HostUnreachable,     // EHOSTUNREACH (ARP gave up)
    ConnectionRefused,   // ECONNREFUSED
    ConnectionReset,     // ECONNRESET
    ConnectionAborted,   // ECONNABORTED
    NotConnected,        // ENOTCONN
    AlreadyConnected,    // EISCONN
    InProgress,          // EINPROGRESS
    Shutdown,            // EPIPE / ESHUTDOWN: write after shutdown
    MessageTooLong,      // EMSGSIZE
    BadState,            // the object is in a state where the call makes no sense
    Fault,               // EFAULT: a bad address
    BadDescriptor,       // EBADF: no such descriptor open in this task
    LimitReached,        // EMFILE / EAGAIN: a per-task or system-wide limit (tasks, threads, memory)
    NoBufferSpace,       // ENOBUFS: a shared pool (the stack's transmit buffers) is down to its reserve
};

char const* error_name(Error error);

} // namespace skiff

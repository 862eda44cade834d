#pragma once

// The system-call ABI between Skiff and its user programs: the call numbers, how arguments and
// results travel, and the structures passed by pointer. The kernel (kernel/syscall/) and the user
// runtime (user/runtime/) both build from this one header, so they cannot disagree.
//
// One call is one trap instruction, with everything in registers:
//
//              number   arguments 0..5                 result   trap      clobbered
//   x86-64     rax      rdi, rsi, rdx, r10, r8, r9     rax      syscall   rcx, r11
//   AArch64    x8       x0, x1, x2, x3, x4, x5         x0       svc #0    (nothing)
//
// (x86-64 passes argument 3 in r10, not rcx, because `syscall` overwrites rcx with the return
// address; every other register comes back as it went in.) The result is one 64-bit value: a
// value >= 0 on success, or -code for an error, where code is a skiff::Error (lib/Error.h, values
// fixed below). Pointers are user addresses; lengths are bytes. Every pointer and length is
// checked by the kernel: a bad one is Error::Fault (EFAULT), never a kernel fault.
//
// Append only: numbers and structure layouts never change meaning once published.

#include <lib/Error.h>
#include <lib/Types.h>

namespace skiff::abi {

enum class Call : u64 {
    // --- Tasks and threads ---------------------------------------------------------------------
    Exit = 0,         // (code): ends the task, every thread of it; does not return
    ThreadExit = 1,   // (code): ends the calling thread; the task ends with its last thread
    Write = 2,        // (descriptor, buffer, length) -> bytes: 1 and 2 are the console; a socket sends
    Clock = 3,        // () -> nanoseconds since boot (monotonic)
    Sleep = 4,        // (nanoseconds): at least that long, rounded up to the 1 ms tick
    ThreadCreate = 5, // (entry, argument0, argument1) -> thread id: entry(argument0, argument1) on a
                      // new stack of its own
    ThreadJoin = 6,   // (thread id) -> its exit code (32 bits, zero-extended); each thread is joined
                      // once, and not by itself
    MapMemory = 7,    // (length, flags) -> address of length bytes of zeroed, writable memory
                      // (page-rounded), faulted in on first touch, or now with kMapPopulate
    UnmapMemory = 8,  // (address, length): what MapMemory gave, whole
    TaskId = 9,       // () -> the task's id (as `ps` shows it)
    Null = 10,        // () -> 0, and nothing else: the cost of a call itself
    Yield = 11,       // (): lets another thread of the same priority run

    // --- Sockets (kernel/net's blocking glue behind descriptors) ------------------------------
    Socket = 16,      // (SocketType) -> descriptor
    Bind = 17,        // (descriptor, SocketAddress const*)
    Listen = 18,      // (descriptor, backlog)
    Accept = 19,      // (descriptor, SocketAddress* peer or 0) -> new descriptor
    Connect = 20,     // (descriptor, SocketAddress const*)
    Send = 21,        // (descriptor, buffer, length, flags) -> bytes queued (TCP: at least 1)
    Receive = 22,     // (descriptor, buffer, length, flags, u32* placed_at or 0) -> bytes (0: end)
    SendTo = 23,      // (descriptor, buffer, length, flags, SocketAddress const*) -> bytes
    ReceiveFrom = 24, // (descriptor, buffer, length, flags, SocketAddress* from or 0) -> datagram length
    Shutdown = 25,    // (descriptor): no more sends (TCP: FIN after the queued data)
    Close = 26,       // (descriptor): closed even when it fails (TimedOut: a lingering TCP socket's
                      // data was not acknowledged in time, and it was reset)
    Poll = 27,        // (PollEntry*, count, timeout ms or -1) -> entries with events
    SetOption = 28,   // (descriptor, SocketOption, value)
    GetOption = 29,   // (descriptor, SocketOption) -> value

    // --- Copy elimination across the boundary -------------------------------------------------
    ZeroCopyAllocate = 32,    // (length) -> address of a zero-copy buffer (whole pages, registered)
    ZeroCopyFree = 33,        // (address, length)
    ZeroCopyRelease = 34,     // (address, length) -> pages still held by sends (see mm/Memory.h)
    ZeroCopyCompletions = 35, // (descriptor, ZeroCopyReport*, offset, timeout ms): waits until the
                              // first `offset` bytes sent are released (0: no wait), then reports

    // --- Mapped packet rings (Liu et al.'s packet pool, in the spirit of packet mmap) ---------
    RingMap = 40,        // (RingSetup*) -> descriptor; fills in the addresses (below)
    RingRelease = 41,    // (descriptor, count): hands back the next `count` full receive slots
    RingTransmit = 42,   // (descriptor, count) -> frames sent: the next `count` full transmit slots
    RingWait = 43,       // (descriptor, timeout ms or -1) -> full receive slots; waits for one
    RingStatistics = 44, // (descriptor, RingStats*)

    // --- Files: the boot archive, read only (docs/httpd.md) -----------------------------------
    FileOpen = 48,    // (path, path length, FileInfo* or 0) -> descriptor of a file (NotFound: no
                      // such file or no archive; InvalidArgument: a directory). Paths are as the
                      // archive lists them, '/'-separated, a leading '/' optional; ".." that climbs
                      // above the root is NotFound
    FileStat = 49,    // (path, path length, FileInfo*): a file or a directory ("" is the root)
    FileRead = 50,    // (file descriptor, buffer, length, offset) -> bytes copied (0: at the end)
    SendFile = 51,    // (socket, file, offset, length, head, head length) -> bytes queued, head
                      // first: `head` (copied, at most kMaxSendFileHead bytes) goes before file
                      // bytes [offset, offset + length), which go by reference to the file's
                      // pages, never copied. Blocks until something is queued unless the socket
                      // is non-blocking: then WouldBlock (its send buffer is full: poll for
                      // kPollOut) or NoBufferSpace (the stack's transmit pool is down to what it
                      // keeps for everyone else: nothing signals the end of that, try again in a
                      // few milliseconds). offset + length past the end of the file: OutOfRange
    FilesStatus = 52, // (FilesStatus*): the archive, and what SendFile has sent, every task's

    // --- What a task shows the console -------------------------------------------------------
    Publish = 56, // (buffer, length <= kMaxPublishedBytes): replaces the task's published status,
                  // which console commands read (a service's counters: `httpd`); 0 withdraws it
};

constexpr u32 kCallArgumentCount = 6;

// Results: >= 0 a value; -1 .. -kMaxErrorCode an error.
constexpr u64 kMaxErrorCode = 4095;
constexpr i64 error_result(Error error)
{
    return -static_cast<i64>(error);
}
constexpr bool is_error_result(i64 result)
{
    return result < 0 && result >= -static_cast<i64>(kMaxErrorCode);
}
constexpr Error result_error(i64 result)
{
    return static_cast<Error>(-result);
}

// The error codes are part of the ABI (lib/Error.h appends only).
static_assert(static_cast<u16>(Error::NoMemory) == 1);
static_assert(static_cast<u16>(Error::InvalidArgument) == 2);
static_assert(static_cast<u16>(Error::NotFound) == 4);
static_assert(static_cast<u16>(Error::WouldBlock) == 7);
static_assert(static_cast<u16>(Error::TimedOut) == 8);
static_assert(static_cast<u16>(Error::Interrupted) == 9);
static_assert(static_cast<u16>(Error::NotSupported) == 10);
static_assert(static_cast<u16>(Error::ConnectionRefused) == 16);
static_assert(static_cast<u16>(Error::Fault) == 25);
static_assert(static_cast<u16>(Error::OutOfRange) == 3);
static_assert(static_cast<u16>(Error::NoBufferSpace) == 28);

// MapMemory flags.
constexpr u64 kMapPopulate = 1; // fault every page in now (a server's buffers, a benchmark's)

// Descriptors 0..2 are the console (reading it is not supported); sockets and rings get 3 and up.
constexpr i64 kConsoleOutput = 1;
constexpr i64 kConsoleError = 2;
constexpr u32 kFirstDescriptor = 3;
// Open at once per task, sockets, rings and files together (a web server's worth: 64 connections,
// a file open for each, a listener, and room to spare): more is LimitReached.
constexpr u32 kMaxDescriptors = 160;

// How a program starts: its ELF entry point is entered as if called, from address 0, as
// entry(argument count, argument vector), the strings and the vector on its stack (x86-64: rsp + 8
// 16-byte aligned, a zero return address at rsp; AArch64: sp 16-byte aligned, lr 0). A thread made
// by ThreadCreate starts the same way at entry(argument0, argument1). The runtime's entry points
// never return (they call Exit or ThreadExit); one that did would jump to 0 and fault.
constexpr u32 kMaxArguments = 16;
constexpr u32 kMaxArgumentBytes = 1024; // all strings together, terminators included

// --- Sockets ------------------------------------------------------------------------------------
enum class SocketType : u64 {
    Stream = 1,   // TCP
    Datagram = 2, // UDP
    Ping = 3,     // ICMP echo: SendTo sends an echo request (identifier from the kernel, `length`
                  // bytes of data the kernel fills in, the buffer unused, the sequence number in
                  // flags' bits 16-31); ReceiveFrom waits for the reply with the sequence in flags'
                  // bits 16-31 (older ones are skipped) and writes a PingReply into the buffer
};

// What a Ping socket's ReceiveFrom returns.
struct PingReply {
    u32 source; // host byte order
    u16 identifier;
    u16 sequence;
    u16 length; // ICMP data bytes
    u8 ttl;
    u8 data_ok; // the data came back as sent
    u32 reserved;
    u64 received_ns; // the kernel's clock when it arrived
};
static_assert(sizeof(PingReply) == 24);

// An IPv4 endpoint. The address is in host byte order (10.0.2.15 is 0x0a00020f).
struct SocketAddress {
    u32 address;
    u16 port;
    u16 reserved;
};
static_assert(sizeof(SocketAddress) == 8);

// Receive flags.
constexpr u64 kReceivePlaced = 1;   // TCP: the kernel may start the bytes anywhere in the buffer's
                                    // first page (at the page offset the payload has, so copy
                                    // elimination can remap); *placed_at says where; the
                                    // buffer's pages are the call's whole (docs/zero-copy.md)
constexpr u64 kReceiveDontWait = 2; // fail with WouldBlock rather than wait

// Send flags.
constexpr u64 kSendDontWait = 2;

enum class SocketOption : u64 {
    NoDelay = 1,           // TCP_NODELAY: 0/1
    ZeroCopy = 2,          // copy elimination for this socket: 0 off, 1 on (TCP)
    ReceiveBuffer = 3,     // bytes (TCP: before connect/listen)
    SendBuffer = 4,        // bytes
    NonBlocking = 5,       // 0/1: calls fail with WouldBlock instead of waiting
    ReceiveTimeout = 6,    // ms; 0 = wait forever (the default)
    KeepAlive = 7,         // 0/1
    ZeroCopyThreshold = 8, // TCP: smallest piece recv remaps (bytes)
    PingIdentifier = 9,    // Ping: the echo identifier the kernel chose (read only)
    Linger = 10,           // TCP, ms: Close waits this long for the queued data to be acknowledged
                           // (then FIN), else resets; 0 (the default): Close returns at once and
                           // the data and FIN go out behind it
    SendQueued = 11,       // TCP: bytes sent and not yet acknowledged (read only)
    State = 12,            // TCP: the connection's state, numbered as below (read only)
    TransmitShare = 13,    // TCP: the stack's transmit buffers (a segment each) that all file
                           // senders share, less what it keeps for everyone else (read only)
};

// Linger's one special value: Close resets the connection at once, whatever is queued (an abortive
// close, BSD's SO_LINGER with a zero timeout): what a server does to a client that stopped reading.
constexpr u64 kLingerAbort = ~0ull;

// State's values: CLOSED 0, LISTEN 1, SYN-SENT 2, SYN-RECEIVED 3, ESTABLISHED 4, FIN-WAIT-1 5,
// FIN-WAIT-2 6, CLOSE-WAIT 7, CLOSING 8, LAST-ACK 9, TIME-WAIT 10 (RFC 9293's states).

// Poll events, with POSIX values.
constexpr u32 kPollIn = 0x001;
constexpr u32 kPollOut = 0x004;
constexpr u32 kPollError = 0x008;
constexpr u32 kPollHangUp = 0x010;
constexpr u32 kPollInvalid = 0x020; // the descriptor is not open

struct PollEntry {
    i32 descriptor;
    u32 events;
    u32 returned_events;
    u32 reserved;
};
static_assert(sizeof(PollEntry) == 16);
constexpr u32 kMaxPollEntries = kMaxDescriptors; // a task's whole table

// What ZeroCopyCompletions reports for one TCP socket, in the spirit of Linux's MSG_ZEROCOPY
// completions. The bytes of the connection's stream are numbered from 0 in the order Send took
// them; `released_bytes` is how many of them, from the first, the kernel has let go of:
// acknowledged and held by no device, every page pinned for them unpinned. A task that rewrites a
// buffer only once its last byte is released never takes a copy-on-write fault.
struct ZeroCopyReport {
    u64 accepted_bytes; // Send took, in stream order
    u64 released_bytes; // of those, from the first: let go of (rewrite freely)
    u64 copied_bytes;   // of the accepted, copied into the kernel's buffers instead of pinned
    u64 pinned_pieces;  // pieces (at most a page each) sent from pinned pages
    u64 received_bytes;
    u64 remapped_bytes;   // received by remapping a page instead of copying
    u64 pinned_pages_now; // pages pinned by sends now, every task's and the kernel's
    u64 reserved;
};
static_assert(sizeof(ZeroCopyReport) == 64);

// --- Mapped packet rings (Liu et al.'s mapped packet pool, in the spirit of packet mmap) -------
// RingMap maps two rings into the task, each `slots` pages of frames and a page of descriptors:
//
//   receive: the frames of `ether_type` (0: capture every frame) as they arrive. The task may read
//            its slot pages and descriptors but not write them. A claimed EtherType's frames never
//            reach the kernel's protocols and arrive without a copy: the page the NIC wrote is
//            remapped into the slot, the slot's old page goes back to the kernel's receive pool.
//            Capture sees every frame the protocols also get, so it copies. The kernel fills the
//            slots in order (0, 1, ... wrapping), each only while its descriptor is kSlotEmpty, and
//            makes it kSlotFull; RingRelease(n) hands the next n full ones back, in order.
//   transmit: the task writes a frame (Ethernet header first) into a slot page at the offset and
//            length its descriptor says and makes it kSlotFull; RingTransmit(n) sends the next n
//            full slots in order, without a copy (the NIC reads the slot page), marking each
//            kSlotSending until the device lets go of it, then kSlotEmpty again.
struct RingSetup {
    u32 slots;      // in: per ring, 1..kMaxRingSlots
    u16 ether_type; // in: host order; 0 = capture every frame (copied)
    u16 reserved;
    u64 receive_descriptors;  // out: RingDescriptor[slots], read only
    u64 receive_frames;       // out: slot i's page at receive_frames + i * 4096, read only
    u64 transmit_descriptors; // out: RingDescriptor[slots], writable
    u64 transmit_frames;      // out: slot i's page at transmit_frames + i * 4096, writable
    u8 mac[6];                // out: the interface's MAC address
    u16 reserved2;
};
static_assert(sizeof(RingSetup) == 48);

struct RingDescriptor {
    u32 state;  // kSlotEmpty, kSlotFull, kSlotSending
    u32 length; // frame bytes
    u32 offset; // where in its slot page the frame starts
    u32 reserved;
    u64 sequence;     // receive: the frame's number since the ring was mapped
    u64 timestamp_ns; // receive: the kernel's clock when it arrived
};
static_assert(sizeof(RingDescriptor) == 32);
constexpr u32 kSlotEmpty = 0;
constexpr u32 kSlotFull = 1;
constexpr u32 kSlotSending = 2;
constexpr u32 kMaxRingSlots = 64;
constexpr u32 kMinFrameLength = 60;   // without the CRC; shorter frames are refused
constexpr u32 kMaxFrameLength = 1514; // Ethernet II with a 1500-byte payload

// What RingStatistics reports.
struct RingStats {
    u64 delivered;   // frames put into the receive ring
    u64 remapped;    // of those, without a copy
    u64 copied;      // of those, copied (capture)
    u64 dropped;     // frames for the ring that found no empty slot
    u64 transmitted; // frames RingTransmit handed to the NIC
    u64 transmit_errors;
    u64 reserved[2];
};
static_assert(sizeof(RingStats) == 64);

// --- Files --------------------------------------------------------------------------------------
struct FileInfo {
    u64 size;  // bytes (0 for a directory)
    u64 mtime; // seconds since 1970-01-01 UTC, from the archive
    u32 kind;  // kFileRegular or kFileDirectory
    u32 mode;  // permission bits from the archive
};
static_assert(sizeof(FileInfo) == 24);
constexpr u32 kFileRegular = 1;
constexpr u32 kFileDirectory = 2;
constexpr u64 kMaxPathBytes = 4096;
constexpr u64 kMaxSendFileHead = 4096;

struct FilesStatus {
    u32 mounted; // 1 when an archive is mounted
    u32 files;   // regular files in it
    u64 file_bytes;
    char name[64]; // the boot loader's name for the archive, NUL-terminated
    // SendFile since boot, every task's:
    u64 sendfile_calls;
    u64 sendfile_bytes;        // file bytes queued
    u64 sendfile_by_reference; // of those, queued as references to the file's pages
    u64 sendfile_copied_bytes; // bytes the stack copied during SendFile's file bytes (measured): 0
    u64 sendfile_pool_waits;   // calls that found the transmit pool down to its reserve
};
static_assert(sizeof(FilesStatus) == 120);

constexpr u64 kMaxPublishedBytes = 4096;

} // namespace skiff::abi

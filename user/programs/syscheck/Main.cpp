// syscheck: calls every system call with what a buggy or hostile program would pass — null,
// unmapped, kernel and non-canonical pointers, lengths that run off the end of memory or wrap
// around, read-only buffers to write into, descriptors never opened or already closed, numbers no
// call has — and checks that each gets the error lib/Abi.h promises, and that the kernel goes on.
// Then the limits: threads and memory beyond what a task may have are refused, and given back.
// One line per failed check, a summary line, exit status 0 when every check held.
//
//   syscheck         everything
//   syscheck quick   everything but the limit checks

#include <user/runtime/File.h>
#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

using abi::Call;

constexpr u64 kNull = 0;
constexpr u64 kUnmapped = 0x0000600000000000ull;
constexpr u64 kKernel = 0xffffffff80100000ull;
constexpr u64 kNonCanonical = 0x0000800000000000ull;
constexpr u64 kLastUserBytes = 0x00007ffffffffff0ull; // 16 bytes below the end of the lower half

u32 s_checks = 0;
u32 s_failures = 0;
u8 s_buffer[256];

// Expect `raw` to be the error `expected` (Error::None: success).
void expect(char const* what, i64 raw, Error expected)
{
    ++s_checks;
    bool failed = abi::is_error_result(raw);
    if (expected == Error::None ? !failed : (failed && abi::result_error(raw) == expected))
        return;
    ++s_failures;
    if (failed)
        println("syscheck: FAIL {}: got error '{}', expected {}", what, abi::result_error(raw),
            expected == Error::None ? "success" : error_name(expected));
    else
        println("syscheck: FAIL {}: got {}, expected error '{}'", what, raw, expected);
}

void expect_true(char const* what, bool condition)
{
    ++s_checks;
    if (!condition) {
        ++s_failures;
        println("syscheck: FAIL {}", what);
    }
}

u64 text_address()
{
    return reinterpret_cast<u64>(&expect);
}

void check_write()
{
    u64 buffer = word(s_buffer);
    expect("write: null buffer", raw_call(Call::Write, 1, kNull, 10), Error::Fault);
    expect("write: unmapped buffer", raw_call(Call::Write, 1, kUnmapped, 10), Error::Fault);
    expect("write: kernel buffer", raw_call(Call::Write, 1, kKernel, 10), Error::Fault);
    expect("write: non-canonical buffer", raw_call(Call::Write, 1, kNonCanonical, 10), Error::Fault);
    expect("write: length ~0", raw_call(Call::Write, 1, buffer, ~0ull), Error::Fault);
    expect("write: length 1 TiB", raw_call(Call::Write, 1, buffer, 1ull << 40), Error::Fault);
    expect("write: buffer running off the lower half", raw_call(Call::Write, 1, kLastUserBytes, 64), Error::Fault);
    expect("write: buffer running into unmapped memory", raw_call(Call::Write, 1, buffer, 1 << 20), Error::Fault);
    expect("write: descriptor 99 (never opened)", raw_call(Call::Write, 99, buffer, 1), Error::BadDescriptor);
    expect("write: descriptor -1", raw_call(Call::Write, ~0ull, buffer, 1), Error::BadDescriptor);
    expect("write: descriptor 0 (console input)", raw_call(Call::Write, 0, buffer, 1), Error::BadDescriptor);
    expect("write: zero bytes", raw_call(Call::Write, 1, kNull, 0), Error::None);
    // Reading from read-only memory is fine: the kernel only reads a write's buffer.
    s_buffer[0] = 0;
    expect("write: from the program's read-only text", raw_call(Call::Write, 1, text_address(), 0), Error::None);
}

void check_calls()
{
    expect("unknown call 9999", raw_call(static_cast<Call>(9999)), Error::NotSupported);
    expect("unknown call 15", raw_call(static_cast<Call>(15)), Error::NotSupported);
    expect("null call", raw_call(Call::Null), Error::None);
    u64 first = clock_ns();
    sleep_ms(2);
    expect_true("clock advances across a 2 ms sleep", clock_ns() - first >= 2000000);
    expect("sleep 0", raw_call(Call::Sleep, 0), Error::None);
}

int idle_thread(void*)
{
    sleep_ms(50);
    return 7;
}

void check_threads(bool limits)
{
    expect("thread_create: null entry", raw_call(Call::ThreadCreate, kNull, 0, 0), Error::InvalidArgument);
    expect("thread_create: kernel entry", raw_call(Call::ThreadCreate, kKernel, 0, 0), Error::InvalidArgument);
    expect("thread_create: non-canonical entry", raw_call(Call::ThreadCreate, kNonCanonical, 0, 0),
        Error::InvalidArgument);
    expect("thread_join: no such thread", raw_call(Call::ThreadJoin, 12345), Error::NotFound);
    if (!limits)
        return;
    // As many threads as the task may have, then one more.
    u32 made[64];
    u32 count = 0;
    while (count < 64) {
        auto next = thread_create(idle_thread, nullptr);
        if (next.is_error()) {
            expect("thread_create beyond the limit", abi::error_result(next.error()), Error::LimitReached);
            break;
        }
        made[count++] = next.value();
    }
    expect_true("a task may have more than one thread", count >= 1);
    expect_true("the thread limit stops a runaway task", count < 64);
    for (u32 i = 0; i < count; ++i) {
        auto code = thread_join(made[i]);
        expect_true("thread_join returns the thread's code", !code.is_error() && code.value() == 7);
    }
    expect("thread_join of a thread joined already", raw_call(Call::ThreadJoin, made[0]), Error::NotFound);
    // And they can be made again: joining gave the slots back.
    auto again = thread_create(idle_thread, nullptr);
    expect_true("a thread after joining the others", !again.is_error());
    if (!again.is_error())
        (void)thread_join(again.value());
}

void check_memory(bool limits)
{
    expect("map_memory: 0 bytes", raw_call(Call::MapMemory, 0), Error::InvalidArgument);
    expect("map_memory: unknown flags", raw_call(Call::MapMemory, 4096, 0x80), Error::InvalidArgument);
    expect("map_memory: ~0 bytes", raw_call(Call::MapMemory, ~0ull), Error::LimitReached);
    expect("map_memory: 1 TiB", raw_call(Call::MapMemory, 1ull << 40), Error::LimitReached);
    expect("unmap_memory: unmapped", raw_call(Call::UnmapMemory, kUnmapped, 4096), Error::InvalidArgument);
    expect("unmap_memory: kernel", raw_call(Call::UnmapMemory, kKernel, 4096), Error::InvalidArgument);
    expect("unmap_memory: the program's text", raw_call(Call::UnmapMemory, text_address() & ~0xfffull, 4096),
        Error::InvalidArgument);
    auto memory = map_memory(3 * 4096);
    expect_true("map_memory: 12 KiB", !memory.is_error());
    if (memory.is_error())
        return;
    u8* bytes = memory.value();
    expect_true("map_memory: zeroed", bytes[0] == 0 && bytes[3 * 4096 - 1] == 0);
    bytes[5000] = 42;
    expect_true("map_memory: writable", bytes[5000] == 42);
    expect("write: from mapped memory", raw_call(Call::Write, 1, word(bytes), 0), Error::None);
    expect("unmap_memory: unaligned", raw_call(Call::UnmapMemory, word(bytes) + 1, 3 * 4096), Error::InvalidArgument);
    expect("unmap_memory: part of a mapping", raw_call(Call::UnmapMemory, word(bytes), 4096), Error::InvalidArgument);
    expect("unmap_memory", raw_call(Call::UnmapMemory, word(bytes), 3 * 4096), Error::None);
    expect("unmap_memory: twice", raw_call(Call::UnmapMemory, word(bytes), 3 * 4096), Error::InvalidArgument);
    expect("write: from memory just unmapped", raw_call(Call::Write, 1, word(bytes), 1), Error::Fault);
    if (!limits)
        return;
    // 1 MiB at a time until the task's memory limit says no; every page touched.
    u8* blocks[64];
    u32 count = 0;
    while (count < 64) {
        auto block = map_memory(1 << 20);
        if (block.is_error()) {
            expect("map_memory beyond the task's limit", abi::error_result(block.error()), Error::LimitReached);
            break;
        }
        for (u32 page = 0; page < 256; ++page)
            block.value()[page * 4096] = 1;
        blocks[count++] = block.value();
    }
    expect_true("the memory limit stops a task before 64 MiB", count < 64);
    for (u32 i = 0; i < count; ++i)
        expect("unmap_memory of a touched MiB", raw_call(Call::UnmapMemory, word(blocks[i]), 1 << 20), Error::None);
    auto after = map_memory(1 << 20);
    expect_true("memory is given back by unmap_memory", !after.is_error());
    if (!after.is_error())
        (void)unmap_memory(after.value(), 1 << 20);
}

void check_sockets(bool limits)
{
    u64 buffer = word(s_buffer);
    abi::SocketAddress any { 0, 0, 0 };
    expect("socket: type 99", raw_call(Call::Socket, 99), Error::InvalidArgument);
    expect("bind: descriptor 99", raw_call(Call::Bind, 99, word(&any)), Error::BadDescriptor);
    expect("close: descriptor 99", raw_call(Call::Close, 99), Error::BadDescriptor);
    expect("close: descriptor -5", raw_call(Call::Close, static_cast<u64>(-5)), Error::BadDescriptor);
    expect("close: the console", raw_call(Call::Close, 1), Error::BadDescriptor);
    expect("send: descriptor 40", raw_call(Call::Send, 40, buffer, 1, 0), Error::BadDescriptor);
    expect("poll: null entries", raw_call(Call::Poll, kNull, 1, 0), Error::Fault);
    expect("poll: 1000 entries", raw_call(Call::Poll, buffer, 1000, 0), Error::InvalidArgument);
    expect("poll: kernel entries", raw_call(Call::Poll, kKernel, 1, 0), Error::Fault);

    auto udp = socket(abi::SocketType::Datagram);
    expect_true("socket: UDP", !udp.is_error());
    if (udp.is_error())
        return;
    u64 u = static_cast<u64>(udp.value());
    expect("bind: null address", raw_call(Call::Bind, u, kNull), Error::Fault);
    expect("bind: kernel address", raw_call(Call::Bind, u, kKernel), Error::Fault);
    expect("connect: unmapped address", raw_call(Call::Connect, u, kUnmapped), Error::Fault);
    expect("listen: UDP", raw_call(Call::Listen, u, 1), Error::NotSupported);
    expect("accept: UDP", raw_call(Call::Accept, u, 0), Error::NotSupported);
    expect("bind: any port", raw_call(Call::Bind, u, word(&any)), Error::None);
    expect(
        "receive_from: null buffer", raw_call(Call::ReceiveFrom, u, kNull, 64, abi::kReceiveDontWait, 0), Error::Fault);
    expect("receive_from: into read-only text",
        raw_call(Call::ReceiveFrom, u, text_address(), 64, abi::kReceiveDontWait, 0), Error::Fault);
    expect("receive_from: sender address into the kernel",
        raw_call(Call::ReceiveFrom, u, buffer, 64, abi::kReceiveDontWait, kKernel), Error::Fault);
    expect("receive_from: nothing there, do not wait",
        raw_call(Call::ReceiveFrom, u, buffer, 64, abi::kReceiveDontWait, 0), Error::WouldBlock);
    abi::SocketAddress nowhere { 0x0a00020f, 9, 0 };
    expect("send_to: length ~0", raw_call(Call::SendTo, u, buffer, ~0ull, 0, word(&nowhere)), Error::Fault);
    expect("send_to: buffer in the kernel", raw_call(Call::SendTo, u, kKernel, 8, 0, word(&nowhere)), Error::Fault);
    expect("send_to: destination in the kernel", raw_call(Call::SendTo, u, buffer, 8, 0, kKernel), Error::Fault);
    expect("set_option: option 999", raw_call(Call::SetOption, u, 999, 1), Error::InvalidArgument);

    auto tcp = socket(abi::SocketType::Stream);
    expect_true("socket: TCP", !tcp.is_error());
    if (!tcp.is_error()) {
        u64 t = static_cast<u64>(tcp.value());
        expect("send: not connected", raw_call(Call::Send, t, buffer, 8, 0), Error::NotConnected);
        expect("send: length ~0", raw_call(Call::Send, t, buffer, ~0ull, 0), Error::Fault);
        expect("receive: null buffer", raw_call(Call::Receive, t, kNull, 64, abi::kReceiveDontWait, 0), Error::Fault);
        expect("receive: into read-only text", raw_call(Call::Receive, t, text_address(), 64, abi::kReceiveDontWait, 0),
            Error::Fault);
        expect("receive: placed offset into the kernel",
            raw_call(Call::Receive, t, buffer, 8192, abi::kReceivePlaced | abi::kReceiveDontWait, kKernel),
            Error::Fault);
        expect("set_option: zero copy 5",
            raw_call(Call::SetOption, t, static_cast<u64>(abi::SocketOption::ZeroCopy), 5), Error::InvalidArgument);
        expect("set_option: no delay", raw_call(Call::SetOption, t, static_cast<u64>(abi::SocketOption::NoDelay), 1),
            Error::None);
        expect("get_option: state CLOSED", raw_call(Call::GetOption, t, static_cast<u64>(abi::SocketOption::State)),
            Error::None);
        abi::PollEntry entries[2] = { { static_cast<i32>(t), abi::kPollIn, 0, 0 }, { 77, abi::kPollIn, 0, 0 } };
        i64 ready = raw_call(Call::Poll, word(entries), 2, 0);
        expect_true("poll: a descriptor never opened is reported invalid",
            ready >= 1 && (entries[1].returned_events & abi::kPollInvalid));
        expect("close: TCP", raw_call(Call::Close, t), Error::None);
        expect("close: TCP again", raw_call(Call::Close, t), Error::BadDescriptor);
        expect("write: closed socket", raw_call(Call::Write, t, buffer, 1), Error::BadDescriptor);
    }
    auto ping = socket(abi::SocketType::Ping);
    expect_true("socket: ping", !ping.is_error());
    if (!ping.is_error()) {
        expect("send_to: ping without a destination",
            raw_call(Call::SendTo, static_cast<u64>(ping.value()), 0, 8, 1 << 16, kNull), Error::Fault);
        expect("receive_from: ping into a small buffer",
            raw_call(Call::ReceiveFrom, static_cast<u64>(ping.value()), buffer, 4, 1 << 16, 0), Error::InvalidArgument);
        (void)close(ping.value());
    }
    // Packet rings.
    expect("ring_map: null setup", raw_call(Call::RingMap, kNull), Error::Fault);
    expect("ring_map: setup in the kernel", raw_call(Call::RingMap, kKernel), Error::Fault);
    abi::RingSetup setup {};
    setup.slots = 0;
    expect("ring_map: 0 slots", raw_call(Call::RingMap, word(&setup)), Error::InvalidArgument);
    setup.slots = 1000;
    expect("ring_map: 1000 slots", raw_call(Call::RingMap, word(&setup)), Error::InvalidArgument);
    expect("ring_release: a UDP socket", raw_call(Call::RingRelease, u, 1), Error::InvalidArgument);
    expect("ring_wait: descriptor 60", raw_call(Call::RingWait, 60, 0), Error::BadDescriptor);
    setup.slots = 2;
    setup.ether_type = 0x88b6;
    i64 ring = raw_call(Call::RingMap, word(&setup));
    expect("ring_map: 2 slots of 0x88b6", ring, Error::None);
    if (!abi::is_error_result(ring)) {
        auto* receive = reinterpret_cast<u8 volatile*>(setup.receive_frames);
        expect_true("ring_map: the receive ring is readable", receive[0] == 0);
        expect("ring: the receive ring is not the kernel's to write for the task",
            raw_call(Call::Receive, u, setup.receive_frames, 64, abi::kReceiveDontWait, 0), Error::Fault);
        auto* descriptor = reinterpret_cast<abi::RingDescriptor volatile*>(setup.transmit_descriptors);
        descriptor->length = 10; // shorter than a frame may be
        descriptor->state = abi::kSlotFull;
        expect("ring_transmit: a 10-byte frame", raw_call(Call::RingTransmit, static_cast<u64>(ring), 1),
            Error::InvalidArgument);
        // The kernel consumed slot 0 (marked empty, counted as an error); the next is slot 1.
        expect_true("ring_transmit: the refused slot is handed back", descriptor[0].state == abi::kSlotEmpty);
        descriptor[1].offset = 4000;
        descriptor[1].length = 200; // past the end of its page
        descriptor[1].state = abi::kSlotFull;
        expect("ring_transmit: a frame past its page", raw_call(Call::RingTransmit, static_cast<u64>(ring), 1),
            Error::InvalidArgument);
        expect("ring_wait: nothing, do not wait", raw_call(Call::RingWait, static_cast<u64>(ring), 0), Error::None);
        expect("ring_statistics: into the kernel", raw_call(Call::RingStatistics, static_cast<u64>(ring), kKernel),
            Error::Fault);
        expect("close: the ring", raw_call(Call::Close, static_cast<u64>(ring)), Error::None);
    }
    expect("close: UDP", raw_call(Call::Close, u), Error::None);
    if (!limits)
        return;
    // As many sockets as a task may have, then one more; all closed again.
    i64 open[abi::kMaxDescriptors + 1];
    u32 count = 0;
    while (count <= abi::kMaxDescriptors) {
        auto next = socket(abi::SocketType::Stream);
        if (next.is_error()) {
            expect("socket beyond the descriptor limit", abi::error_result(next.error()), Error::LimitReached);
            break;
        }
        open[count++] = next.value();
    }
    expect_true("the descriptor limit stops a task at exactly kMaxDescriptors", count == abi::kMaxDescriptors);
    // Poll takes a whole table, and no more.
    static abi::PollEntry entries[abi::kMaxPollEntries + 1];
    for (u32 i = 0; i < count; ++i)
        entries[i] = { static_cast<i32>(open[i]), abi::kPollIn, 0, 0 };
    expect("poll: every descriptor of a full table", raw_call(Call::Poll, word(entries), count, 0), Error::None);
    expect("poll: one entry more than kMaxPollEntries",
        raw_call(Call::Poll, word(entries), abi::kMaxPollEntries + 1, 0), Error::InvalidArgument);
    for (u32 i = 0; i < count; ++i)
        expect("close of a socket up to the limit", raw_call(Call::Close, static_cast<u64>(open[i])), Error::None);
}

// The file calls, SendFile, Publish and the options that came with them. With no archive loaded
// every path is NotFound; with one (the boot tests load build/*/www.tar), index.html is in it.
void check_files()
{
    u64 buffer = word(s_buffer);
    StringView index = "index.html";
    u64 name = word(index.chars());
    abi::FileInfo info {};
    expect("file_open: null path", raw_call(Call::FileOpen, kNull, 5, 0), Error::Fault);
    expect("file_open: kernel path", raw_call(Call::FileOpen, kKernel, 5, 0), Error::Fault);
    expect("file_open: unmapped path", raw_call(Call::FileOpen, kUnmapped, 5, 0), Error::Fault);
    expect("file_open: path of 1 MiB", raw_call(Call::FileOpen, buffer, 1 << 20, 0), Error::InvalidArgument);
    expect("file_open: path running off the lower half", raw_call(Call::FileOpen, kLastUserBytes, 64, 0), Error::Fault);
    expect("file_open: no such file", raw_call(Call::FileOpen, word("no/such/file"), 12, 0), Error::NotFound);
    expect("file_open: climbing above the root", raw_call(Call::FileOpen, word("../../etc"), 9, 0), Error::NotFound);
    expect("file_stat: null info", raw_call(Call::FileStat, name, index.length(), kNull), Error::Fault);
    expect("file_stat: kernel info", raw_call(Call::FileStat, name, index.length(), kKernel), Error::Fault);
    expect("files_status: null", raw_call(Call::FilesStatus, kNull), Error::Fault);
    expect("files_status: into the program's text", raw_call(Call::FilesStatus, text_address()), Error::Fault);
    expect("file_read: descriptor 99", raw_call(Call::FileRead, 99, buffer, 1, 0), Error::BadDescriptor);
    expect("send_file: descriptor 99", raw_call(Call::SendFile, 99, 99, 0, 1, 0, 0), Error::BadDescriptor);
    expect("publish: more than kMaxPublishedBytes", raw_call(Call::Publish, buffer, abi::kMaxPublishedBytes + 1),
        Error::InvalidArgument);
    expect("publish: kernel buffer", raw_call(Call::Publish, kKernel, 16), Error::Fault);
    expect("publish: 16 bytes", raw_call(Call::Publish, buffer, 16), Error::None);
    expect("publish: nothing (withdrawn)", raw_call(Call::Publish, kNull, 0), Error::None);

    auto status = files_status();
    expect_true("files_status", !status.is_error());
    bool mounted = !status.is_error() && status.value().mounted;
    if (!mounted) {
        expect("file_open: index.html, no archive", raw_call(Call::FileOpen, name, index.length(), 0), Error::NotFound);
        return;
    }
    expect("file_stat: the root", raw_call(Call::FileStat, kNull, 0, word(&info)), Error::None);
    expect_true("file_stat: the root is a directory", info.kind == abi::kFileDirectory);
    expect("file_open: the root (a directory)", raw_call(Call::FileOpen, word("/"), 1, 0), Error::InvalidArgument);
    expect("file_open: kernel info", raw_call(Call::FileOpen, name, index.length(), kKernel), Error::Fault);
    auto file = file_open("/./index.html", &info);
    expect_true("file_open: /./index.html", !file.is_error());
    if (file.is_error())
        return;
    u64 f = static_cast<u64>(file.value());
    expect_true("file_open: index.html is a regular file with bytes", info.kind == abi::kFileRegular && info.size > 0);
    expect("file_read: null buffer", raw_call(Call::FileRead, f, kNull, 16, 0), Error::Fault);
    expect("file_read: kernel buffer", raw_call(Call::FileRead, f, kKernel, 16, 0), Error::Fault);
    expect("file_read: into the program's text", raw_call(Call::FileRead, f, text_address(), 16, 0), Error::Fault);
    expect("file_read: length ~0", raw_call(Call::FileRead, f, buffer, ~0ull, 0), Error::Fault);
    i64 read = raw_call(Call::FileRead, f, buffer, 16, 0);
    expect("file_read: 16 bytes", read, Error::None);
    expect_true("file_read: 16 bytes of <!DOCTYPE or <html", read == 16 && s_buffer[0] == '<');
    expect_true("file_read: at the end, 0", raw_call(Call::FileRead, f, buffer, 16, info.size) == 0);
    expect_true("file_read: past the end, 0", raw_call(Call::FileRead, f, buffer, 16, ~0ull) == 0);
    expect("write: to a file", raw_call(Call::Write, f, buffer, 1), Error::NotSupported);
    expect("receive: from a file", raw_call(Call::Receive, f, buffer, 1, 0, 0, 0), Error::NotSupported);

    auto udp = socket(abi::SocketType::Datagram);
    auto tcp = socket(abi::SocketType::Stream);
    expect_true("socket: UDP and TCP for send_file", !udp.is_error() && !tcp.is_error());
    if (!udp.is_error() && !tcp.is_error()) {
        u64 u = static_cast<u64>(udp.value());
        u64 t = static_cast<u64>(tcp.value());
        expect("send_file: on UDP", raw_call(Call::SendFile, u, f, 0, 1, 0, 0), Error::NotSupported);
        expect(
            "send_file: from a socket, not a file", raw_call(Call::SendFile, t, u, 0, 1, 0, 0), Error::InvalidArgument);
        expect("send_file: offset past the end", raw_call(Call::SendFile, t, f, info.size + 1, 0, 0, 0),
            Error::OutOfRange);
        expect("send_file: length past the end", raw_call(Call::SendFile, t, f, 1, info.size, 0, 0), Error::OutOfRange);
        expect(
            "send_file: offset + length wrapping", raw_call(Call::SendFile, t, f, 2, ~0ull, 0, 0), Error::OutOfRange);
        expect("send_file: a head over kMaxSendFileHead", raw_call(Call::SendFile, t, f, 0, 1, buffer, 5000),
            Error::InvalidArgument);
        expect("send_file: kernel head", raw_call(Call::SendFile, t, f, 0, 1, kKernel, 16), Error::Fault);
        expect("send_file: not connected", raw_call(Call::SendFile, t, f, 0, 1, 0, 0), Error::NotConnected);
        auto share = get_option(static_cast<i64>(t), abi::SocketOption::TransmitShare);
        expect_true("get_option: TransmitShare, some buffers", !share.is_error() && share.value() > 0);
        expect("set_option: TransmitShare is read only",
            raw_call(Call::SetOption, t, static_cast<u64>(abi::SocketOption::TransmitShare), 1),
            Error::InvalidArgument);
        expect("set_option: linger abort",
            raw_call(Call::SetOption, t, static_cast<u64>(abi::SocketOption::Linger), abi::kLingerAbort), Error::None);
        expect("close: TCP with linger abort", raw_call(Call::Close, t), Error::None);
        expect("close: UDP", raw_call(Call::Close, u), Error::None);
    }
    expect("close: the file", raw_call(Call::Close, f), Error::None);
    expect("file_read: a closed file", raw_call(Call::FileRead, f, buffer, 1, 0), Error::BadDescriptor);
}

} // namespace

int main(Span<StringView const> arguments)
{
    bool limits = !(arguments.size() > 1 && arguments[1] == "quick");
    check_write();
    check_calls();
    check_threads(limits);
    check_memory(limits);
    check_sockets(limits);
    check_files();
    println("syscheck: {} checks, {} failed", s_checks, s_failures);
    return s_failures ? 1 : 0;
}

} // namespace skiff::user

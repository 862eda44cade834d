#pragma once

// ttcp, the classic TCP/UDP throughput test (Mike Muuss and T. C. Slattery, 1984-85), as one core
// shared by the guest console command (apps/ttcp/TtcpCommand.cpp) and the host tool
// (tools/ttcp/). This file and TtcpCore.cpp are freestanding: the same object code runs in the
// kernel image and in a Linux process. Everything that differs between the two worlds — sockets,
// clocks, memory, the terminal — sits behind ttcp::Transport.
//
// The protocol is the classic one, so the tool interoperates with any other ttcp and with iperf 2:
//   TCP: the transmitter connects to port 5001 and writes; the receiver reads until end of stream.
//   UDP: the transmitter sends one 4-byte datagram ("start"), the data, then 4-byte datagrams
//        ("end"); the receiver counts the bytes of datagrams longer than 4 between start and end.
//
// No floating point (the kernel never touches the FPU): rates are computed in 128-bit integers and
// printed in fixed point.

#include <lib/Format.h>
#include <lib/Result.h>
#include <lib/Sha256.h>
#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::ttcp {

enum class Role : u8 { None, Transmit, Receive };

// -z: copy elimination for this run's socket. Default leaves the system-wide setting alone. On
// cooperates with the stack's completion report where the transport has one (a -R transmitter
// rewrites a buffer only once the stack released its previous send); Cow is copy elimination
// without that, leaving the rewrites to copy-on-write (the safety net, and its test).
enum class ZeroCopy : u8 { Default, On, Off, Cow };

struct Options {
    Role role { Role::None };
    bool udp { false };                       // -u
    u32 buffer_length { 8192 };               // -l
    u32 buffer_count { 2048 };                // -n
    u16 port { 5001 };                        // -p
    bool sink_source { false };               // -s: transmit a pattern / discard what arrives
    ZeroCopy zero_copy { ZeroCopy::Default }; // -z on|off|cow
    bool hash { false };                      // -H: print the SHA-256 of the payload
    bool random { false };                    // -R seed: seeded pseudo-random payload (transmit), check it (receive)
    u64 seed { 0 };
    bool nodelay { false }; // -D: TCP_NODELAY
    char rate_unit { 'K' }; // -f k|K|m|M|g|G as in classic ttcp
    u32 udp_gap_us { 0 };   // -w: pause after each UDP datagram sent (pacing)
    StringView host;        // transmit: the receiver's address
};

// What a run measured. `calls` counts every send/recv call the transfer made, as classic ttcp's
// numCalls does (so a TCP receiver's count includes the final read that saw end of stream).
struct Report {
    u64 bytes { 0 };
    u64 calls { 0 };
    u64 elapsed_ns { 0 };
    bool hashed { false };
    Sha256Digest digest;
    enum class Check : u8 { NotChecked, Matched, Mismatched } check { Check::NotChecked };
    u64 first_mismatch { 0 }; // byte offset of the first wrong byte, when Mismatched
};

// An IPv4 endpoint in host byte order, for messages.
struct Peer {
    u32 address { 0 };
    u16 port { 0 };
};

// What connect() and listen() are asked to set up.
struct SocketSettings {
    bool udp { false };
    bool nodelay { false };
    ZeroCopy zero_copy { ZeroCopy::Default };
    u32 buffer_length { 0 }; // the application's I/O size, for transports that size buffers by it
    Role role { Role::None };
};

// The environment a ttcp run needs. A transport holds at most one data socket at a time (plus, for
// a TCP receiver, the listening socket until accept()). Calls block until they can make progress.
class Transport {
public:
    // TCP: a connected stream to host:port. UDP: a datagram socket whose sendto() goes there.
    virtual Result<void> connect(StringView host, u16 port, SocketSettings const& settings) = 0;
    // TCP: a listening socket on port. UDP: a datagram socket bound to port.
    virtual Result<void> listen(u16 port, SocketSettings const& settings) = 0;
    // TCP only: waits for one connection, which becomes the data socket; the listener is closed.
    virtual Result<Peer> accept() = 0;
    // TCP: writes some of `data` (at least one byte) and says how much.
    virtual Result<usize> send(ReadonlyBytes data) = 0;
    // TCP: reads up to buffer.size() bytes; 0 means the peer closed the stream.
    virtual Result<usize> recv(Bytes buffer) = 0;
    // TCP: as recv, but the transport may place the bytes anywhere inside `buffer`'s allocation
    // and returns where they are. The guest lines them up with their receive page so copy
    // elimination can remap (docs/zero-copy.md); everyone else receives at the start.
    virtual Result<Bytes> recv_placed(Bytes buffer)
    {
        usize received = TRY(recv(buffer));
        return buffer.first(received);
    }
    // UDP: one datagram to the connect() address.
    virtual Result<usize> sendto(ReadonlyBytes datagram) = 0;
    // UDP: one datagram (truncated to the buffer). Error::TimedOut when nothing has come for the
    // transport's idle limit, so a lost end marker cannot hang the receiver forever.
    virtual Result<usize> recvfrom(Bytes buffer, Peer& from) = 0;
    // Closes the data socket (TCP: the peer sees end of stream) and any listener.
    virtual void close() = 0;

    // The I/O buffer. The guest hands out page-aligned memory so copy elimination can remap
    // received pages into it and send from it without copying.
    virtual Result<Bytes> allocate_buffer(usize length) = 0;
    virtual void free_buffer(Bytes buffer) = 0;

    // Cooperative zero-copy send: a transmitter that rewrites its buffer (-R) cycles through this
    // many buffers, and before rewriting one waits until the stack has released the stream's
    // first `offset` bytes (the bytes of that buffer's previous send), so no write lands on a
    // page the stack still holds. Transports without a completion report keep one buffer.
    virtual u32 send_ring_slots(Options const&) { return 1; }
    virtual Result<void> wait_send_released(u64) { return {}; }
    // The released buffer is about to be rewritten: a transport whose pages stay write-protected
    // after a send (Skiff's lazy protection) makes them writable now, in one call, instead of one
    // write fault per page.
    virtual void prepare_rewrite(Bytes) { }

    virtual u64 now_ns() = 0; // a monotonic clock
    virtual void sleep_ns(u64 duration) = 0;
    virtual void print(StringView text) = 0; // messages, on the console or stderr

    // Without -s: where the transmitter's data comes from and the receiver's goes. 0 = end. A
    // transport without them (the guest console) says so, and main() implies -s.
    virtual bool has_standard_streams() const { return false; }
    virtual Result<usize> read_input(Bytes) { return Error::NotSupported; }
    virtual Result<void> write_output(ReadonlyBytes) { return Error::NotSupported; }

protected:
    ~Transport() = default;
};

// Parses the command line (without the program name), getopt style: "-t -s host", "-ts host",
// "-l8192" and "-l 8192" all work. On error, writes a one-line reason to `diagnostics`.
Result<Options> parse_options(Span<StringView const> arguments, FormatSink& diagnostics);

// The usage text, one option a line.
StringView usage();

// Runs one transfer and prints classic ttcp lines through transport.print().
Result<Report> run(Options const& options, Transport& transport);

// parse_options + run + messages: what both `ttcp` programs do. Returns the exit status: 0 on
// success, 1 on a failed transfer or a payload check that did not match, 2 on a usage error.
int main(Span<StringView const> arguments, Transport& transport);

// The payloads. pattern(): classic ttcp's printable-character cycle (' ' to '~'), restarting at
// every buffer. fill_random(): byte `offset + i` of the stream numbered by `seed`; any slice of the
// stream can be produced independently, so a receiver can check data that arrives in any pieces.
void fill_pattern(Bytes buffer);
void fill_random(u64 seed, u64 offset, Bytes buffer);

// Fixed-point helpers, exposed for the tests. format_ratio() writes numerator/denominator with
// `decimals` digits after the point, rounded half up; a zero denominator prints as if it were 1.
void format_ratio(FormatSink& sink, u64 numerator, u64 denominator, u32 decimals);
// "13320.52 KB" for bytes over elapsed_ns, in classic ttcp's units ('K' KB, 'k' Kbit, 'M' MB,
// 'm' Mbit, 'G' GB, 'g' Gbit; all powers of 1024, as classic ttcp has them).
void format_rate(FormatSink& sink, u64 bytes, u64 elapsed_ns, char unit);

} // namespace skiff::ttcp

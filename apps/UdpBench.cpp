// udpbench: the UDP transmit comparison of van Rantwijk, "Experiments with zero-copy UDP
// transmission under Linux" (docs/references.md), on Skiff's paths. Sends `count` datagrams of `length`
// bytes to a host `ttcp -r -u` (its start and end markers included) by one of:
//
//   socket  the standard socket: knet::UdpHandle::send_to (UdpLayer copies into a packet buffer
//           and always computes the checksum)
//   copy    the paper's "copy extension": the application's bytes copied into a kernel packet
//           buffer, the UDP header built here, straight to IPv4
//   mapped  the paper's "mmap extension": the application writes its datagrams straight into
//           kernel packet buffers (a ring of them, filled once), which are sent again and again
//   gather  the paper's "kiobuf extension": the payload stays in the application's pinned pages,
//           one seg[] piece per page, and the NIC gathers it (e1000: a descriptor per piece;
//           NE2000: PIO from each piece)
//
// `checksum off` sends UDP checksum 0 ("none", RFC 768) and skips computing it.
//
//   udpbench <address> <port> socket|copy|mapped|gather on|off <length> <count>
//
// Prints the guest's cycle-counter cycles per datagram for the whole send loop (stack and driver); the
// receiving ttcp reports the rate.

#include <apps/NetworkCommands.h>
#include <apps/UdpBench.h>
#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>
#include <kernel/sched/Scheduler.h>
#include <lib/ByteOrder.h>
#include <mm/Memory.h>
#include <net/Checksum.h>
#include <net/udp/UdpHeader.h>

namespace skiff::apps {

namespace {

constexpr u16 kSourcePort = 40008;
constexpr u32 kRing = 32;           // mapped: kernel packet buffers the application writes into
constexpr u64 kRetryLimitMs = 5000; // no buffer or ring slot for this long: give up

enum class Mode : u8 { Socket, Copy, Mapped, Gather };

struct Bench {
    net::Ipv4Address destination;
    u16 port;
    Mode mode;
    bool checksum;
    u32 length;
    u8* buffer; // the application's buffer (zero-copy region: whole pages)
    net::Ipv4Address source;
    net::PacketBuffer* ring[kRing] {};
};

// The UDP header in front of whatever the packet holds, and IPv4 on. Consumes one reference.
Result<void> send_packet(Bench& bench, net::PacketRef packet)
{
    auto& stack = knet::stack();
    u16 udp_length = static_cast<u16>(bench.length + net::UdpView::kHeaderLength);
    u8* header = packet->push_header(net::UdpView::kHeaderLength);
    store_be16(header, kSourcePort);
    store_be16(header + 2, bench.port);
    store_be16(header + 4, udp_length);
    store_be16(header + 6, 0);
    if (bench.checksum) {
        net::ChecksumAccumulator sum;
        net::add_pseudo_header(sum, bench.source, bench.destination, static_cast<u8>(net::IpProtocol::Udp), udp_length);
        sum.add_packet(*packet, 0, udp_length);
        u16 checksum = sum.finish();
        store_be16(header + 6, checksum ? checksum : 0xffff);
    }
    return stack.ipv4().send(move(packet), bench.source, bench.destination, net::IpProtocol::Udp);
}

// One datagram by the bench's mode. Error::WouldBlock: no buffer free yet, try again.
Result<void> send_one(Bench& bench, knet::UdpHandle& handle, u32 index)
{
    if (bench.mode == Mode::Socket) {
        auto sent = handle.send_to({ bench.buffer, bench.length }, { bench.destination, bench.port });
        if (sent.is_error())
            return sent.error();
        return {};
    }
    knet::StackLocker locker;
    auto& stack = knet::stack();
    if (bench.mode == Mode::Mapped) {
        net::PacketBuffer* packet = bench.ring[index % kRing];
        if (packet->reference_count() != 1)
            return Error::WouldBlock; // the driver still holds its last transmission
        packet->reset_headers();
        return send_packet(bench, net::PacketRef::share(*packet)); // the ring keeps its own reference
    }
    net::PacketRef packet = stack.pool().allocate_transmit();
    if (!packet)
        return Error::WouldBlock;
    if (bench.mode == Mode::Copy) {
        packet->append_follow({ bench.buffer, bench.length });
        return send_packet(bench, move(packet));
    }
    // Gather: one pinned piece per page of the application's buffer (LyraNET §3.4 splitting).
    u32 offset = 0;
    while (offset < bench.length) {
        u8 const* virt = bench.buffer + offset;
        u32 in_page = static_cast<u32>(reinterpret_cast<uptr>(virt) & (kPageSize - 1));
        u32 piece = min<u32>(bench.length - offset, static_cast<u32>(kPageSize) - in_page);
        // Pinned as the stack's zero-copy send pins (Port::pin_user_page), read through the
        // frame's own address: what the NIC sends is what the buffer held at send time.
        auto frame = mm::pin_page(reinterpret_cast<uptr>(virt));
        if (frame.is_error())
            return frame.error();
        bool added = packet->add_segment({ mm::frame_bytes(frame.value()) + in_page, frame.value() + in_page, piece,
            { frame.value(), net::FrameKind::Pinned } });
        VERIFY(added); // a datagram of at most one page spans at most two
        offset += piece;
    }
    return send_packet(bench, move(packet));
}

Result<u64> run(Bench& bench, knet::UdpHandle& handle, u64 count)
{
    u64 start = time::cycles();
    for (u64 i = 0; i < count; ++i) {
        u64 deadline = time::monotonic_ns() + kRetryLimitMs * 1000000;
        while (true) {
            auto sent = send_one(bench, handle, static_cast<u32>(i));
            if (!sent.is_error())
                break;
            bool full = sent.error() == Error::WouldBlock || sent.error() == Error::NoMemory;
            if (!full || time::monotonic_ns() >= deadline)
                return sent.error();
            knet::wake_network_thread(); // let the driver reclaim finished transmissions
            sched::yield();
        }
    }
    return time::cycles() - start;
}

void markers(knet::UdpHandle& handle, Bench const& bench, u32 count)
{
    static u8 const marker[4] = { 0, 0, 0, 0 };
    for (u32 i = 0; i < count; ++i) {
        (void)handle.send_to({ marker, sizeof(marker) }, { bench.destination, bench.port });
        sched::sleep_ms(1);
    }
}

int udpbench_command(console::Arguments const& arguments)
{
    u64 port = 0, length = 0, count = 0;
    auto destination = arguments.count() == 7 ? net::Ipv4Address::parse(arguments[1])
                                              : Result<net::Ipv4Address>(Error::InvalidArgument);
    Bench bench {};
    StringView mode = arguments.count() == 7 ? arguments[3] : StringView("");
    bool known_mode = true;
    if (mode == StringView("socket"))
        bench.mode = Mode::Socket;
    else if (mode == StringView("copy"))
        bench.mode = Mode::Copy;
    else if (mode == StringView("mapped"))
        bench.mode = Mode::Mapped;
    else if (mode == StringView("gather"))
        bench.mode = Mode::Gather;
    else
        known_mode = false;
    if (!known_mode || destination.is_error() || !parse_u64(arguments[2], port) || port == 0 || port > 0xffff
        || !(arguments[4] == StringView("on") || arguments[4] == StringView("off")) || !parse_u64(arguments[5], length)
        || length < 5 || length > 1472 || !parse_u64(arguments[6], count) || count == 0) {
        kprintln("usage: udpbench <address> <port> socket|copy|mapped|gather on|off <length 5-1472> <count>");
        return 2;
    }
    if (!network_ready())
        return 1;
    bench.destination = destination.value();
    bench.port = static_cast<u16>(port);
    bench.checksum = arguments[4] == StringView("on");
    bench.length = static_cast<u32>(length);
    if (bench.mode == Mode::Socket && !bench.checksum)
        kprintln("udpbench: the standard socket always computes the UDP checksum");
    auto buffer = mm::allocate_zero_copy_buffer(2 * kPageSize);
    if (buffer.is_error()) {
        kprintln("udpbench: no buffer: {}", buffer.error());
        return 1;
    }
    // The datagram straddles a page boundary, as an arbitrary application buffer may.
    bench.buffer = buffer.value() + kPageSize - bench.length / 2;
    for (u32 i = 0; i < bench.length; ++i)
        bench.buffer[i] = static_cast<u8>(' ' + i % 95); // ttcp's pattern
    auto opened = knet::UdpHandle::open("udpbench");
    if (opened.is_error()) {
        mm::free_zero_copy_buffer(buffer.value(), 2 * kPageSize);
        kprintln("udpbench: {}", opened.error());
        return 1;
    }
    knet::UdpHandle& handle = *opened.value();
    int status = 0;
    {
        knet::StackLocker locker;
        auto source = knet::stack().ipv4().source_for(bench.destination);
        if (source.is_error())
            status = 1;
        else
            bench.source = source.value();
        for (u32 i = 0; status == 0 && bench.mode == Mode::Mapped && i < kRing; ++i) {
            bench.ring[i] = knet::stack().pool().allocate_transmit().leak(); // released below
            if (!bench.ring[i])
                status = 1;
            else
                bench.ring[i]->append_follow({ bench.buffer, bench.length }); // the application writes
        }
    }
    if (status == 0) {
        markers(handle, bench, 1); // ttcp's start marker (and the ARP resolution)
        sched::sleep_ms(20);
        auto cycles = run(bench, handle, count);
        sched::sleep_ms(20);
        markers(handle, bench, 5); // ttcp's end markers
        if (cycles.is_error()) {
            kprintln("udpbench: send failed: {}", cycles.error());
            status = 1;
        } else {
            kprintln("udpbench: mode {} checksum {} length {} count {} sent {} cycles/datagram {}", mode,
                bench.checksum ? "on" : "off", bench.length, count, count, cycles.value() / count);
        }
    } else {
        kprintln("udpbench: no route or no packet buffers");
    }
    {
        knet::StackLocker locker;
        for (auto* packet : bench.ring) {
            if (packet)
                packet->release(); // a driver still holding one releases its own reference later
        }
    }
    handle.close();
    // Pinned pieces are released when the driver is done with them; the buffer's frames with it.
    sched::sleep_ms(50);
    mm::free_zero_copy_buffer(buffer.value(), 2 * kPageSize);
    return status;
}

} // namespace

void register_udpbench_command()
{
    console::register_command(
        { "udpbench", "udpbench <address> <port> socket|copy|mapped|gather on|off <length> <count>",
            "UDP transmit paths compared (van Rantwijk): socket, copy, mapped kernel buffer, scatter/gather; checksums "
            "on/off",
            udpbench_command });
}

} // namespace skiff::apps

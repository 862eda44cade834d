// dmatest: LyraNET §3.4 on the real driver path. Sends one UDP datagram whose payload straddles a
// page boundary of a virtually contiguous but physically scattered zero-copy buffer, as two
// data segments (seg[0] up to the boundary, seg[1] after it) pinned in place — so a DMA NIC gets
// one descriptor per physically contiguous piece and a PIO NIC gathers them at the data port.
// It prints how many pieces the driver handed the card (its tx_pieces counter), so the test can
// tell a gathering driver from one that flattened the frame; the receiver (tests/net/guest) checks
// every byte.
//
//   dmatest <address> <port> [length]      payload byte i is (i * 31 + 7) mod 256

#include <apps/NetworkCommands.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <lib/ByteOrder.h>
#include <mm/Memory.h>
#include <net/Checksum.h>
#include <net/udp/UdpHeader.h>

namespace skiff::apps {

namespace {

constexpr u64 kPage = 4096;
constexpr u16 kSourcePort = 40007;

u8 pattern_byte(u32 index)
{
    return static_cast<u8>(index * 31 + 7);
}

Result<net::DataSeg> pinned_segment(net::Port& port, u8 const* virt, u32 length)
{
    net::PortPage page = TRY(port.pin_user_page(virt, 1));
    u64 offset = reinterpret_cast<uptr>(virt) & (kPage - 1);
    return net::DataSeg { page.virt + offset, page.phys + offset, length, { page.phys, net::FrameKind::Pinned } };
}

// Makes the second page of `buffer` physically discontiguous with the first (a fresh frame
// swapped in under it), unless it already is.
Result<void> scatter(u8* buffer)
{
    auto first = TRY(mm::translate(reinterpret_cast<uptr>(buffer)));
    auto second = TRY(mm::translate(reinterpret_cast<uptr>(buffer + kPage)));
    if (second.physical != first.physical + kPage)
        return {};
    mm::PhysicalAddress fresh = TRY(mm::allocate_zeroed_frame());
    auto old = mm::remap_page(reinterpret_cast<uptr>(buffer + kPage), fresh);
    if (old.is_error()) {
        mm::unref_frame(fresh);
        return old.error();
    }
    mm::unref_frame(old.value());
    return {};
}

// Frames and pieces every NIC has handed to its card so far.
struct TransmitTally {
    u64 frames;
    u64 pieces;
};

TransmitTally transmit_tally()
{
    TransmitTally tally { 0, 0 };
    for (u32 i = 0; i < knet::driver_count(); ++i) {
        tally.frames += knet::driver(i).counters().tx_packets;
        tally.pieces += knet::driver(i).driver_counters().tx_pieces;
    }
    return tally;
}

// Sends the datagram; `pieces` gets how many pieces of memory the driver handed the card for it
// (0 if the frame did not leave at once, e.g. waiting for ARP).
Result<void> send_straddling(net::Ipv4Address destination, u16 port, u8* buffer, u32 length, u64& pieces)
{
    u32 start = static_cast<u32>(kPage) - length / 2;
    for (u32 i = 0; i < length; ++i)
        buffer[start + i] = pattern_byte(i);

    knet::StackLocker locker;
    auto& stack = knet::stack();
    net::Ipv4Address source = TRY(stack.ipv4().source_for(destination));
    net::PacketRef packet = stack.pool().allocate_transmit();
    if (!packet)
        return Error::NoMemory;
    u32 first_length = static_cast<u32>(kPage) - start;
    auto first = pinned_segment(stack.port(), buffer + start, first_length);
    if (first.is_error())
        return first.error();
    packet->add_segment(first.value());
    auto second = pinned_segment(stack.port(), buffer + kPage, length - first_length);
    if (second.is_error())
        return second.error();
    packet->add_segment(second.value());
    kprintln("dmatest: seg[0] virt {} phys {:#x} {} bytes | seg[1] virt {} phys {:#x} {} bytes ({})",
        static_cast<void const*>(first.value().virt), first.value().phys, first.value().length,
        static_cast<void const*>(second.value().virt), second.value().phys, second.value().length,
        second.value().phys == first.value().phys + first.value().length ? "physically contiguous"
                                                                         : "physically scattered");

    u16 udp_length = static_cast<u16>(length + net::UdpView::kHeaderLength);
    u8* header = packet->push_header(net::UdpView::kHeaderLength);
    store_be16(header, kSourcePort);
    store_be16(header + 2, port);
    store_be16(header + 4, udp_length);
    store_be16(header + 6, 0);
    net::ChecksumAccumulator sum;
    net::add_pseudo_header(sum, source, destination, static_cast<u8>(net::IpProtocol::Udp), udp_length);
    sum.add_packet(*packet, 0, udp_length);
    u16 checksum = sum.finish();
    store_be16(header + 6, checksum ? checksum : 0xffff);
    // The stack lock is held: no other frame can be transmitted meanwhile.
    TransmitTally before = transmit_tally();
    TRY(stack.ipv4().send(move(packet), source, destination, net::IpProtocol::Udp));
    TransmitTally after = transmit_tally();
    pieces = after.frames - before.frames == 1 ? after.pieces - before.pieces : 0;
    return {};
}

int dmatest_command(console::Arguments const& arguments)
{
    u64 port = 0, length = 1000;
    auto destination = arguments.count() >= 3 ? net::Ipv4Address::parse(arguments[1])
                                              : Result<net::Ipv4Address>(Error::InvalidArgument);
    if (destination.is_error() || !parse_u64(arguments[2], port) || port == 0 || port > 0xffff
        || (arguments.count() >= 4 && (!parse_u64(arguments[3], length) || length < 2 || length > 1472))) {
        kprintln("usage: dmatest <address> <port> [length 2-1472]");
        return 2;
    }
    if (!network_ready())
        return 1;
    auto allocated = mm::allocate_zero_copy_buffer(2 * kPage);
    if (allocated.is_error()) {
        kprintln("dmatest: no zero-copy buffer: {}", allocated.error());
        return 1;
    }
    u8* buffer = allocated.value();
    int status = 0;
    u64 pieces = 0;
    if (auto scattered = scatter(buffer); scattered.is_error()) {
        kprintln("dmatest: cannot scatter the buffer: {}", scattered.error());
        status = 1;
    } else if (auto sent
               = send_straddling(destination.value(), static_cast<u16>(port), buffer, static_cast<u32>(length), pieces);
               sent.is_error()) {
        kprintln("dmatest: send failed: {}", sent.error());
        status = 1;
    } else {
        kprintln("dmatest: sent {} bytes to {}:{} across a page boundary", length, IpText(destination.value()).c_str(),
            port);
        if (pieces)
            kprintln("dmatest: the driver handed the card the frame as {} pieces (headers, seg[0], seg[1]: no "
                     "flattening copy)",
                pieces);
        else
            kprintln("dmatest: the frame did not leave at once (waiting for ARP?): pieces not counted");
    }
    // The driver releases the pins when the card is done; the buffer's own frames go with it.
    sched::sleep_ms(100);
    mm::free_zero_copy_buffer(buffer, 2 * kPage);
    return status;
}

} // namespace

void register_dmatest_command()
{
    console::register_command({ "dmatest", "dmatest <address> <port> [length]",
        "send a UDP payload straddling a page boundary of a scattered buffer (LyraNET 3.4)", dmatest_command });
}

} // namespace skiff::apps

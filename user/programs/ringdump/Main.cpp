// ringdump: raw frames through a mapped packet ring (lib/Abi.h, RingMap): counts (and with -p
// prints) the frames of an EtherType as they arrive in the ring — remapped into it, not copied —
// and can transmit numbered frames of its own from the transmit ring.
//
//   ringdump [-e ETHERTYPE | -a] [-c COUNT] [-W SECONDS] [-p] [-x FRAMES] [-s SLOTS]
//
//   -e 0x88b5  the EtherType to claim (default 0x88b5, IEEE's local experimental one): its frames
//              go to this ring alone, never to the kernel's protocols
//   -a         capture every frame instead (copied into the ring: the protocols still get them)
//   -c N       stop after N frames (default: when -W passes without one)
//   -W S       stop after S seconds without a frame (default 10)
//   -p         print each frame: number, length, source > destination, type, its first bytes
//   -x N       afterwards, send N frames of the EtherType to the broadcast address, each carrying
//              "ringdump frame <i>"
//   -s N       slots per ring (default 16, at most 64)

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Ring.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

struct Mac {
    explicit Mac(u8 const* bytes)
    {
        format_to(text, sizeof(text), "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2],
            bytes[3], bytes[4], bytes[5]);
    }
    char text[18];
};

bool option(Span<StringView const> arguments, StringView flag, u64& value)
{
    for (usize i = 1; i + 1 < arguments.size(); ++i) {
        if (arguments[i] == flag)
            return parse_u64(arguments[i + 1], value);
    }
    return true;
}

bool has_flag(Span<StringView const> arguments, StringView flag)
{
    for (usize i = 1; i < arguments.size(); ++i) {
        if (arguments[i] == flag)
            return true;
    }
    return false;
}

void print_frame(u64 sequence, ReadonlyBytes frame)
{
    if (frame.size() < 14) {
        println("ringdump: #{} {} bytes (short)", sequence, frame.size());
        return;
    }
    char data[2 * 24 + 1] {};
    usize shown = min<usize>(frame.size() - 14, 24);
    for (usize i = 0; i < shown; ++i)
        format_to(data + 2 * i, 3, "{:02x}", frame[14 + i]);
    println("ringdump: #{} {} bytes {} > {} type {:#06x} data {}", sequence, frame.size(), Mac(frame.data() + 6).text,
        Mac(frame.data()).text, (frame[12] << 8) | frame[13], data);
}

} // namespace

int main(Span<StringView const> arguments)
{
    u64 ether_type = 0x88b5, count = 0, idle_s = 10, transmit = 0, slots = 16;
    bool capture = has_flag(arguments, "-a");
    bool print_each = has_flag(arguments, "-p");
    if (!option(arguments, "-e", ether_type) || !option(arguments, "-c", count) || !option(arguments, "-W", idle_s)
        || !option(arguments, "-x", transmit) || !option(arguments, "-s", slots) || ether_type > 0xffff
        || (ether_type != 0 && ether_type < 0x600) || slots == 0 || slots > abi::kMaxRingSlots) {
        println("usage: ringdump [-e ETHERTYPE | -a] [-c COUNT] [-W SECONDS] [-p] [-x FRAMES] [-s SLOTS]");
        return 2;
    }
    if (capture)
        ether_type = 0;
    auto mapped = PacketRing::map(static_cast<u32>(slots), static_cast<u16>(ether_type));
    if (mapped.is_error()) {
        println("ringdump: RingMap: {}", mapped.error());
        return 1;
    }
    PacketRing& ring = mapped.value();
    if (capture)
        println("ringdump: ring of {} slots capturing every frame on {}", ring.slots(), Mac(ring.mac()).text);
    else
        println(
            "ringdump: ring of {} slots for EtherType {:#06x} on {}", ring.slots(), ether_type, Mac(ring.mac()).text);

    u64 frames = 0, bytes = 0;
    while (count == 0 || frames < count) {
        auto full = ring.wait(static_cast<i64>(idle_s * 1000));
        if (full.is_error()) {
            println("ringdump: {}", full.error());
            break;
        }
        if (full.value() == 0)
            break; // idle for -W seconds
        while (auto const* descriptor = ring.next_received()) {
            ReadonlyBytes frame = ring.frame(*descriptor);
            if (print_each)
                print_frame(descriptor->sequence, frame);
            ++frames;
            bytes += frame.size();
            (void)ring.release(1);
            if (count && frames >= count)
                break;
        }
    }
    auto stats = ring.statistics();
    if (!stats.is_error())
        println("ringdump: received {} frames ({} bytes): {} remapped, {} copied, {} dropped (ring full)", frames,
            bytes, stats.value().remapped, stats.value().copied, stats.value().dropped);

    u64 sent = 0;
    u16 type = ether_type ? static_cast<u16>(ether_type) : 0x88b5;
    for (u64 i = 0; i < transmit; ++i) {
        u8* slot = nullptr;
        for (u32 tries = 0; !slot && tries < 1000; ++tries) {
            slot = ring.transmit_slot();
            if (!slot)
                sleep_ms(1);
        }
        if (!slot) {
            println("ringdump: no transmit slot came free");
            break;
        }
        for (u32 b = 0; b < 6; ++b)
            slot[b] = 0xff;
        __builtin_memcpy(slot + 6, ring.mac(), 6);
        slot[12] = static_cast<u8>(type >> 8);
        slot[13] = static_cast<u8>(type);
        __builtin_memset(slot + 14, 0, abi::kMinFrameLength - 14);
        format_to(reinterpret_cast<char*>(slot + 14), abi::kMinFrameLength - 14, "ringdump frame {}", i);
        auto result = ring.send(abi::kMinFrameLength);
        if (result.is_error()) {
            println("ringdump: RingTransmit: {}", result.error());
            break;
        }
        sent += result.value();
    }
    if (transmit) {
        auto after = ring.statistics();
        println(
            "ringdump: transmitted {} frames ({} errors)", sent, after.is_error() ? 0 : after.value().transmit_errors);
    }
    ring.close();
    return 0;
}

} // namespace skiff::user

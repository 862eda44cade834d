#pragma once

// Raw frames beside the protocols (Liu et al.'s mapped packet pool, in the spirit of Linux's
// packet mmap): the OS registers one tap with the stack (NetStack::set_frame_tap). For every frame
// addressed to us or broadcast, before the protocols look at it:
//
//   - a frame whose EtherType the tap claims goes to the tap alone: take() receives the packet
//     with its linear region the whole frame, Ethernet header first; the protocols never see it
//     (the kernel remaps its page into a task's ring instead of copying it);
//   - with capture on, observe() sees every other frame (read only, before the protocols get it).
//
// Raw frames go out through NetStack::transmit_raw.

#include <lib/Types.h>
#include <net/PacketBuffer.h>

namespace skiff::net {

class PacketRef;

class FrameTap {
public:
    virtual bool claims(u16 ether_type) const = 0;
    virtual void take(u8 interface, PacketRef packet) = 0;
    virtual bool capturing() const = 0;
    virtual void observe(u8 interface, PacketBuffer const& frame) = 0;

protected:
    ~FrameTap() = default;
};

} // namespace skiff::net

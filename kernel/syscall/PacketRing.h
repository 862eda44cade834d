#pragma once

// A task's mapped packet rings (lib/Abi.h, RingMap): Liu et al.'s packet pool mapped into the
// application, in the spirit of Linux's packet mmap. One receive ring and one transmit ring per
// RingMap, each `slots` pages of frames plus a page of descriptors, in the task's ring area
// (mm/UserSpace.h). The kernel reaches them through their frames (the direct map), whatever address
// space is loaded.
//
// Receive (from the network thread, through the stack's frame tap, net/ethernet/FrameTap.h): a
// frame of the ring's EtherType is claimed before the protocols see it, and the page the NIC wrote
// is swapped in under the next empty slot's page in the task's page table — no copy — while the
// slot's old page goes back to the stack's receive pool in its place (PacketBuffer::exchange_page,
// as TCP's remap does). A capture ring (EtherType 0) sees every other frame and copies it, since
// the protocols keep theirs. Transmit: the slot's page itself goes to the NIC (one segment, a
// reference on the frame), the slot marked sending until the device lets go of it.
//
// All under the stack lock (rings are touched by the network thread and by the task's calls).

#include <kernel/net/NetWaiter.h>
#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::task {
class Task;
}

namespace skiff::syscall {

class PacketRing;

// RingMap for `task`: maps the rings, registers them, fills in `setup`'s addresses and MAC.
Result<PacketRing*> map_packet_ring(task::Task& task, abi::RingSetup& setup, knet::NetWaiter& waiter);
// Unregisters and unmaps (the task's memory lock and the stack lock are taken here).
void close_packet_ring(PacketRing* ring);

Result<u32> release_ring_slots(PacketRing& ring, u32 count);
Result<u32> transmit_ring_slots(PacketRing& ring, u32 count);
// Full receive slots now (sending transmit slots the device let go of become empty first).
u32 ring_full_slots(PacketRing& ring);
abi::RingStats ring_statistics(PacketRing& ring);

} // namespace skiff::syscall

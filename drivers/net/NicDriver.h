#pragma once

// What the kernel's network thread needs from a NIC driver beyond net::NetDevice (the stack's
// side). Every driver has the same shape (docs/CodingStyle.md): create() does what can fail and reads
// the MAC; the stack attaches the device; start() fills the receive ring, enables reception and
// interrupts; the interrupt handler only acknowledges the card and calls the wake hook; the
// network thread calls poll(budget), which hands received frames to the stack, reclaims finished
// transmissions and reports link changes.

#include <lib/Format.h>
#include <lib/Result.h>
#include <net/NetDevice.h>

namespace skiff::drivers {

// Counters a person debugging a driver wants, beyond the stack's packet and byte counts.
struct DriverCounters {
    u64 interrupts { 0 };          // handler invocations
    u64 spurious_interrupts { 0 }; // nothing pending when the handler ran (a shared line)
    u64 polls { 0 };               // poll() calls
    u64 rx_budget_exhausted { 0 }; // poll() stopped with frames still waiting
    u64 rx_bad_frames { 0 };       // descriptors or ring headers reporting errors, bad lengths
    u64 rx_no_buffer { 0 };        // a frame was dropped for want of a receive buffer
    u64 rx_missed { 0 };           // frames the card itself dropped (e1000 MPC), if it says
    u64 tx_ring_full { 0 };        // transmit refused: no room
    u64 tx_pieces { 0 };           // pieces of memory the card took frames from: DMA descriptors (e1000) or
                                   // remote-DMA writes from separate buffers (NE2000); > frames when gathering
    u64 link_changes { 0 };
    u64 resyncs { 0 }; // NE2000 ring resynchronised after a corrupt header
};

class NicDriver : public net::NetDevice {
public:
    using WakeHook = void (*)(void* context);

    // Fills the receive ring and starts the card. The device must be attached to the stack.
    virtual Result<void> start() = 0;
    // Receive up to `budget` frames, reclaim transmit buffers, handle link changes. Returns the
    // number of frames handed to the stack; more_pending() says whether to call again at once.
    virtual u32 poll(u32 budget) = 0;
    virtual bool more_pending() const = 0;
    // The model name for the console ("e1000 82540EM", "NE2000 (ISA)").
    virtual StringView model() const = 0;
    virtual u32 irq() const = 0; // the interrupt-controller line
    // One line each of ring state for `nicstat` (occupancy, indices), after the common counters.
    virtual void print_rings(FormatSink& out) const = 0;
    // The largest TCP receive window that cannot overrun the card's receive memory (0: no
    // limit). A card with a small on-board ring (the NE2000) loses frames, or worse, when a peer
    // sends more than fits between two polls; a window this size keeps a sender within it.
    virtual u32 receive_window_hint() const { return 0; }

    void set_wake_hook(WakeHook hook, void* context)
    {
        m_wake = hook;
        m_wake_context = context;
    }
    DriverCounters const& driver_counters() const { return m_driver_counters; }

protected:
    ~NicDriver() = default;
    void wake_network_thread()
    {
        if (m_wake)
            m_wake(m_wake_context);
    }

    DriverCounters m_driver_counters; // written by the handler (interrupts) and the network thread
    WakeHook m_wake { nullptr };
    void* m_wake_context { nullptr };
};

// The driver table: probes PCI for e1000 and ne2k_pci and the ISA NE2000 at I/O 0x300 (IRQ from
// `ne2k_irq=` on the kernel command line, default 10). Fills `out` with up to `capacity` drivers.
u32 probe_network_cards(NicDriver** out, u32 capacity);

} // namespace skiff::drivers

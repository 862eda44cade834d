#pragma once

// The kernel's implementation of net::Port (net/Port.h) on top of mm/ (mm/Memory.h): frames with
// reference counts through the direct map, zero-copy pins and remaps, a random source, and
// wake-ups of threads blocked on sockets (a waiter is a knet::NetWaiter).

#include <net/Port.h>

namespace skiff::knet {

class KernelPort final : public net::Port {
public:
    Result<net::PortPage> allocate_page() override;
    Result<net::PortPage> allocate_pages(u32 count) override;
    void ref_page(u64 phys) override;
    void ref_pages(u64 phys, u32 count) override;
    void unref_page(u64 phys) override;
    void unref_pages(Span<u64 const> frames) override;
    Result<net::PortPage> pin_user_page(void const* virt, u32 count) override;
    void unpin_user_page(u64 phys, u32 count) override;
    bool is_zero_copy_region(void const* virt, usize length) override;
    Result<net::PortPage> remap_page(void* app_page, net::PortPage received) override;
    usize remap_pages(Span<net::PortRemap> remaps) override;
    Result<u8*> posted_destination(void* owner, void* virt, usize length) override;
    u64 random_u64() override;
    void wake(void* waiter) override;

private:
    u64 m_random_state { 0 }; // network thread or stack lock holder only
};

// The copy-versus-remap threshold of zero-copy receive (TcpSocketOptions::zero_copy_threshold),
// measured on the machine at hand: what a remap costs (mm::remap_page, its invlpg, and the TLB
// refill when the application first reads the page) against what copying costs per byte, the
// break-even size between them. knet::initialize() measures it at boot and gives it to the stack
// as its default; `zc threshold N` overrides it by hand.
struct ZeroCopyThreshold {
    u32 bytes { 0 };               // recv remaps pieces of at least this many bytes
    bool measured { false };       // false: set by hand
    u64 remap_cycles { 0 };        // median of one remap + invlpg + first read
    u64 copy_cycles_per_kib { 0 }; // the slope of memcpy's cost
    u64 copy_fixed_cycles { 0 };   // and its start-up
    u64 measurement_cycles { 0 };  // what measuring took
};
ZeroCopyThreshold measure_zero_copy_threshold();
// What the stack uses now, and where it came from.
ZeroCopyThreshold const& zero_copy_threshold();
void set_zero_copy_threshold(ZeroCopyThreshold const& threshold);

} // namespace skiff::knet

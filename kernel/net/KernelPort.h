#pragma once

// The kernel's implementation of net::Port (net/Port.h) on top of mm/ (mm/Memory.h): frames with
// reference counts through the direct map, zero-copy pins and remaps, a random source, and
// wake-ups of threads blocked on sockets (a waiter is a knet::NetWaiter).

#include <net/Port.h>

namespace skiff::knet {

class KernelPort final : public net::Port {
public:
    Result<net::PortPage> allocate_page() override;
    void ref_page(u64 phys) override;
    void unref_page(u64 phys) override;
    Result<net::PortPage> pin_user_page(void const* virt) override;
    void unpin_user_page(u64 phys) override;
    bool is_zero_copy_region(void const* virt, usize length) override;
    Result<net::PortPage> remap_page(void* app_page, net::PortPage received) override;
    u64 random_u64() override;
    void wake(void* waiter) override;

private:
    u64 m_random_state { 0 }; // network thread or stack lock holder only
};

} // namespace skiff::knet

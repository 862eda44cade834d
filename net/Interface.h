#pragma once

#include <net/Address.h>
#include <net/NetDevice.h>

namespace skiff::net {

// One attached device and its IPv4 configuration.
struct Interface {
    NetDevice* device { nullptr };
    MacAddress mac;
    Ipv4Address address;
    u8 prefix_length { 0 };
    u16 mtu { 1500 };

    bool in_subnet(Ipv4Address a) const
    {
        return (a.value & prefix_mask(prefix_length)) == (address.value & prefix_mask(prefix_length));
    }
    Ipv4Address subnet_broadcast() const { return { address.value | ~prefix_mask(prefix_length) }; }
    bool is_broadcast(Ipv4Address a) const
    {
        return a.is_limited_broadcast() || (prefix_length < 31 && a == subnet_broadcast());
    }
};

} // namespace skiff::net

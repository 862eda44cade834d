#pragma once

// Network configuration from the kernel command line: words such as
//   ip=10.0.2.15/24 gw=10.0.2.2 mtu=9000
// among others the stack ignores. Without `ip=` the default is 10.0.2.15/24 with gateway
// 10.0.2.2: the guest address in QEMU user networking and in tap mode alike, where the host end
// of the tap is 10.0.2.2. `gw=none` removes the default route. `mtu=N` asks for an MTU other
// than the device's default (1500); whether the device takes it is checked when it is applied
// (NetStack::set_mtu).

#include <lib/Result.h>
#include <lib/StringView.h>
#include <net/Address.h>

namespace skiff::net {

struct NetConfig {
    Ipv4Address address { Ipv4Address::from_octets(10, 0, 2, 15) };
    u8 prefix_length { 24 };
    Ipv4Address gateway { Ipv4Address::from_octets(10, 0, 2, 2) }; // any(): no default route
    u16 mtu { 0 };                                                 // 0: the device's default

    // Parses a whole command line; unknown words are ignored, malformed ip=/gw=/mtu= are errors.
    static Result<NetConfig> parse(StringView command_line);
};

} // namespace skiff::net

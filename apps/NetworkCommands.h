#pragma once

// Shared by the network console commands (apps/NetworkCommands.cpp, Ping.cpp, DmaSplitTest.cpp).

#include <net/Address.h>

namespace skiff::apps {

// "10.0.2.15" / "52:54:00:12:34:56" in a small buffer, for kprint arguments.
class IpText {
public:
    explicit IpText(net::Ipv4Address address);
    char const* c_str() const { return m_text; }

private:
    char m_text[16];
};

class MacText {
public:
    explicit MacText(net::MacAddress const& mac);
    char const* c_str() const { return m_text; }

private:
    char m_text[18];
};

// Prints why not and returns false when the network is not running.
bool network_ready();

void register_ping_command();
void register_dmatest_command();

} // namespace skiff::apps

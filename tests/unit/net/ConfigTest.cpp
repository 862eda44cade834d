#include <net/Config.h>
#include <net/ipv4/RoutingTable.h>

#include <gtest/gtest.h>

using namespace skiff;
using namespace skiff::net;

TEST(NetConfig, DefaultIsQemuUserNetworking)
{
    NetConfig c = MUST(NetConfig::parse(""));
    EXPECT_EQ(c.address, Ipv4Address::from_octets(10, 0, 2, 15));
    EXPECT_EQ(c.prefix_length, 24);
    EXPECT_EQ(c.gateway, Ipv4Address::from_octets(10, 0, 2, 2));
}

TEST(NetConfig, ParsesAddressPrefixAndGatewayAmongOtherWords)
{
    NetConfig c = MUST(NetConfig::parse("console=ttyS0 ip=192.168.7.9/16  gw=192.168.0.1 quiet"));
    EXPECT_EQ(c.address, Ipv4Address::from_octets(192, 168, 7, 9));
    EXPECT_EQ(c.prefix_length, 16);
    EXPECT_EQ(c.gateway, Ipv4Address::from_octets(192, 168, 0, 1));
}

TEST(NetConfig, GatewayNoneRemovesDefaultRoute)
{
    NetConfig c = MUST(NetConfig::parse("ip=10.1.2.3/8 gw=none"));
    EXPECT_TRUE(c.gateway.is_any());
}

TEST(NetConfig, RejectsMalformedWords)
{
    char const* bad[] = { "ip=10.0.2", "ip=10.0.2.15/33", "ip=10.0.2.15/", "ip=300.0.0.1/24", "gw=10.0.2.x",
        "ip=10.0.2.15/24 gw=10.9.9.9", "ip=0.0.0.0/24", "ip=10.0.2.15/24x" };
    for (char const* text : bad)
        EXPECT_TRUE(NetConfig::parse(text).is_error()) << text;
}

TEST(Ipv4Address, ParseAndFormat)
{
    Ipv4Address a = MUST(Ipv4Address::parse("10.0.2.15"));
    EXPECT_EQ(a.value, 0x0a00020fu);
    char text[16];
    a.to_string(text, sizeof text);
    EXPECT_STREQ(text, "10.0.2.15");
}

TEST(RoutingTable, LongestPrefixWinsAndDefaultGoesViaGateway)
{
    RoutingTable t;
    MUST(t.add({ Ipv4Address::from_octets(10, 0, 2, 0), 24, {}, 0 }));
    MUST(t.add({ {}, 0, Ipv4Address::from_octets(10, 0, 2, 2), 0 }));
    MUST(t.add({ Ipv4Address::from_octets(192, 168, 0, 0), 16, Ipv4Address::from_octets(10, 0, 2, 3), 1 }));
    RouteLookup local = MUST(t.lookup(Ipv4Address::from_octets(10, 0, 2, 77)));
    EXPECT_EQ(local.next_hop, Ipv4Address::from_octets(10, 0, 2, 77));
    RouteLookup far = MUST(t.lookup(Ipv4Address::from_octets(8, 8, 8, 8)));
    EXPECT_EQ(far.next_hop, Ipv4Address::from_octets(10, 0, 2, 2));
    RouteLookup other = MUST(t.lookup(Ipv4Address::from_octets(192, 168, 4, 4)));
    EXPECT_EQ(other.interface, 1);
    EXPECT_EQ(other.next_hop, Ipv4Address::from_octets(10, 0, 2, 3));
    MUST(t.remove({}, 0));
    EXPECT_EQ(t.lookup(Ipv4Address::from_octets(8, 8, 8, 8)).error(), Error::NetworkUnreachable);
}

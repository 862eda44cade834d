#include <net/Address.h>

#include <lib/Format.h>

namespace skiff::net {

Result<Ipv4Address> Ipv4Address::parse(StringView text)
{
    u32 value = 0;
    if (!parse_ipv4(text, value))
        return Error::InvalidArgument;
    return Ipv4Address { value };
}

usize Ipv4Address::to_string(char* out, usize capacity) const
{
    return format_to(out, capacity, "{}.{}.{}.{}", octet(0), octet(1), octet(2), octet(3));
}

} // namespace skiff::net

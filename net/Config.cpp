#include <net/Config.h>

#include <lib/Format.h>

namespace skiff::net {

static Result<void> parse_address_with_prefix(StringView text, NetConfig& config)
{
    i64 slash = text.find('/');
    StringView address_text = slash < 0 ? text : text.substring(0, static_cast<usize>(slash));
    config.address = TRY(Ipv4Address::parse(address_text));
    if (slash >= 0) {
        u64 prefix = 0;
        StringView prefix_text = text.substring(static_cast<usize>(slash) + 1);
        if (prefix_text.is_empty() || !parse_u64(prefix_text, prefix) || prefix > 32)
            return Error::InvalidArgument;
        config.prefix_length = static_cast<u8>(prefix);
    }
    if (config.address.is_any() || config.address.is_limited_broadcast() || config.address.is_multicast())
        return Error::InvalidArgument;
    return {};
}

Result<NetConfig> NetConfig::parse(StringView command_line)
{
    NetConfig config;
    usize position = 0;
    while (position < command_line.length()) {
        while (position < command_line.length() && (command_line[position] == ' ' || command_line[position] == '\t'))
            ++position;
        usize start = position;
        while (position < command_line.length() && command_line[position] != ' ' && command_line[position] != '\t')
            ++position;
        StringView word = command_line.substring(start, position - start);
        if (word.starts_with("ip=")) {
            TRY(parse_address_with_prefix(word.substring(3), config));
        } else if (word.starts_with("mtu=")) {
            u64 mtu = 0;
            if (!parse_u64(word.substring(4), mtu) || mtu == 0 || mtu > 0xffff)
                return Error::InvalidArgument;
            config.mtu = static_cast<u16>(mtu);
        } else if (word.starts_with("gw=")) {
            StringView value = word.substring(3);
            if (value == "none")
                config.gateway = Ipv4Address::any();
            else
                config.gateway = TRY(Ipv4Address::parse(value));
        }
    }
    if (!config.gateway.is_any()) {
        u32 mask = prefix_mask(config.prefix_length);
        if ((config.gateway.value & mask) != (config.address.value & mask) || config.gateway == config.address)
            return Error::InvalidArgument; // a gateway must be on the local subnet
    }
    return config;
}

} // namespace skiff::net

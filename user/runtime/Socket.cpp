#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user {

using abi::Call;

namespace {

abi::SocketAddress to_abi(Endpoint endpoint)
{
    return abi::SocketAddress { endpoint.address, endpoint.port, 0 };
}

Result<void> nothing(i64 raw)
{
    TRY(result_of(raw));
    return {};
}

} // namespace

Result<i64> socket(abi::SocketType type)
{
    return static_cast<i64>(TRY(result_of(system_call(Call::Socket, static_cast<u64>(type)))));
}

Result<void> bind(i64 descriptor, Endpoint local)
{
    auto address = to_abi(local);
    return nothing(system_call(Call::Bind, static_cast<u64>(descriptor), word(&address)));
}

Result<void> listen(i64 descriptor, u32 backlog)
{
    return nothing(system_call(Call::Listen, static_cast<u64>(descriptor), backlog));
}

Result<i64> accept(i64 descriptor, Endpoint* peer)
{
    abi::SocketAddress address {};
    i64 accepted = TRY(result_of(system_call(Call::Accept, static_cast<u64>(descriptor), word(&address))));
    if (peer)
        *peer = Endpoint { address.address, address.port };
    return accepted;
}

Result<void> connect(i64 descriptor, Endpoint remote)
{
    auto address = to_abi(remote);
    return nothing(system_call(Call::Connect, static_cast<u64>(descriptor), word(&address)));
}

Result<usize> send(i64 descriptor, ReadonlyBytes data, u64 flags)
{
    return TRY(result_of(system_call(Call::Send, static_cast<u64>(descriptor), word(data.data()), data.size(), flags)));
}

Result<usize> receive(i64 descriptor, Bytes buffer, u64 flags)
{
    return TRY(
        result_of(system_call(Call::Receive, static_cast<u64>(descriptor), word(buffer.data()), buffer.size(), flags)));
}

Result<usize> receive_placed(i64 descriptor, Bytes buffer, u32& offset, Bytes next)
{
    if (!next.is_empty() && next.size() != buffer.size())
        return Error::InvalidArgument;
    return TRY(result_of(system_call(Call::Receive, static_cast<u64>(descriptor), word(buffer.data()), buffer.size(),
        abi::kReceivePlaced, word(&offset), next.is_empty() ? 0 : word(next.data()))));
}

Result<usize> send_to(i64 descriptor, ReadonlyBytes data, Endpoint destination, u64 flags)
{
    auto address = to_abi(destination);
    return TRY(result_of(system_call(
        Call::SendTo, static_cast<u64>(descriptor), word(data.data()), data.size(), flags, word(&address))));
}

Result<usize> receive_from(i64 descriptor, Bytes buffer, Endpoint* from, u64 flags)
{
    abi::SocketAddress address {};
    usize length = TRY(result_of(system_call(
        Call::ReceiveFrom, static_cast<u64>(descriptor), word(buffer.data()), buffer.size(), flags, word(&address))));
    if (from)
        *from = Endpoint { address.address, address.port };
    return length;
}

Result<void> shutdown(i64 descriptor)
{
    return nothing(system_call(Call::Shutdown, static_cast<u64>(descriptor)));
}

Result<void> close(i64 descriptor)
{
    return nothing(system_call(Call::Close, static_cast<u64>(descriptor)));
}

Result<u32> poll(Span<abi::PollEntry> entries, i64 timeout_ms)
{
    return static_cast<u32>(
        TRY(result_of(system_call(Call::Poll, word(entries.data()), entries.size(), static_cast<u64>(timeout_ms)))));
}

Result<void> set_option(i64 descriptor, abi::SocketOption option, u64 value)
{
    return nothing(system_call(Call::SetOption, static_cast<u64>(descriptor), static_cast<u64>(option), value));
}

Result<u64> get_option(i64 descriptor, abi::SocketOption option)
{
    return TRY(result_of(system_call(Call::GetOption, static_cast<u64>(descriptor), static_cast<u64>(option))));
}

} // namespace skiff::user

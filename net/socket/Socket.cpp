#include <net/socket/Socket.h>

namespace skiff::net {

u32 poll_sockets(PollEntry* entries, u32 count)
{
    u32 ready = 0;
    for (u32 i = 0; i < count; ++i) {
        PollEntry& entry = entries[i];
        entry.revents = entry.socket ? entry.socket->poll_events() & (entry.events | kPollErr | kPollHup) : 0;
        if (entry.revents)
            ++ready;
    }
    return ready;
}

} // namespace skiff::net

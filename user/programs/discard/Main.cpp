// discard: TCP discard on port 9 (RFC 863), or the port given. user/services/Service.h.

#include <user/runtime/Program.h>
#include <user/services/Service.h>

namespace skiff::user {

int main(Span<StringView const> arguments)
{
    return serve(Service::Discard, 9, arguments);
}

} // namespace skiff::user

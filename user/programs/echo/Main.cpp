// echo: TCP and UDP echo on port 7 (RFC 862), or the port given. user/services/Service.h.

#include <user/runtime/Program.h>
#include <user/services/Service.h>

namespace skiff::user {

int main(Span<StringView const> arguments)
{
    return serve(Service::Echo, 7, arguments);
}

} // namespace skiff::user

// sink: a ttcp/iperf sink on TCP port 5001, or the port given: everything received is counted and
// dropped. user/services/Service.h.

#include <user/runtime/Program.h>
#include <user/services/Service.h>

namespace skiff::user {

int main(Span<StringView const> arguments)
{
    return serve(Service::Sink, 5001, arguments);
}

} // namespace skiff::user

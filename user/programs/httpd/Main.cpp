// httpd: the web server (Server.h). Started by the kernel at boot with its listener on port 80
// already open as descriptor 3; started by hand (`run -b httpd 8080`) it opens its own.

#include <apps/httpd/Status.h>
#include <user/programs/httpd/Server.h>
#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

constexpr i64 kInheritedListener = 3;
constexpr u64 kListenState = 1; // SocketOption::State's LISTEN

bool is_tcp_listener(i64 descriptor)
{
    auto state = get_option(descriptor, abi::SocketOption::State);
    return !state.is_error() && state.value() == kListenState;
}

// The listener as the kernel makes it at boot (kernel side: apps/httpd/HttpdCommand.cpp).
Result<i64> open_listener(u16 port)
{
    i64 descriptor = TRY(socket(abi::SocketType::Stream));
    auto ready = [&]() -> Result<void> {
        TRY(bind(descriptor, { 0, port }));
        TRY(set_option(descriptor, abi::SocketOption::SendBuffer, skiff::httpd::kSendBuffer));
        u64 window = TRY(get_option(descriptor, abi::SocketOption::ReceiveBuffer));
        TRY(set_option(descriptor, abi::SocketOption::ReceiveBuffer, min<u64>(window, skiff::httpd::kReceiveWindow)));
        TRY(set_option(descriptor, abi::SocketOption::ZeroCopy, 0)); // heads are copied; files go by reference
        TRY(set_option(descriptor, abi::SocketOption::NoDelay, 1));  // a response's last segment at once
        return listen(descriptor, skiff::httpd::kBacklog);
    }();
    if (ready.is_error()) {
        (void)close(descriptor);
        return ready.error();
    }
    return descriptor;
}

} // namespace

int main(Span<StringView const> arguments)
{
    i64 listener = kInheritedListener;
    if (!is_tcp_listener(kInheritedListener)) {
        u64 port = 8080;
        if (arguments.size() > 2
            || (arguments.size() == 2 && (!parse_u64(arguments[1], port) || !port || port > 65535))) {
            println("usage: httpd [port]   (default 8080; the boot-time server has port 80)");
            return 2;
        }
        auto opened = open_listener(static_cast<u16>(port));
        if (opened.is_error()) {
            println("httpd: TCP port {}: {}", port, opened.error());
            return 1;
        }
        listener = opened.value();
        println("httpd: serving on port {} as task {}", port, task_id());
    }
    return httpd::serve(listener);
}

} // namespace skiff::user

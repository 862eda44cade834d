#pragma once

// The boot-time network services as user programs: TCP and UDP echo (RFC 862), TCP discard
// (RFC 863) and a ttcp/iperf sink (everything received is counted and dropped). One task per
// service, each event-driven: one thread polls the listener and its connections and does what
// they allow without blocking.
//
// Started by the kernel at boot (kernel/net/NetServices.cpp) with the listening sockets already
// open as descriptors 3 (TCP) and 4 (UDP, echo only), so the ports answer from the first moment;
// started by hand (`run -b echo 7007`) it opens its own.

#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::user {

enum class Service : u8 { Echo, Discard, Sink };

int serve(Service service, u16 default_port, Span<StringView const> arguments);

} // namespace skiff::user

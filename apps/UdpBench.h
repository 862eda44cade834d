#pragma once

namespace skiff::apps {

// `udpbench`: UDP transmit by socket, copy, mapped kernel buffer and scatter/gather (van Rantwijk, docs/references.md).
// Registered with the profiling commands (apps/ProfileCommands.cpp).
void register_udpbench_command();

} // namespace skiff::apps

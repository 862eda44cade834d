#pragma once

// Whether copy elimination is compiled into the stack (CMake option SKIFF_NET_COPY_ELIMINATION,
// default on). Off, the zero-copy branches of TCP send and receive are constant-false and the
// compiler leaves them out: the build that measures what the mechanism costs in code (LyraNET
// Table 2, docs/EVALUATION.md). At run time copy elimination is a socket option either way.

#ifndef SKIFF_NET_COPY_ELIMINATION
#define SKIFF_NET_COPY_ELIMINATION 1
#endif

namespace skiff::net {

inline constexpr bool kCopyElimination = SKIFF_NET_COPY_ELIMINATION != 0;

} // namespace skiff::net

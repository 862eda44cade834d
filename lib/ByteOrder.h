#pragma once

#include <lib/Types.h>

namespace skiff {

// Network byte order helpers that read and write through byte pointers, never by casting a struct
// over untrusted bytes. The compiler turns these into single loads plus bswap.
inline u16 load_be16(u8 const* p)
{
    return static_cast<u16>((p[0] << 8) | p[1]);
}
inline u32 load_be32(u8 const* p)
{
    return (static_cast<u32>(p[0]) << 24) | (static_cast<u32>(p[1]) << 16) | (static_cast<u32>(p[2]) << 8) | p[3];
}
inline void store_be16(u8* p, u16 v)
{
    p[0] = static_cast<u8>(v >> 8);
    p[1] = static_cast<u8>(v);
}
inline void store_be32(u8* p, u32 v)
{
    p[0] = static_cast<u8>(v >> 24);
    p[1] = static_cast<u8>(v >> 16);
    p[2] = static_cast<u8>(v >> 8);
    p[3] = static_cast<u8>(v);
}
inline u16 load_le16(u8 const* p)
{
    return static_cast<u16>(p[0] | (p[1] << 8));
}
inline u32 load_le32(u8 const* p)
{
    return static_cast<u32>(p[0]) | (static_cast<u32>(p[1]) << 8) | (static_cast<u32>(p[2]) << 16)
        | (static_cast<u32>(p[3]) << 24);
}

} // namespace skiff

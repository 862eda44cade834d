#include <net/SendFile.h>

namespace skiff::net {

Result<u64> clip_file_range(FileFrames const& file, u64 offset, u64 length)
{
    u64 size = file.size();
    if (offset > size)
        return Error::InvalidArgument;
    return min(length, size - offset);
}

FramePiece file_piece(FileFrames const& file, u64 offset, u64 limit)
{
    VERIFY(offset < file.size() && limit > 0);
    FrameAddress where = file.locate(offset);
    u64 to_frame_end = kPageSize - (where.phys & (kPageSize - 1));
    u64 length = min(min(limit, to_frame_end), file.size() - offset);
    return { where.virt, where.phys, static_cast<u32>(length) };
}

Result<u32> build_file_pieces(FileFrames const& file, u64 offset, u64 length, Span<FramePiece> out, u64* covered)
{
    u64 remaining = TRY(clip_file_range(file, offset, length));
    u32 count = 0;
    u64 done = 0;
    while (remaining && count < out.size()) {
        FramePiece piece = file_piece(file, offset + done, remaining);
        out[count++] = piece;
        done += piece.length;
        remaining -= piece.length;
    }
    if (covered)
        *covered = done;
    return count;
}

} // namespace skiff::net

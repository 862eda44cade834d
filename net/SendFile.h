#pragma once

// sendfile: data that lies in frames the OS owns — a file's pages — sent by reference, the third
// zero-copy path beside pinned application pages and remapped receive pages (docs/zero-copy.md).
//
// The stack needs three things of such data, and nothing else: where each byte is for the CPU (a
// kernel address: checksums in software, drivers that cannot gather), where it is for a DMA engine
// (its physical address), and a frame to hold a reference on while a packet buffer points into
// it (Port::ref_page/unref_page: FrameKind::Page). The OS describes the object through FileFrames;
// the stack cuts the range it is asked for into FramePieces, none crossing a 4 KiB frame (a DMA
// piece is physically contiguous, LyraNET §3.4), and TCP hangs them on its send-queue buffers as
// seg[] pieces (TcpSocket::send_file). Nobody writes these frames, so there is no pin and no
// copy-on-write: a reference keeps the frame, and its bytes, for as long as a buffer needs them
// (retransmissions read the same frames).

#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>
#include <net/Port.h>

namespace skiff::net {

// Where one byte of a FileFrames lies.
struct FrameAddress {
    u8 const* virt { nullptr }; // the kernel's address (read-only)
    u64 phys { 0 };             // the DMA address
};

// A read-only object whose bytes lie in reference-counted frames (a file of the boot archive).
// Implemented by the OS. The bytes from locate(offset) to the end of that byte's 4 KiB physical
// frame (or to the end of the object) are contiguous both at `virt` and at `phys`; the frames may
// otherwise lie anywhere. The object's owner keeps every frame alive while it exists; the stack
// takes its own reference per piece for as long as a packet buffer holds the piece.
class FileFrames {
public:
    virtual u64 size() const = 0;
    virtual FrameAddress locate(u64 offset) const = 0; // offset < size()

protected:
    ~FileFrames() = default;
};

// One piece of a FileFrames range: never crosses a 4 KiB frame.
struct FramePiece {
    u8 const* virt { nullptr };
    u64 phys { 0 };
    u32 length { 0 };
    u64 frame() const { return phys & ~static_cast<u64>(kPageSize - 1); }
};

// The part of [offset, offset + length) that lies inside the object: a range that starts past the
// end is refused (Error::InvalidArgument); one that runs past the end is clipped there, as POSIX
// sendfile stops at end of file. Returns the byte count to send (0 for an empty range, or one
// starting exactly at the end).
Result<u64> clip_file_range(FileFrames const& file, u64 offset, u64 length);

// The piece at `offset` (< file.size()): up to `limit` bytes (> 0), to the end of its frame or of
// the object, whichever comes first.
FramePiece file_piece(FileFrames const& file, u64 offset, u64 limit);

// The pieces of [offset, offset + length), clipped as clip_file_range does, into `out`, as many
// as fit. Returns how many pieces were written; *covered (if given) is the bytes they hold, which
// is less than the clipped length only when `out` filled up.
Result<u32> build_file_pieces(
    FileFrames const& file, u64 offset, u64 length, Span<FramePiece> out, u64* covered = nullptr);

} // namespace skiff::net

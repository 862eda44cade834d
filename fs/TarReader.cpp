#include <fs/TarReader.h>

namespace skiff::fs {

namespace {

// ustar header fields (POSIX.1-2008, pax, "ustar Interchange Format"): offset, width.
constexpr usize kNameOffset = 0, kNameWidth = 100;
constexpr usize kModeOffset = 100, kModeWidth = 8;
constexpr usize kSizeOffset = 124, kSizeWidth = 12;
constexpr usize kMtimeOffset = 136, kMtimeWidth = 12;
constexpr usize kChecksumOffset = 148, kChecksumWidth = 8;
constexpr usize kTypeOffset = 156;
constexpr usize kMagicOffset = 257;
constexpr usize kPrefixOffset = 345, kPrefixWidth = 155;
// A pax header of ours is at most a block of padding; real writers stay far below this.
constexpr u64 kMaxPaxHeader = 64 * 1024;

bool all_zero(u8 const* block)
{
    for (usize i = 0; i < kTarBlockSize; ++i) {
        if (block[i])
            return false;
    }
    return true;
}

bool bytes_equal(u8 const* bytes, char const* text, usize length)
{
    for (usize i = 0; i < length; ++i) {
        if (bytes[i] != static_cast<u8>(text[i]))
            return false;
    }
    return true;
}

enum class NumberStatus : u8 { Ok, Malformed, Base256 };

// An octal field: optional leading spaces, octal digits, then spaces or NULs to the end of the
// field. An empty field reads as 0. GNU tar's base-256 form (high bit of the first byte set) is
// reported as such: it only appears for values that do not fit the octal field.
NumberStatus parse_octal(u8 const* field, usize width, u64& out)
{
    usize i = 0;
    while (i < width && field[i] == ' ')
        ++i;
    if (i < width && (field[i] & 0x80))
        return NumberStatus::Base256;
    u64 value = 0;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
        if (value >> 61)
            return NumberStatus::Malformed;
        value = value * 8 + (field[i] - '0');
    }
    for (; i < width; ++i) {
        if (field[i] != ' ' && field[i] != 0)
            return NumberStatus::Malformed;
    }
    out = value;
    return NumberStatus::Ok;
}

// A NUL-terminated (or full-width) string field's length.
usize field_length(u8 const* field, usize width)
{
    usize length = 0;
    while (length < width && field[length])
        ++length;
    return length;
}

bool parse_decimal(StringView text, u64& out)
{
    if (text.is_empty())
        return false;
    u64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        u64 digit = static_cast<u64>(c - '0');
        if (value > (~0ull - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    out = value;
    return true;
}

} // namespace

Error TarReader::fail(char const* problem, u64 offset)
{
    m_problem = problem;
    m_problem_offset = offset;
    return Error::Malformed;
}

Result<void> TarReader::read_pax_records(u64 data_offset, u64 size, Pending& pending)
{
    if (size > kMaxPaxHeader)
        return fail("a pax extended header larger than 64 KiB", data_offset);
    auto const* data = reinterpret_cast<char const*>(m_archive.data() + data_offset);
    u64 position = 0;
    while (position < size) {
        // "LENGTH key=value\n", LENGTH in decimal counting the whole record.
        u64 digits_end = position;
        while (digits_end < size && digits_end - position < 20 && data[digits_end] != ' ')
            ++digits_end;
        u64 length = 0;
        if (digits_end >= size || !parse_decimal({ data + position, digits_end - position }, length))
            return fail("a pax record with a bad length", data_offset + position);
        if (length > size - position || length < digits_end - position + 4 || data[position + length - 1] != '\n')
            return fail("a pax record that does not fit its header or lacks its newline", data_offset + position);
        StringView record(data + digits_end + 1, position + length - 1 - (digits_end + 1));
        i64 equals = record.find('=');
        if (equals <= 0)
            return fail("a pax record without 'key='", data_offset + position);
        StringView key = record.substring(0, static_cast<usize>(equals));
        StringView value = record.substring(static_cast<usize>(equals) + 1);
        if (key == "path") {
            if (value.length() >= kMaxArchivePath || value.find('\0') >= 0)
                return fail("a pax path longer than 255 bytes or holding a NUL", data_offset + position);
            for (usize i = 0; i < value.length(); ++i)
                pending.path[i] = value[i];
            pending.path[value.length()] = 0;
            pending.path_length = value.length();
            pending.has_path = true;
        } else if (key == "size") {
            if (!parse_decimal(value, pending.size))
                return fail("a pax size that is not a decimal number", data_offset + position);
            pending.has_size = true;
        } else if (key == "mtime") {
            // Seconds, maybe with a fraction; before 1970 reads as 0.
            i64 dot = value.find('.');
            StringView whole = dot < 0 ? value : value.substring(0, static_cast<usize>(dot));
            u64 seconds = 0;
            if (!whole.is_empty() && whole[0] == '-') {
                seconds = 0;
            } else if (!parse_decimal(whole, seconds)) {
                return fail("a pax mtime that is not a number", data_offset + position);
            }
            pending.mtime = seconds;
            pending.has_mtime = true;
        }
        // Everything else (comment, atime, uid, uname, ...) does not matter to a read-only store.
        position += length;
    }
    return {};
}

Result<bool> TarReader::next(TarEntry& entry)
{
    if (m_problem)
        return Error::Malformed;
    if (m_ended)
        return false;
    u64 const total = m_archive.size();
    u8 const* const base = m_archive.data();
    Pending pending;
    bool after_extension = false; // a pax or GNU long-name header waits for its member
    while (true) {
        if (m_offset == total)
            return fail("the archive ends without its end-of-archive blocks (truncated?)", m_offset);
        if (total - m_offset < kTarBlockSize)
            return fail("the archive ends inside a header block (truncated?)", m_offset);
        u8 const* header = base + m_offset;
        if (all_zero(header)) {
            // Two zero blocks end the archive. A lone one at the very end is accepted, as GNU tar
            // does; one followed by more headers is damage, not an end.
            if (after_extension)
                return fail("an extended header is not followed by its member", m_offset);
            u64 after = m_offset + kTarBlockSize;
            if (total - after >= kTarBlockSize && !all_zero(base + after))
                return fail("a zero block between members (corrupt?)", m_offset);
            m_ended = true;
            return false;
        }

        // The magic first: a file that is not tar at all is named as such, not as a bad checksum.
        bool posix = bytes_equal(header + kMagicOffset,
            "ustar\0"
            "00",
            8);
        bool gnu = bytes_equal(header + kMagicOffset, "ustar  \0", 8);
        if (!posix && !gnu)
            return fail("a header without the ustar magic (not a ustar/pax archive)", m_offset);

        // POSIX: the checksum is the sum of the header's bytes as unsigned values, with the
        // checksum field itself taken as eight spaces. Some old writers summed signed chars.
        u64 stored = 0;
        if (parse_octal(header + kChecksumOffset, kChecksumWidth, stored) != NumberStatus::Ok)
            return fail("a header whose checksum field is not octal", m_offset);
        u64 unsigned_sum = 0;
        i64 signed_sum = 0;
        for (usize i = 0; i < kTarBlockSize; ++i) {
            u8 byte = (i >= kChecksumOffset && i < kChecksumOffset + kChecksumWidth) ? ' ' : header[i];
            unsigned_sum += byte;
            signed_sum += static_cast<i8>(byte);
        }
        if (stored != unsigned_sum && static_cast<i64>(stored) != signed_sum)
            return fail("a header checksum mismatch (corrupt header)", m_offset);

        u64 size = 0, mtime = 0, mode = 0;
        auto size_status = parse_octal(header + kSizeOffset, kSizeWidth, size);
        if (size_status == NumberStatus::Base256)
            return fail("a base-256 size (a member over 8 GiB) is not supported", m_offset);
        if (size_status != NumberStatus::Ok)
            return fail("a header whose size field is not octal", m_offset);
        if (parse_octal(header + kMtimeOffset, kMtimeWidth, mtime) != NumberStatus::Ok)
            mtime = 0; // a base-256 or odd mtime only loses the date
        if (parse_octal(header + kModeOffset, kModeWidth, mode) != NumberStatus::Ok)
            return fail("a header whose mode field is not octal", m_offset);
        char type = static_cast<char>(header[kTypeOffset]);
        if (pending.has_size && type != 'x' && type != 'g' && type != 'L' && type != 'K')
            size = pending.size;

        u64 data_offset = m_offset + kTarBlockSize;
        if (size > total - data_offset || align_up(size, kTarBlockSize) > total - data_offset)
            return fail("a member's data runs past the end of the archive (truncated?)", m_offset);
        u64 next_offset = data_offset + align_up(size, kTarBlockSize);

        if (type == 'x') {
            TRY(read_pax_records(data_offset, size, pending));
            after_extension = true;
            m_offset = next_offset;
            continue;
        }
        if (type == 'g' || type == 'K') {
            // pax global header (nothing in it matters here); GNU long link name (links are skipped).
            m_offset = next_offset;
            continue;
        }
        if (type == 'L') {
            // GNU long name: the data is the next member's name.
            usize length = field_length(base + data_offset, static_cast<usize>(min<u64>(size, kMaxArchivePath)));
            if (length == 0 || length >= kMaxArchivePath)
                return fail("a GNU long name that is empty or longer than 255 bytes", m_offset);
            for (usize i = 0; i < length; ++i)
                pending.path[i] = static_cast<char>(base[data_offset + i]);
            pending.path[length] = 0;
            pending.path_length = length;
            pending.has_path = true;
            after_extension = true;
            m_offset = next_offset;
            continue;
        }

        entry = TarEntry {};
        switch (type) {
        case '0':
        case '\0':
        case '7': entry.kind = EntryKind::File; break; // '7': contiguous file, a regular file to readers
        case '5': entry.kind = EntryKind::Directory; break;
        default: entry.kind = EntryKind::Other; break; // links, devices, FIFOs, vendor types
        }
        if (pending.has_path) {
            for (usize i = 0; i <= pending.path_length; ++i)
                entry.path[i] = pending.path[i];
            entry.path_length = pending.path_length;
        } else {
            // POSIX ustar: prefix "/" name, when the prefix is set (old GNU headers use that
            // space for other fields, so only the POSIX magic has one).
            usize length = 0;
            usize prefix_length = posix ? field_length(header + kPrefixOffset, kPrefixWidth) : 0;
            for (usize i = 0; i < prefix_length; ++i)
                entry.path[length++] = static_cast<char>(header[kPrefixOffset + i]);
            if (prefix_length)
                entry.path[length++] = '/';
            usize name_length = field_length(header + kNameOffset, kNameWidth);
            for (usize i = 0; i < name_length; ++i)
                entry.path[length++] = static_cast<char>(header[kNameOffset + i]);
            entry.path[length] = 0;
            entry.path_length = length;
        }
        if (entry.path_length == 0)
            return fail("a member with an empty name", m_offset);
        entry.header_offset = m_offset;
        entry.data_offset = data_offset;
        entry.size = entry.kind == EntryKind::File ? size : 0;
        entry.mtime = pending.has_mtime ? pending.mtime : mtime;
        entry.mode = static_cast<u32>(mode & 07777);
        m_offset = next_offset;
        return true;
    }
}

} // namespace skiff::fs

#pragma once

// Builds ustar/pax archives byte by byte for the file-system tests, the way
// tools/build/make_archive.py lays out Skiff's archive (a pax `comment` record pads each file's
// data to a 4 KiB boundary), and lets a test break them on purpose.

#include <lib/Types.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace skiff::fs::testing {

class TarBuilder {
public:
    static constexpr usize kBlock = 512;

    // A ustar header block at the end of the archive; returns its offset.
    usize header(std::string const& name, char type, u64 size, u64 mtime = 1700000000, std::string const& prefix = "",
        bool gnu_magic = false)
    {
        usize offset = m_bytes.size();
        m_bytes.resize(offset + kBlock, 0);
        u8* h = m_bytes.data() + offset;
        std::memcpy(h, name.data(), std::min<usize>(name.size(), 100));
        octal(h + 100, 8, 0644);
        octal(h + 108, 8, 0);
        octal(h + 116, 8, 0);
        octal(h + 124, 12, size);
        octal(h + 136, 12, mtime);
        h[156] = static_cast<u8>(type);
        if (gnu_magic) {
            std::memcpy(h + 257, "ustar  ", 8);
        } else {
            std::memcpy(h + 257, "ustar", 6);
            std::memcpy(h + 263, "00", 2);
        }
        std::memcpy(h + 345, prefix.data(), std::min<usize>(prefix.size(), 155));
        seal(offset);
        return offset;
    }

    // Recomputes the checksum of the header at `offset` (after a test edited it).
    void seal(usize offset)
    {
        u8* h = m_bytes.data() + offset;
        std::memset(h + 148, ' ', 8);
        u32 sum = 0;
        for (usize i = 0; i < kBlock; ++i)
            sum += h[i];
        char text[8];
        std::snprintf(text, sizeof(text), "%06o", sum);
        std::memcpy(h + 148, text, 6);
        h[154] = 0;
        h[155] = ' ';
    }

    void data(std::string const& bytes)
    {
        m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
        m_bytes.resize((m_bytes.size() + kBlock - 1) / kBlock * kBlock, 0);
    }

    static std::string record(std::string const& key, std::string const& value)
    {
        std::string body = " " + key + "=" + value + "\n";
        usize length = body.size() + 1;
        while (std::to_string(length).size() + body.size() != length)
            ++length;
        return std::to_string(length) + body;
    }

    void pax(std::string const& records)
    {
        header("PaxHeader", 'x', records.size());
        data(records);
    }

    // A file; with `align`, a pax header first whose comment pads the data to a 4 KiB boundary.
    void file(std::string const& path, std::string const& content, bool align = false, u64 mtime = 1700000000)
    {
        if (align) {
            // Layout: [pax header][pax data, padded][file header][data at a 4 KiB boundary].
            usize here = m_bytes.size();
            usize data_at = (here + 3 * kBlock + 4095) / 4096 * 4096;
            usize pax_data = data_at - kBlock - (here + kBlock);
            std::string records;
            std::string fixed = path.size() > 100 ? record("path", path) : "";
            // The comment record fills pax_data bytes exactly (the data itself is not padded
            // further because its size is a whole number of blocks).
            usize comment_length = pax_data - fixed.size();
            std::string candidate;
            for (usize fill = comment_length; fill > 0; --fill) {
                candidate = record("comment", std::string(fill, 'x'));
                if (candidate.size() == comment_length)
                    break;
            }
            records = fixed + candidate;
            header("PaxHeader", 'x', records.size());
            data(records);
        } else if (path.size() > 100) {
            pax(record("path", path));
        }
        header(path.size() > 100 ? path.substr(0, 99) : path, '0', content.size(), mtime);
        data(content);
    }

    void directory(std::string const& path) { header(path, '5', 0); }

    void end() { m_bytes.resize(m_bytes.size() + 2 * kBlock, 0); }

    std::vector<u8>& bytes() { return m_bytes; }
    usize size() const { return m_bytes.size(); }

private:
    static void octal(u8* field, usize width, u64 value)
    {
        char text[24];
        std::snprintf(
            text, sizeof(text), "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
        std::memcpy(field, text, width - 1);
        field[width - 1] = 0;
    }

    std::vector<u8> m_bytes;
};

} // namespace skiff::fs::testing

#include <tools/faultrelay/FaultEngine.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace skiff::faultrelay {

namespace {

// The draws each frame consumes, always all of them, so frame n's fate depends on (seed, n) only.
enum Draw { kDrop, kCorrupt, kCorruptBit, kDuplicate, kHold, kJitter, kJitterCopy, kDrawCount };

bool chosen(uint64_t draw, uint32_t ppm)
{
    return ppm && (draw % kMillion) < ppm;
}

// Nanoseconds the link needs to serialise `bytes` at `bits_per_second`, rounded up.
uint64_t serialisation_ns(uint64_t bytes, uint64_t bits_per_second)
{
    // bytes * 8e9 overflows 64 bits only past 2 GB; frames are at most 64 KiB.
    return (bytes * 8ull * 1'000'000'000ull + bits_per_second - 1) / bits_per_second;
}

} // namespace

std::string FaultEvent::describe() const
{
    if (kind == Kind::RateDrop)
        return "rate-drop";
    if (dropped)
        return "drop";
    std::string text;
    auto add = [&](std::string const& part) {
        if (!text.empty())
            text += ' ';
        text += part;
    };
    char buffer[64];
    if (corrupted) {
        std::snprintf(buffer, sizeof buffer, "corrupt:bit=%u", corrupt_bit);
        add(buffer);
    }
    if (corrupt_skipped)
        add("corrupt-skipped:short");
    if (duplicated)
        add("dup");
    if (held)
        add("hold");
    if (release_ns > now_ns) {
        std::snprintf(buffer, sizeof buffer, "delay=%.3fms", static_cast<double>(release_ns - now_ns) / 1e6);
        add(buffer);
    }
    return text.empty() ? "pass" : text;
}

FaultEngine::FaultEngine(FaultConfig const& config, uint64_t seed)
    : m_config(config)
    , m_random(seed)
{
}

uint64_t FaultEngine::jittered_release(uint64_t now_ns, uint64_t jitter_draw)
{
    uint64_t release = now_ns + m_config.delay_ns;
    if (m_config.jitter_ns) {
        // Uniform in [-jitter, +jitter], clamped so nothing is released before it arrived.
        uint64_t span = 2 * m_config.jitter_ns + 1;
        int64_t offset = static_cast<int64_t>(jitter_draw % span) - static_cast<int64_t>(m_config.jitter_ns);
        if (offset < 0 && static_cast<uint64_t>(-offset) > release - now_ns)
            release = now_ns;
        else
            release = static_cast<uint64_t>(static_cast<int64_t>(release) + offset);
    }
    if (m_config.keep_order) {
        release = std::max(release, m_last_release_ns);
        m_last_release_ns = release;
    }
    return release;
}

void FaultEngine::schedule(Delayed item)
{
    // Sorted by (release, order): equal release times keep submission order.
    auto position = std::upper_bound(m_delayed.begin(), m_delayed.end(), item, [](Delayed const& a, Delayed const& b) {
        return a.release_ns != b.release_ns ? a.release_ns < b.release_ns : a.order < b.order;
    });
    if (position == m_delayed.end())
        m_delayed.push_back(std::move(item));
    else
        m_delayed.insert(position, std::move(item));
}

void FaultEngine::submit(Frame frame, uint64_t now_ns)
{
    uint64_t draws[kDrawCount];
    for (uint64_t& draw : draws)
        draw = m_random.next();

    FaultEvent event;
    event.now_ns = now_ns;
    event.sequence = m_next_sequence++;
    event.length = static_cast<uint32_t>(frame.size());
    ++m_counters.received;
    m_counters.received_bytes += frame.size();

    if (chosen(draws[kDrop], m_config.drop_ppm)) {
        event.dropped = true;
        ++m_counters.dropped;
        if (m_logger)
            m_logger(event);
        return;
    }

    if (chosen(draws[kCorrupt], m_config.corrupt_ppm)) {
        if (frame.size() > kEthernetHeaderLength) {
            // A bit in [14 * 8, size * 8): never the addresses or the EtherType.
            uint64_t payload_bits = (frame.size() - kEthernetHeaderLength) * 8;
            uint32_t bit = static_cast<uint32_t>(kEthernetHeaderLength * 8 + draws[kCorruptBit] % payload_bits);
            frame[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            event.corrupted = true;
            event.corrupt_bit = bit;
            ++m_counters.corrupted;
        } else {
            event.corrupt_skipped = true;
            ++m_counters.corrupt_skipped;
        }
    }

    event.duplicated = chosen(draws[kDuplicate], m_config.duplicate_ppm);
    event.held = chosen(draws[kHold], m_config.reorder_ppm);
    event.release_ns = jittered_release(now_ns, draws[kJitter]);
    if (event.release_ns > now_ns)
        ++m_counters.delayed;
    if (event.held)
        ++m_counters.held;

    if (event.duplicated) {
        ++m_counters.duplicated;
        // The copy is not held back itself: when the original is, the copy overtakes it, which
        // is exactly the "duplicate arrives first" case a receiver must handle.
        uint64_t copy_release = jittered_release(now_ns, draws[kJitterCopy]);
        schedule({ event.release_ns, m_next_order++, event.sequence, event.held, frame });
        schedule({ copy_release, m_next_order++, event.sequence, false, std::move(frame) });
    } else {
        schedule({ event.release_ns, m_next_order++, event.sequence, event.held, std::move(frame) });
    }
    if (m_logger)
        m_logger(event);
}

void FaultEngine::enter_link(Frame frame, uint64_t at_ns, uint64_t sequence)
{
    if (!m_config.rate_bits_per_second) {
        m_link.push_back({ at_ns, std::move(frame) });
        return;
    }
    uint64_t start = std::max(at_ns, m_link_free_ns);
    uint64_t queue_limit_ns = serialisation_ns(m_config.queue_bytes, m_config.rate_bits_per_second);
    if (start - at_ns > queue_limit_ns) {
        ++m_counters.rate_dropped;
        if (m_logger) {
            FaultEvent event;
            event.kind = FaultEvent::Kind::RateDrop;
            event.now_ns = at_ns;
            event.sequence = sequence;
            event.length = static_cast<uint32_t>(frame.size());
            m_logger(event);
        }
        return;
    }
    m_link_free_ns = start + serialisation_ns(frame.size(), m_config.rate_bits_per_second);
    m_link.push_back({ m_link_free_ns, std::move(frame) });
}

void FaultEngine::leave_delay_stage(Delayed item, uint64_t at_ns)
{
    if (item.hold) {
        m_held.push_back({ item.order, at_ns + m_config.reorder_max_ns, m_config.reorder_gap, std::move(item.frame) });
        return;
    }
    uint64_t order = item.order;
    enter_link(std::move(item.frame), at_ns, item.sequence);
    // This frame has overtaken every frame held back before it: count it against their gap and
    // release, right behind it, those that have now been overtaken often enough.
    for (size_t i = 0; i < m_held.size();) {
        Held& held = m_held[i];
        if (held.order < order && held.remaining > 0 && --held.remaining == 0) {
            Frame frame = std::move(held.frame);
            m_held.erase(m_held.begin() + static_cast<long>(i));
            enter_link(std::move(frame), at_ns, 0);
            continue;
        }
        ++i;
    }
}

void FaultEngine::poll(uint64_t now_ns, std::vector<Frame>& out)
{
    for (;;) {
        uint64_t link_due = m_link.empty() ? kNever : m_link.front().departure_ns;
        uint64_t delayed_due = m_delayed.empty() ? kNever : m_delayed.front().release_ns;
        size_t held_index = m_held.size();
        uint64_t held_due = kNever;
        for (size_t i = 0; i < m_held.size(); ++i) {
            if (m_held[i].deadline_ns < held_due) {
                held_due = m_held[i].deadline_ns;
                held_index = i;
            }
        }
        uint64_t due = std::min({ link_due, delayed_due, held_due });
        if (due == kNever || due > now_ns)
            return;
        // Ties: finish what is already on the link, then release expired holds (they were
        // waiting longest), then move delayed frames on.
        if (link_due == due) {
            Frame& frame = m_link.front().frame;
            ++m_counters.forwarded;
            m_counters.forwarded_bytes += frame.size();
            out.push_back(std::move(frame));
            m_link.pop_front();
        } else if (held_due == due) {
            Frame frame = std::move(m_held[held_index].frame);
            m_held.erase(m_held.begin() + static_cast<long>(held_index));
            enter_link(std::move(frame), due, 0);
        } else {
            Delayed item = std::move(m_delayed.front());
            m_delayed.pop_front();
            leave_delay_stage(std::move(item), due);
        }
    }
}

uint64_t FaultEngine::next_deadline() const
{
    uint64_t next = kNever;
    if (!m_link.empty())
        next = std::min(next, m_link.front().departure_ns);
    if (!m_delayed.empty())
        next = std::min(next, m_delayed.front().release_ns);
    for (Held const& held : m_held)
        next = std::min(next, held.deadline_ns);
    return next;
}

// --- command-line values ---

namespace {

// A non-negative decimal number followed by an optional suffix; false if anything else.
bool split_number(std::string const& text, double& number, std::string& suffix)
{
    if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.'))
        return false;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || !std::isfinite(value) || value < 0)
        return false;
    suffix.clear();
    for (char const* p = end; *p; ++p)
        suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    number = value;
    return true;
}

} // namespace

bool parse_percent_ppm(std::string const& text, uint32_t& out)
{
    double value;
    std::string suffix;
    if (!split_number(text, value, suffix) || !(suffix.empty() || suffix == "%") || value > 100.0)
        return false;
    out = static_cast<uint32_t>(std::llround(value * kPpmPerPercent));
    return true;
}

bool parse_milliseconds_ns(std::string const& text, uint64_t& out)
{
    double value;
    std::string suffix;
    if (!split_number(text, value, suffix) || !(suffix.empty() || suffix == "ms") || value > 3.6e6)
        return false;
    out = static_cast<uint64_t>(std::llround(value * 1e6));
    return true;
}

bool parse_rate_bits(std::string const& text, uint64_t& out)
{
    double value;
    std::string suffix;
    if (!split_number(text, value, suffix))
        return false;
    if (suffix.size() > 3 && suffix.compare(suffix.size() - 3, 3, "bit") == 0)
        suffix.resize(suffix.size() - 3);
    else if (suffix == "bit")
        suffix.clear();
    double scale;
    if (suffix.empty())
        scale = 1;
    else if (suffix == "k")
        scale = 1e3;
    else if (suffix == "m")
        scale = 1e6;
    else if (suffix == "g")
        scale = 1e9;
    else
        return false;
    double bits = value * scale;
    if (bits < 1 || bits > 1e12)
        return false;
    out = static_cast<uint64_t>(std::llround(bits));
    return true;
}

bool parse_bytes(std::string const& text, uint64_t& out)
{
    double value;
    std::string suffix;
    if (!split_number(text, value, suffix))
        return false;
    double scale;
    if (suffix.empty() || suffix == "b")
        scale = 1;
    else if (suffix == "k" || suffix == "kib")
        scale = 1024;
    else if (suffix == "m" || suffix == "mib")
        scale = 1024 * 1024;
    else
        return false;
    double bytes = value * scale;
    if (bytes < 1 || bytes > 1e10)
        return false;
    out = static_cast<uint64_t>(std::llround(bytes));
    return true;
}

} // namespace skiff::faultrelay

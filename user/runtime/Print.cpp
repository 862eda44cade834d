#include <user/runtime/Print.h>
#include <user/runtime/System.h>

namespace skiff::user {

void WriteSink::write(char const* chars, usize length)
{
    while (length) {
        if (m_length == kCapacity)
            flush();
        usize n = min(length, kCapacity - m_length);
        __builtin_memcpy(m_buffer + m_length, chars, n);
        m_length += n;
        chars += n;
        length -= n;
    }
}

void WriteSink::flush()
{
    if (m_length)
        (void)user::write(m_descriptor, { reinterpret_cast<u8 const*>(m_buffer), m_length });
    m_length = 0;
}

} // namespace skiff::user

#include <kernel/syscall/Descriptors.h>

#include <kernel/base/Arch.h>
#include <kernel/net/Network.h>
#include <kernel/syscall/PacketRing.h>
#include <kernel/task/Task.h>
#include <lib/Abi.h>
#include <net/tcp/TcpSocket.h>
#include <net/udp/UdpSocket.h>

namespace skiff::syscall {

using arch::InterruptDisabler;

Result<DescriptorTable*> DescriptorTable::of(task::Task& task)
{
    if (task.descriptors)
        return task.descriptors;
    auto* table = new (std::nothrow) DescriptorTable;
    if (!table)
        return Error::NoMemory;
    InterruptDisabler disabler;
    if (task.descriptors) {
        delete table; // another thread of the task made it meanwhile
        return task.descriptors;
    }
    task.descriptors = table;
    return table;
}

Result<i64> DescriptorTable::add(Descriptor* descriptor)
{
    InterruptDisabler disabler;
    for (u32 slot = 0; slot < kSlots; ++slot) {
        if (!m_slots[slot]) {
            m_slots[slot] = descriptor;
            return static_cast<i64>(slot + abi::kFirstDescriptor);
        }
    }
    return Error::LimitReached;
}

Descriptor* DescriptorTable::acquire(i64 number)
{
    if (number < abi::kFirstDescriptor || number >= static_cast<i64>(abi::kFirstDescriptor + kSlots))
        return nullptr;
    InterruptDisabler disabler;
    Descriptor* descriptor = m_slots[number - abi::kFirstDescriptor];
    if (descriptor)
        ++descriptor->references;
    return descriptor;
}

void DescriptorTable::release(Descriptor* descriptor)
{
    {
        InterruptDisabler disabler;
        VERIFY(descriptor->references > 0);
        if (--descriptor->references > 0)
            return;
    }
    close_now(*descriptor);
    delete descriptor;
}

Result<Descriptor*> DescriptorTable::take(i64 number)
{
    if (number < abi::kFirstDescriptor || number >= static_cast<i64>(abi::kFirstDescriptor + kSlots))
        return Error::BadDescriptor;
    InterruptDisabler disabler;
    Descriptor* descriptor = m_slots[number - abi::kFirstDescriptor];
    if (!descriptor)
        return Error::BadDescriptor;
    m_slots[number - abi::kFirstDescriptor] = nullptr;
    return descriptor;
}

void DescriptorTable::close_all()
{
    for (u32 slot = 0; slot < kSlots; ++slot) {
        Descriptor* descriptor;
        {
            InterruptDisabler disabler;
            descriptor = m_slots[slot];
            m_slots[slot] = nullptr;
        }
        if (descriptor)
            release(descriptor);
    }
}

u32 DescriptorTable::socket_owners(SocketOwner* owners, u32 capacity)
{
    struct Walk {
        SocketOwner* owners;
        u32 capacity;
        u32 count;
    } walk { owners, capacity, 0 };
    task::for_each_task(
        [](task::Task& task, void* context) {
            auto& walk = *static_cast<Walk*>(context);
            if (!task.descriptors)
                return;
            for (auto* descriptor : task.descriptors->m_slots) {
                if (!descriptor || descriptor->kind == DescriptorKind::Ping || descriptor->kind == DescriptorKind::Ring
                    || descriptor->kind == DescriptorKind::File || walk.count == walk.capacity)
                    continue;
                auto& owner = walk.owners[walk.count++];
                owner.socket = descriptor->kind == DescriptorKind::Tcp ? static_cast<void const*>(descriptor->tcp)
                                                                       : static_cast<void const*>(descriptor->udp);
                owner.task_id = task.id();
                __builtin_memcpy(owner.task_name, task.name(), sizeof(owner.task_name));
                owner.kind = descriptor->kind;
            }
        },
        &walk);
    return walk.count;
}

DescriptorTable::~DescriptorTable()
{
    delete m_poll_scratch;
}

DescriptorTable::PollScratch* DescriptorTable::take_poll_scratch()
{
    {
        InterruptDisabler disabler;
        if (m_poll_scratch && !m_poll_scratch_taken) {
            m_poll_scratch_taken = true;
            return m_poll_scratch;
        }
    }
    auto* scratch = new (std::nothrow) PollScratch;
    if (!scratch)
        return nullptr;
    InterruptDisabler disabler;
    if (!m_poll_scratch) { // the first: the table keeps it
        m_poll_scratch = scratch;
        m_poll_scratch_taken = true;
    }
    return scratch;
}

void DescriptorTable::give_back_poll_scratch(PollScratch* scratch)
{
    {
        InterruptDisabler disabler;
        if (scratch == m_poll_scratch) {
            m_poll_scratch_taken = false;
            return;
        }
    }
    delete scratch; // a second poller's own
}

u32 DescriptorTable::open_count() const
{
    InterruptDisabler disabler;
    u32 count = 0;
    for (auto* descriptor : m_slots)
        count += descriptor != nullptr;
    return count;
}

void DescriptorTable::close_now(Descriptor& descriptor)
{
    switch (descriptor.kind) {
    case DescriptorKind::Tcp: {
        knet::StackLocker locker;
        descriptor.tcp->set_waiter(nullptr);
        // Graceful: queued data and the FIN go out behind the close (or RST if unread data is
        // discarded, RFC 2525 §2.17). Pinned pages stay pinned until acknowledged: the pins hold
        // the frames, whatever becomes of the task.
        descriptor.tcp->close();
        // The FIN went out (or a reset): the thread looks sooner only for a timer due before its
        // planned look. A connection closed for good has none.
        knet::wake_network_thread_by(descriptor.tcp->next_deadline().ns());
        return;
    }
    case DescriptorKind::Udp: {
        knet::StackLocker locker;
        descriptor.udp->set_waiter(nullptr);
        descriptor.udp->close();
        break;
    }
    case DescriptorKind::Ping: break;
    case DescriptorKind::Ring: close_packet_ring(descriptor.ring); break;
    case DescriptorKind::File: return; // nothing to close: the archive stays mounted
    }
    knet::wake_network_thread();
}

} // namespace skiff::syscall

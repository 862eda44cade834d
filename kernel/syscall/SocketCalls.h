#pragma once

// The socket calls of lib/Abi.h (16-29), for kernel/syscall/SystemCalls.cpp.

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::net {
class TcpSocket;
class UdpSocket;
} // namespace skiff::net

namespace skiff::task {
class Task;
}

namespace skiff::syscall {

// `arguments` are the call's six registers.
i64 socket_call(abi::Call call, task::Task& task, u64 const* arguments);
// Write on a socket descriptor: Send without flags.
i64 write_socket(task::Task& task, i64 descriptor, uptr buffer, u64 length);

// Gives a socket the kernel opened to a task as its next descriptor (the boot-time services'
// listeners, before the task runs). The task owns it from here on, closed with the task.
Result<i64> adopt_socket(task::Task& task, net::TcpSocket* socket);
Result<i64> adopt_socket(task::Task& task, net::UdpSocket* socket);

} // namespace skiff::syscall

#pragma once

namespace skiff::apps {

// Registers every console command, subsystem by subsystem (apps/Apps.cpp). Explicit calls, no
// global constructors: the list of what the console offers is readable in one place.
void register_all_commands();

void register_system_commands();    // help, version, uptime, reboot, poweroff, crash
void register_profile_commands();   // prof
void register_network_commands();   // ifconfig, arp, netstat, nicstat, lspci, ping, dmatest
void register_core_commands();      // ps, mem, selftest, membench (apps/CoreCommands.cpp)
void register_ttcp_commands();      // ttcp (apps/ttcp/TtcpCommand.cpp, docs/ttcp.md)
void register_resource_commands();  // resources, stats (apps/ResourceCommands.cpp)
void register_zero_copy_commands(); // zc (apps/ZeroCopyCommands.cpp, docs/zero-copy.md)
void register_file_commands();      // ls, cat, stat (apps/FileCommands.cpp)
void register_task_commands();      // run, kill, programs, tasks (apps/TaskCommands.cpp)
void register_httpd_commands();     // httpd (apps/httpd/HttpdCommand.cpp, docs/httpd.md)

// The applications that run from boot: the web server on port 80 (apps/httpd/). Call after the
// network and the file archive are up.
void start_boot_services();

} // namespace skiff::apps

#include <apps/Apps.h>

namespace skiff::apps {

void register_all_commands()
{
    register_system_commands();
    register_core_commands();
    register_profile_commands();
    register_network_commands();
    register_ttcp_commands();
    register_resource_commands();
    register_zero_copy_commands();
    register_file_commands();
    register_task_commands();
    register_httpd_commands();
}

} // namespace skiff::apps

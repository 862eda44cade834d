// Network console commands: ifconfig, arp, netstat, tcp, nicstat, lspci (and ping in apps/Ping.cpp,
// dmatest in apps/DmaSplitTest.cpp).

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <kernel/Time.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/NetServices.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>
#include <kernel/syscall/Descriptors.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::apps {

using console::Arguments;

IpText::IpText(net::Ipv4Address address)
{
    address.to_string(m_text, sizeof(m_text));
}

MacText::MacText(net::MacAddress const& mac)
{
    format_to(m_text, sizeof(m_text), "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac.bytes[0], mac.bytes[1],
        mac.bytes[2], mac.bytes[3], mac.bytes[4], mac.bytes[5]);
}

bool network_ready()
{
    if (knet::is_running())
        return true;
    kprintln("networking is off (no network card, or it failed to start: see the boot log)");
    return false;
}

namespace {

// `ifconfig [NAME] mtu N`: the interface's MTU from now on. The device checks its range; TCP
// connections keep the MSS they agreed, new ones advertise the MSS of the new MTU.
int ifconfig_set_mtu(Arguments const& arguments)
{
    usize at = arguments[1] == "mtu" ? 1 : 2;
    u64 mtu = 0;
    if (arguments.count() != at + 2 || arguments[at] != "mtu" || !parse_u64(arguments[at + 1], mtu)) {
        kprintln("usage: ifconfig [NAME] mtu N");
        return 2;
    }
    knet::StackLocker locker;
    auto& stack = knet::stack();
    for (u32 i = 0; i < stack.interface_count(); ++i) {
        auto* nic = static_cast<drivers::NicDriver*>(stack.interface(i).device);
        if (at == 2 && arguments[1] != nic->name())
            continue;
        auto caps = nic->capabilities();
        if (mtu < caps.min_mtu || mtu > caps.max_mtu) {
            kprintln("ifconfig: {} takes an MTU from {} to {}; {} refused (MTU stays {})", nic->name(), caps.min_mtu,
                caps.max_mtu, mtu, caps.mtu);
            return 1;
        }
        u16 before = stack.interface(i).mtu;
        if (auto set = stack.set_mtu(static_cast<u8>(i), static_cast<u16>(mtu)); set.is_error()) {
            kprintln("ifconfig: {} cannot switch to MTU {} ({}); MTU stays {}", nic->name(), mtu, set.error(), before);
            return 1;
        }
        kprintln("{}: mtu {} (was {}); new TCP connections advertise MSS {}", nic->name(), mtu, before,
            net::TcpLayer::mss_for_mtu(static_cast<u32>(mtu)));
        return 0;
    }
    kprintln("ifconfig: no interface named {}", arguments[1]);
    return 1;
}

// `ifconfig tso on|off`: whether TCP hands the NICs that can segment large units (the stack's
// switch, for every device at once; the ablation in docs/EVALUATION.md turns it off to measure
// what TSO buys). Connections switch with their next transmission.
int ifconfig_set_tso(Arguments const& arguments)
{
    if (arguments.count() != 3 || (arguments[2] != "on" && arguments[2] != "off")) {
        kprintln("usage: ifconfig tso on|off");
        return 2;
    }
    knet::StackLocker locker;
    auto& stack = knet::stack();
    if (!stack.tso_available()) {
        kprintln("ifconfig: no network card here segments TCP itself (TSO); TCP sends single segments either way");
        return arguments[2] == "off" ? 0 : 1;
    }
    stack.set_tso(arguments[2] == "on");
    kprintln("TSO {}: TCP sends {}", arguments[2],
        stack.tso_enabled() ? "units of up to 64 KiB that the card cuts into segments" : "single segments");
    return 0;
}

int ifconfig_command(Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    if (arguments.count() > 1 && arguments[1] == "tso")
        return ifconfig_set_tso(arguments);
    if (arguments.count() > 1)
        return ifconfig_set_mtu(arguments);
    knet::StackLocker locker;
    auto& stack = knet::stack();
    for (u32 i = 0; i < stack.interface_count(); ++i) {
        net::Interface const& interface = stack.interface(i);
        auto* nic = static_cast<drivers::NicDriver*>(interface.device);
        nic->refresh_counters();
        auto const& counters = nic->counters();
        bool up = nic->link_up();
        kprintln("{}: flags=UP,BROADCAST{}  mtu {}  ({}, IRQ {})", nic->name(), up ? ",RUNNING" : "", interface.mtu,
            nic->model(), nic->irq());
        net::Ipv4Address netmask { net::prefix_mask(interface.prefix_length) };
        net::Ipv4Address gateway = knet::config().gateway;
        kprintln("        inet {}  netmask {}  broadcast {}  gateway {}", IpText(interface.address).c_str(),
            IpText(netmask).c_str(), IpText(interface.subnet_broadcast()).c_str(),
            gateway.is_any() ? "none" : IpText(gateway).c_str());
        kprintln("        ether {}  link {}", MacText(interface.mac).c_str(), up ? "up" : "down");
        kprintln("        RX packets {}  bytes {}  errors {}  dropped {}", counters.rx_packets, counters.rx_bytes,
            counters.rx_errors, counters.rx_dropped);
        kprintln("        TX packets {}  bytes {}  errors {}  dropped {}", counters.tx_packets, counters.tx_bytes,
            counters.tx_errors, counters.tx_dropped);
        bool tso = nic->capabilities().tso && stack.tso_enabled();
        kprintln("        TSO {}  units {}  segments {}{}", tso ? "on" : "off", counters.tx_tso_units,
            counters.tx_tso_segments,
            !nic->capabilities().tso ? "  (the card has none)"
                : tso                ? ""
                                     : "  (ifconfig tso off)");
        kprintln("        interrupts {}  oversize dropped {}  (MTU range {}-{})", nic->driver_counters().interrupts,
            nic->driver_counters().rx_oversize, nic->capabilities().min_mtu, nic->capabilities().max_mtu);
    }
    return 0;
}

int arp_command(Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    knet::StackLocker locker;
    auto& stack = knet::stack();
    if (arguments.has_flag("-d")) {
        stack.arp().flush();
        kprintln("ARP cache flushed");
        return 0;
    }
    if (arguments.count() > 1) {
        kprintln("usage: arp [-d]");
        return 2;
    }
    net::ArpEntryInfo entries[net::ArpCache::kEntries];
    u32 count = stack.arp().snapshot(entries, net::ArpCache::kEntries);
    kprintln("Address          HWaddress          Iface     State       Expires");
    u64 now = stack.now();
    for (u32 i = 0; i < count; ++i) {
        auto const& entry = entries[i];
        char const* state = entry.state == net::ArpEntryInfo::State::Reachable ? "reachable"
            : entry.state == net::ArpEntryInfo::State::Failed                  ? "failed"
                                                                               : "incomplete";
        u64 seconds = entry.expires_ns > now ? (entry.expires_ns - now) / 1000000000ull : 0;
        MacText mac_text(entry.mac);
        kprintln("{:<16} {:<18} {:<9} {:<11} {} s{}", IpText(entry.address).c_str(),
            entry.state == net::ArpEntryInfo::State::Reachable ? mac_text.c_str() : "(incomplete)",
            stack.interface(entry.interface).device->name(), state, seconds, entry.queued ? " (packets waiting)" : "");
    }
    if (count == 0)
        kprintln("(empty)");
    return 0;
}

void print_udp_handle(knet::UdpHandle& handle, void*)
{
    auto& socket = handle.socket();
    char local[24], remote[24];
    auto local_address = socket.local();
    format_to(local, sizeof(local), "{}:{}", IpText(local_address.address).c_str(), local_address.port);
    if (socket.is_connected())
        format_to(remote, sizeof(remote), "{}:{}", IpText(socket.remote().address).c_str(), socket.remote().port);
    else
        format_to(remote, sizeof(remote), "*:*");
    kprintln("udp    {:<22} {:<22} {:<12} {:>6}  {}", local, remote, "", socket.queued(), handle.owner());
}

// Which task holds each socket (collected before printing, with interrupts off).
struct Owners {
    static constexpr u32 kCapacity = 128;
    syscall::DescriptorTable::SocketOwner entries[kCapacity];
    u32 count { 0 };

    char const* of(void const* socket, char* text, usize size) const
    {
        for (u32 i = 0; i < count; ++i) {
            if (entries[i].socket == socket) {
                format_to(text, size, "{} (task {})", entries[i].task_name, entries[i].task_id);
                return text;
            }
        }
        return "";
    }
};

void print_tcp_socket(net::TcpSocket const& socket, Owners const& owners)
{
    char local[24], remote[24];
    format_to(local, sizeof(local), "{}:{}", IpText(socket.local().address).c_str(), socket.local().port);
    if (socket.state() == net::TcpState::Listen)
        format_to(remote, sizeof(remote), "*:*");
    else
        format_to(remote, sizeof(remote), "{}:{}", IpText(socket.remote().address).c_str(), socket.remote().port);
    char owner[40];
    kprintln("tcp    {:<22} {:<22} {:<12} {:>6}  Send-Q {}  {}", local, remote, net::tcp_state_name(socket.state()),
        socket.receive_queued_bytes(), socket.send_queued_bytes(), owners.of(&socket, owner, sizeof(owner)));
}

void print_task_udp_socket(net::UdpSocket const& socket, char const* owner)
{
    char local[24], remote[24];
    format_to(local, sizeof(local), "{}:{}", IpText(socket.local().address).c_str(), socket.local().port);
    if (socket.is_connected())
        format_to(remote, sizeof(remote), "{}:{}", IpText(socket.remote().address).c_str(), socket.remote().port);
    else
        format_to(remote, sizeof(remote), "*:*");
    kprintln("udp    {:<22} {:<22} {:<12} {:>6}  {}", local, remote, "", socket.queued(), owner);
}

int netstat_command(Arguments const&)
{
    if (!network_ready())
        return 1;
    auto* owners = new (std::nothrow) Owners;
    if (!owners) {
        kprintln("netstat: out of memory");
        return 1;
    }
    owners->count = syscall::DescriptorTable::socket_owners(owners->entries, Owners::kCapacity);
    kprintln("Proto  Local Address          Foreign Address        State        Recv-Q  Owner");
    {
        knet::StackLocker locker;
        knet::stack().tcp().for_each_socket(
            [owners](net::TcpSocket const& socket) { print_tcp_socket(socket, *owners); });
        char owner[40];
        for (u32 i = 0; i < owners->count; ++i) {
            auto const& entry = owners->entries[i];
            if (entry.kind == syscall::DescriptorKind::Udp)
                print_task_udp_socket(
                    *static_cast<net::UdpSocket const*>(entry.socket), owners->of(entry.socket, owner, sizeof(owner)));
        }
    }
    knet::for_each_udp_handle(print_udp_handle, nullptr);
    delete owners;
    return 0;
}

int nicstat_command(Arguments const&)
{
    if (!network_ready())
        return 1;
    knet::StackLocker locker;
    for (u32 i = 0; i < knet::driver_count(); ++i) {
        auto& nic = knet::driver(i);
        auto const& c = nic.counters();
        nic.refresh_counters();
        auto const& d = nic.driver_counters();
        kprintln("{}: {}, IRQ {} ({} on the line), link {}", nic.name(), nic.model(), nic.irq(), irq_count(nic.irq()),
            nic.link_up() ? "up" : "down");
        kprintln("  rx: packets {}  bytes {}  errors {}  dropped {}  bad frames {}  no buffer {}  missed by card {}  "
                 "oversize {}  placed {}",
            c.rx_packets, c.rx_bytes, c.rx_errors, c.rx_dropped, d.rx_bad_frames, d.rx_no_buffer, d.rx_missed,
            d.rx_oversize, c.rx_placed_bytes);
        kprintln(
            "  tx: packets {}  bytes {}  errors {}  dropped {}  ring full {}  pieces {}  TSO units {}  TSO segments {}",
            c.tx_packets, c.tx_bytes, c.tx_errors, c.tx_dropped, d.tx_ring_full, d.tx_pieces, c.tx_tso_units,
            c.tx_tso_segments);
        kprintln("  interrupts {}  spurious {}  polls {}  budget exhausted {}  link changes {}  resyncs {}",
            d.interrupts, d.spurious_interrupts, d.polls, d.rx_budget_exhausted, d.link_changes, d.resyncs);
        nic.print_rings(console_sink());
    }
    auto& pool = knet::stack().pool();
    auto const& rx = pool.receive_counters();
    auto const& tx = pool.transmit_counters();
    auto const& blocks = pool.receive_block_counters();
    kprintln("pools: receive {}/{} in use (high {}, failures {}), transmit {}/{} in use (high {}, failures {})",
        rx.in_use, rx.capacity, rx.high_water, rx.failures, tx.in_use, tx.capacity, tx.high_water, tx.failures);
    kprintln("receive blocks: {} pages each; made {}, broken by zero-copy receive {}, no contiguous run {}",
        blocks.block_pages, blocks.made, blocks.broken, blocks.block_failures);
    auto thread = knet::network_thread_stats();
    kprintln("network thread: loops {}  wakes {}  timer wakes {}  frames {}  full batches {}  frames without "
             "interrupt {}",
        thread.loops, thread.wakes, thread.deadline_wakes, thread.frames, thread.budget_yields,
        thread.frames_without_interrupt);
    kprintln("socket calls: {} woke the network thread for a timer due sooner, {} did not need to", thread.early_wakes,
        thread.wakes_spared);
    return 0;
}

int lspci_command(Arguments const& arguments)
{
    knet::print_pci_devices(console_sink(), arguments.has_flag("-v"));
    return 0;
}

// `tcp`: TCP's switches (tail-loss probes, SYN cookies) and their counters (docs/console.md).
int tcp_command(Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    StringView what = arguments[1];
    StringView value = arguments[2];
    bool on = value == "on";
    if (what == "tlp" && (on || value == "off")) {
        knet::StackLocker locker;
        knet::stack().tcp().set_loss_probes(on);
        kprintln("tcp: tail-loss probes {}", on ? "on" : "off");
        return 0;
    }
    if (what == "syncookies" && (on || value == "off")) {
        knet::StackLocker locker;
        knet::stack().tcp().set_syn_cookies(on);
        kprintln("tcp: SYN cookies {}", on ? "on" : "off");
        return 0;
    }
    if (!what.is_empty()) {
        kprintln("usage: tcp [tlp on|off | syncookies on|off]");
        return 1;
    }
    knet::StackLocker locker;
    auto& stack = knet::stack();
    auto const& c = stack.counters();
    kprintln("tcp: tail-loss probes {} (RFC 8985 §7), RACK loss detection with SACK (§6)",
        stack.tcp().loss_probes() ? "on" : "off");
    kprintln("  recoveries {}  RACK lost {}  lost retransmissions {}  probes {}  repaired by a probe {}  "
             "timeouts {}  retransmits {}",
        c.tcp_fast_retransmits, c.tcp_rack_lost, c.tcp_lost_retransmits, c.tcp_loss_probes, c.tcp_loss_probe_recoveries,
        c.tcp_timeouts, c.tcp_retransmits);
    kprintln("tcp: SYN cookies {} (RFC 4987, when a listener's half-open queue is full)",
        stack.tcp().syn_cookies() ? "on" : "off");
    kprintln("  cookies sent {}  validated {}  failed {}  SYNs and ACKs dropped for a full backlog {}",
        c.tcp_syncookies_sent, c.tcp_syncookies_validated, c.tcp_syncookies_failed, c.tcp_backlog_full);
    return 0;
}

} // namespace

void register_network_commands()
{
    console::register_command({ "ifconfig", "ifconfig [[NAME] mtu N | tso on|off]",
        "the network interface: address, MAC, link, counters; set the MTU or TSO", ifconfig_command });
    console::register_command({ "arp", "arp [-d]", "show (or with -d flush) the ARP cache", arp_command });
    console::register_command({ "netstat", "netstat", "open sockets, with the task holding each", netstat_command });
    console::register_command({ "tcp", "tcp [tlp on|off | syncookies on|off]",
        "TCP: tail-loss probes and SYN cookies on or off, counters", tcp_command });
    console::register_command(
        { "nicstat", "nicstat", "NIC driver counters: packets, errors, rings, interrupts", nicstat_command });
    console::register_command({ "lspci", "lspci [-v]", "PCI devices (-v: with their BARs)", lspci_command });
    register_ping_command();
    register_dmatest_command();
}

} // namespace skiff::apps

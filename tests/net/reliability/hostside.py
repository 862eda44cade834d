#!/usr/bin/env python3
"""Host side of the reliability scenarios; runs inside the test's network namespace (`ip netns
exec`), sends only on the namespace's tap, and every flood is bounded in count and time.

  corpus TAP GUEST_MAC SEED
      A seeded corpus of malformed frames (scapy), paced; prints one `category=count` summary.
  outside-window TAP GUEST_MAC GUEST SEED
      Opens an echo connection (port 7), learns its sequence numbers from the wire, injects
      segments outside the window, with a bad ACK, an in-window RST and SYN (RFC 5961), and
      absurd options; then checks the connection still echoes, bytes compared.
  synflood TAP GUEST_MAC GUEST PORTS COUNT SECONDS SEED
      COUNT SYNs (scapy, from random addresses in 10.0.2.0/24 other than ours and the guest's,
      random ports) to PORTS, stopping after SECONDS at the latest.
  synflood-scapy TAP GUEST_MAC GUEST PORT SECONDS SEED
      SYNs to PORT from spoofed 10.0.2.x sources, scapy building and sending each, as fast as that
      goes, for SECONDS; prints the rate it reached.
  synflood-fast TAP GUEST_MAC GUEST PORT SECONDS SEED LIMIT
      SYNs to PORT from spoofed 10.0.2.x sources as fast as one process writes them (at most LIMIT
      frames, SECONDS); prints the rate it reached.
  echo-during GUEST SECONDS BYTES LIMIT SEED
      Echo connections one after another for SECONDS, BYTES each, SHA-256 compared, each within
      LIMIT seconds; prints `echo-during: served/total ...`.
  bursts GUEST ROUNDS BYTES LIMIT SEED
      Request/response on one echo connection: ROUNDS times BYTES out and back, bytes compared;
      prints the total time and each round's.
  udpflood GUEST PORT COUNT SECONDS
      COUNT datagrams to a closed PORT, at most SECONDS; counts the ICMP port unreachables that
      come back (raw socket).
  echo-clients GUEST N BYTES SECONDS
      N concurrent connections to the echo service (7), each sends BYTES random bytes and must
      get exactly them back; all within SECONDS. Prints `served=N/N ...`.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import sys
import time

OUR_IP = "10.0.2.2"


def scapy():
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    import scapy.all as s  # noqa: F401
    return s


# --------------------------------------------------------------------------------------------
# the corpus


def ipv4_checksum(header: bytes) -> int:
    total = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, len(header), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_ip_options(datagram: bytes, options: bytes) -> bytes:
    """An IPv4 datagram with `options` (padded to words) spliced in, IHL, length, checksum fixed."""
    options += b"\x00" * (-len(options) % 4)
    header = bytearray(datagram[:20] + options)
    header[0] = 0x40 | (len(header) // 4)
    header[2:4] = (len(datagram) + len(options)).to_bytes(2, "big")
    header[10:12] = b"\x00\x00"
    header[10:12] = ipv4_checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + datagram[20:]


def build_corpus(s, guest_mac: str, our_mac: str, guest_ip: str, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    eth = s.Ether(dst=guest_mac, src=our_mac)
    frames: list[tuple[str, bytes]] = []

    def add(category, packet):
        frames.append((category, bytes(packet)))

    def ip(**fields):
        return s.IP(src=OUR_IP, dst=guest_ip, **fields)

    good = {
        "icmp": ip() / s.ICMP(id=7, seq=1) / (b"x" * 32),
        "udp": ip() / s.UDP(sport=40000, dport=7) / (b"y" * 40),
        "tcp": ip() / s.TCP(sport=40001, dport=7, flags="S", seq=1000, options=[("MSS", 1460)]),
    }
    # 1. Truncated at every layer: each good frame cut at every length short of its end.
    for name, packet in good.items():
        raw = bytes(eth / packet)
        for cut in range(1, len(raw)):
            if cut < 14 or cut < 60 or rng.random() < 0.3:
                # The NIC pads short frames to 60 bytes with zeros: the IP total length then
                # exceeds what arrived, or the payload is short: either way it must be dropped.
                frames.append(("truncated", raw[:cut]))
    # 2. IPv4 header fields: version, IHL, total length, checksum, source, options, protocol.
    for version in (0, 4 - 4 + 5, 6, 15):
        add("ip_version", eth / ip(version=version) / s.ICMP() / b"v")
    for ihl in (0, 1, 4, 6, 15):
        add("ip_ihl", eth / ip(ihl=ihl) / s.ICMP() / b"i")
    for length in (0, 1, 19, 21, 200, 1500, 65535):
        add("ip_length", eth / ip(len=length) / s.UDP(sport=1, dport=7) / b"l")
    for _ in range(50):
        add("ip_checksum", eth / ip(chksum=rng.randrange(0x10000)) / s.ICMP() / b"c")
    for source in ("255.255.255.255", "224.0.0.1", "127.0.0.1", "0.0.0.0", "10.0.2.255"):
        add("ip_source", eth / s.IP(src=source, dst=guest_ip) / s.ICMP() / b"s")
    options = [
        [s.IPOption_RR(routers=["1.2.3.4"] * 3)],
        [s.IPOption_Timestamp()] if hasattr(s, "IPOption_Timestamp") else [s.IPOption_NOP()] * 4,
        [s.IPOption_LSRR(routers=["10.0.2.9"])],
        [s.IPOption_NOP()] * 4,
        [s.IPOption_EOL()] * 4,
    ]
    for option in options:
        add("ip_options", eth / ip(options=option) / s.ICMP(id=9, seq=2) / b"opt")
    for raw_option in (b"\x07\x00\x00\x00", b"\x07\x01\x00\x00", b"\x07\xff\x04\x00", b"\x44\x28" + b"\x00" * 38):
        add("ip_options_bad", bytes(eth) + with_ip_options(bytes(ip() / s.ICMP() / b"bad"), raw_option))
    for proto in (0, 2, 41, 47, 99, 255):
        add("ip_protocol", eth / ip(proto=proto) / (b"p" * 20))
    # 3. Fragments (the guest has 4 reassembly slots, each held 30 s): duplicates of a datagram that
    #    then completes, pieces reaching past 64 KiB, overlaps (each leaves its last piece waiting),
    #    tiny pieces with a hole, and endless first pieces that never finish, one per ID.
    payload = bytes(s.ICMP(type=8, id=0x77, seq=1) / (b"F" * 1200))
    for ident in range(0x200, 0x204):
        for _ in range(3):
            add("frag_duplicate", eth / ip(id=ident, flags="MF", frag=0, proto=1) / payload[:600])
        add("frag_duplicate", eth / ip(id=ident, frag=75, proto=1) / payload[600:])
    for ident in range(0x400, 0x404):
        add("frag_too_big", eth / ip(id=ident, flags="MF", frag=0, proto=1) / payload[:1000])
        add("frag_too_big", eth / ip(id=ident, frag=8190, proto=1) / (b"B" * 1000))
    for ident in range(0x100, 0x108):
        add("frag_overlap", eth / ip(id=ident, flags="MF", frag=0, proto=1) / payload[:800])
        add("frag_overlap", eth / ip(id=ident, flags="MF", frag=50, proto=1) / payload[400:1000])
        add("frag_overlap", eth / ip(id=ident, frag=100, proto=1) / payload[800:])
    for ident in range(0x500, 0x504):
        add("frag_tiny", eth / ip(id=ident, flags="MF", frag=0, proto=6) / b"\x00\x01\x00\x07")
        add("frag_tiny", eth / ip(id=ident, frag=1, proto=6) / (b"\x00" * 16))
    for ident in range(0x300, 0x340):
        add("frag_endless", eth / ip(id=ident, flags="MF", frag=0, proto=17) / (b"E" * 512))
    # 4. ICMP and UDP.
    for _ in range(10):
        add("icmp_checksum", eth / ip() / s.ICMP(type=8, chksum=rng.randrange(0x10000)) / b"ping")
    for size in (0, 1, 3, 7):
        add("icmp_short", eth / ip(proto=1) / (b"\x08" * size))
    for icmp_type in (3, 5, 11, 12, 13, 17, 200):
        add("icmp_types", eth / ip() / s.ICMP(type=icmp_type, code=rng.randrange(256)) / (b"q" * 28))
    for length in (0, 1, 7, 9, 100, 65535):
        add("udp_length", eth / ip() / s.UDP(sport=5, dport=7, len=length) / b"udp-length")
    for _ in range(10):
        add("udp_checksum", eth / ip() / s.UDP(sport=5, dport=7, chksum=rng.randrange(1, 0x10000)) / b"udp-sum")
    # 5. TCP: absurd data offsets, bad options, every flag combination, bad checksums.
    for offset in (0, 1, 4, 15):
        add("tcp_offset", eth / ip() / s.TCP(sport=40002, dport=7, flags="S", dataofs=offset) / b"off")
    for raw_option in (b"\x02\x00", b"\x02\x01", b"\x03\x03\x0f\x00", b"\x08\x02", b"\x02\x04\x00\x00",
                       b"\x05\x03\x00\x00", b"\x04\x02\x02\x28", b"\x01" * 40):
        raw_option = raw_option + b"\x00" * (-len(raw_option) % 4)
        add("tcp_options", eth / ip() / s.TCP(sport=40003, dport=7, flags="S", seq=5,
                                              options=[(rng.randrange(256), b"")]) / b"")
        tcp = s.TCP(sport=40003, dport=7, flags="S", seq=5, dataofs=5 + len(raw_option) // 4)
        add("tcp_options", eth / ip() / tcp / raw_option)
    for flags in range(256):
        add("tcp_flags", eth / ip() / s.TCP(sport=rng.randrange(1024, 65535), dport=rng.choice((7, 9, 4444)),
                                          flags=flags, seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32))
            / (b"d" * rng.randrange(0, 20)))
    for _ in range(20):
        add("tcp_checksum", eth / ip() / s.TCP(sport=40004, dport=7, flags="S", chksum=rng.randrange(0x10000)))
    # 6. ARP: garbage, replies nobody asked for, spoofing the gateway.
    arp_ok = s.ARP(op=1, hwsrc=our_mac, psrc=OUR_IP, pdst=guest_ip)
    raw_arp = bytes(arp_ok)
    for cut in (0, 7, 8, 20, 27):
        add("arp_truncated", s.Ether(dst=guest_mac, src=our_mac, type=0x0806) / raw_arp[:cut])
    for hwlen, plen, ptype in ((5, 4, 0x0800), (6, 16, 0x0800), (6, 4, 0x86dd)):
        add("arp_bad", s.Ether(dst=guest_mac, src=our_mac) / s.ARP(op=1, hwlen=hwlen, plen=plen, ptype=ptype,
                                                                    psrc=OUR_IP, pdst=guest_ip))
    add("arp_bad", s.Ether(dst=guest_mac, src=our_mac) / s.ARP(op=9, psrc=OUR_IP, pdst=guest_ip))
    for i in range(20):
        fake = f"02:00:00:00:{i:02x}:{rng.randrange(256):02x}"
        add("arp_unsolicited", s.Ether(dst=guest_mac, src=fake) / s.ARP(op=2, hwsrc=fake, psrc=f"10.0.2.{100 + i}",
                                                                         hwdst=guest_mac, pdst=guest_ip))
    forger = "02:ba:db:ad:ba:d0"
    for _ in range(5):
        add("arp_spoof", s.Ether(dst=guest_mac, src=forger) / s.ARP(op=2, hwsrc=forger, psrc=OUR_IP, hwdst=guest_mac,
                                                                    pdst=guest_ip))
        add("arp_spoof", s.Ether(dst="ff:ff:ff:ff:ff:ff", src=forger) / s.ARP(op=1, hwsrc=forger, psrc=OUR_IP,
                                                                              pdst=OUR_IP))
        add("arp_spoof", s.Ether(dst="ff:ff:ff:ff:ff:ff", src=forger) / s.ARP(op=1, hwsrc=forger, psrc=OUR_IP,
                                                                              pdst=guest_ip))
    # 7. Random bytes after a valid Ethernet + IPv4 header, and over-long frames.
    for _ in range(400):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        add("random_l4", eth / ip(proto=rng.choice((1, 6, 17))) / body)
    return frames


def command_corpus(tap: str, guest_mac: str, seed: int) -> int:
    s = scapy()
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    frames = build_corpus(s, guest_mac, our_mac, "10.0.2.15", seed)
    counts: dict = {}
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((tap, 0))
    started = time.monotonic()
    for index, (category, raw) in enumerate(frames):
        if len(raw) < 14:
            raw = raw  # a runt: the tap sends it as is; the NIC model pads or drops it
        try:
            sock.send(raw)
        except OSError:
            counts["send_errors"] = counts.get("send_errors", 0) + 1
            continue
        counts[category] = counts.get(category, 0) + 1
        # Paced: an NE2000's ring holds about ten frames, and we want each one seen, not lost.
        if index % 4 == 3:
            time.sleep(0.004)
    sock.close()
    print(f"corpus: {sum(counts.values())} frames in {time.monotonic() - started:.1f} s (seed {seed})")
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


# --------------------------------------------------------------------------------------------
# outside the window of a live connection


def command_outside_window(tap: str, guest_mac: str, guest: str, seed: int) -> int:
    s = scapy()
    rng = random.Random(seed)
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    sniffer = s.AsyncSniffer(iface=tap, filter=f"tcp and src host {guest} and src port 7", store=True)
    sniffer.start()
    time.sleep(0.5)
    conn = socket.create_connection((guest, 7), timeout=10)
    data = os.urandom(3000)
    conn.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    if got != data:
        print("echo before the injection did not match")
        return 1
    time.sleep(0.5)
    packets = sniffer.stop()
    segments = [p for p in packets if p.haslayer(s.TCP)]
    if not segments:
        print("no segment from the guest was captured")
        return 1
    last = segments[-1][s.TCP]
    guest_seq = last.seq + len(bytes(last.payload)) + (1 if "F" in str(last.flags) else 0)
    our_seq = last.ack  # what the guest expects next from us
    window = last.window
    sport = conn.getsockname()[1]
    eth = s.Ether(dst=guest_mac, src=our_mac)
    base = s.IP(src=OUR_IP, dst=guest)

    def tcp(**fields):
        fields.setdefault("sport", sport)
        fields.setdefault("dport", 7)
        return eth / base / s.TCP(**fields)

    crafted = []
    for offset in (1 << 20, 1 << 30, (1 << 31) + 5, -(1 << 20), -70000):
        crafted.append(tcp(flags="A", seq=(our_seq + offset) % (1 << 32), ack=guest_seq) / b"OUTSIDE")
    crafted.append(tcp(flags="A", seq=our_seq, ack=(guest_seq + (1 << 30)) % (1 << 32)) / b"")  # ACKs unsent data
    crafted.append(tcp(flags="A", seq=our_seq, ack=(guest_seq - (1 << 30)) % (1 << 32)) / b"")  # too old
    crafted.append(tcp(flags="R", seq=(our_seq + max(1, window // 2)) % (1 << 32)))  # in window, not exact
    crafted.append(tcp(flags="S", seq=(our_seq + 100) % (1 << 32)))  # SYN on an established connection
    crafted.append(tcp(flags="SA", seq=our_seq, ack=guest_seq))
    crafted.append(tcp(flags="A", seq=our_seq, ack=guest_seq, dataofs=15) / (b"\x01" * 4))  # offset past the end
    # A replayed, old timestamp (PAWS, RFC 7323 §5) on an otherwise exact segment: dropped. (A
    # TSval half the number space away would count as newer, and then the real peer's segments
    # would fail PAWS — in Linux as well; that is an on-path attacker's power, not tested.)
    host_ts = next((value[1] for name, value in last.options if name == "Timestamp"), None)
    if host_ts is not None:
        crafted.append(tcp(flags="A", seq=our_seq, ack=guest_seq,
                           options=[("NOP", None), ("NOP", None), ("Timestamp", ((host_ts - 100000) % (1 << 32), 0))])
                       / b"OLD")
    crafted.append(tcp(flags="FPU", seq=(our_seq + 1 << 24) % (1 << 32), ack=guest_seq, urgptr=0xffff) / b"Z")
    for _ in range(10):
        crafted.append(tcp(flags=rng.randrange(256), seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32))
                       / (b"R" * rng.randrange(40)))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((tap, 0))
    for packet in crafted:
        sock.send(bytes(packet))
        time.sleep(0.01)
    sock.close()
    # The connection must still work, byte for byte.
    time.sleep(0.5)
    data = os.urandom(5000)
    conn.sendall(data)
    got = b""
    conn.settimeout(20)
    while len(got) < len(data):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    conn.close()
    if got != data:
        print(f"after {len(crafted)} out-of-window segments the echo returned {len(got)} of {len(data)} bytes "
              f"({'different' if got != data[:len(got)] else 'a prefix'})")
        return 1
    print(f"outside-window: {len(crafted)} crafted segments into a live echo connection; it still echoes "
          f"{len(data)} bytes, checked")
    return 0


# --------------------------------------------------------------------------------------------
# floods


def command_synflood(tap: str, guest_mac: str, guest: str, ports: str, count: int, seconds: float, seed: int) -> int:
    s = scapy()
    rng = random.Random(seed)
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    port_list = [int(p) for p in ports.split(",")]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((tap, 0))
    template = bytes(s.Ether(dst=guest_mac, src=our_mac) / s.IP(src="10.0.2.100", dst=guest)
                     / s.TCP(sport=1, dport=7, flags="S", seq=1, options=[("MSS", 1460)]))
    deadline = time.monotonic() + seconds
    sent = 0
    print("flooding", flush=True)  # the caller starts what must run during the flood on this line
    while sent < count and time.monotonic() < deadline:
        host = rng.choice([h for h in range(3, 255) if h != 15])
        packet = s.Ether(template)
        packet[s.IP].src = f"10.0.2.{host}"
        packet[s.TCP].sport = rng.randrange(1024, 65536)
        packet[s.TCP].dport = rng.choice(port_list)
        packet[s.TCP].seq = rng.randrange(1 << 32)
        del packet[s.IP].chksum
        del packet[s.TCP].chksum
        sock.send(bytes(packet))
        sent += 1
        if sent % 20 == 0:
            time.sleep(0.02)  # about 1,000 SYNs a second, so the flood outlasts what runs during it
    sock.close()
    print(f"{sent} SYNs to ports {ports} in {seconds - max(0.0, deadline - time.monotonic()):.1f} s")
    return 0


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(memoryview(data).cast("H"))  # native order: folded and swapped back below
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes) -> bytes:
    """The internet checksum of data, as the two bytes to store (any byte order in, same out)."""
    return (~ones_complement_sum(data) & 0xFFFF).to_bytes(2, sys.byteorder)


def syn_options() -> list:
    """What a Linux client's SYN offers: MSS, SACK-permitted, timestamps, window scale."""
    return [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def command_synflood_scapy(tap: str, guest_mac: str, guest: str, port: int, seconds: float, seed: int) -> int:
    """SYNs to PORT from spoofed 10.0.2.x sources for SECONDS, each one a scapy packet with a random
    source address, port, ISN and TSval, serialized and sent by scapy's own layer-2 socket, one
    after another as fast as this process goes: the rate of a flood written with scapy."""
    s = scapy()
    rng = random.Random(seed)
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    guest_host = int(guest.split(".")[3])
    hosts = [h for h in range(3, 255) if h != guest_host]
    packet = (s.Ether(dst=guest_mac, src=our_mac) / s.IP(src="10.0.2.100", dst=guest, flags="DF")
              / s.TCP(sport=1, dport=port, flags="S", seq=0, window=64240, options=syn_options()))
    sock = s.conf.L2socket(iface=tap)
    sent = 0
    print("flooding", flush=True)  # the caller starts what must run during the flood on this line
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        packet[s.IP].src = f"10.0.2.{rng.choice(hosts)}"
        packet[s.TCP].sport = rng.randrange(1024, 65536)
        packet[s.TCP].seq = rng.randrange(1 << 32)
        packet[s.TCP].options = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (rng.randrange(1 << 32), 0)),
                                 ("NOP", None), ("WScale", 7)]
        sock.send(packet)
        sent += 1
    elapsed = time.monotonic() - started
    sock.close()
    print(f"{sent} SYNs to port {port} from spoofed 10.0.2.x sources in {elapsed:.1f} s: {sent / elapsed:.0f} SYNs/s "
          f"(scapy serializing and sending each)")
    return 0


def command_synflood_fast(tap: str, guest_mac: str, guest: str, port: int, seconds: float, seed: int,
                          limit: int) -> int:
    """SYNs to PORT from spoofed 10.0.2.x sources (any but .1, .2 and the guest), as fast as this one
    process can write them to the tap, for SECONDS or LIMIT frames. scapy builds the SYN (the options
    a Linux client offers: MSS, SACK-permitted, timestamps, window scale); 65,536 variants of it with
    random source address, port and ISN are made up front (checksums recomputed), then sent in turn
    on a raw socket, so the rate is the socket's, not scapy's per-packet cost."""
    s = scapy()
    rng = random.Random(seed)
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    guest_host = int(guest.split(".")[3])
    template = bytearray(bytes(s.Ether(dst=guest_mac, src=our_mac)
                               / s.IP(src="10.0.2.100", dst=guest, id=1, flags="DF")
                               / s.TCP(sport=1, dport=port, flags="S", seq=0, window=64240,
                                       options=syn_options())))
    ip, tcp = 14, 34
    tcp_length = len(template) - tcp
    frames = []
    hosts = [h for h in range(3, 255) if h != guest_host]
    for _ in range(65536):
        frame = bytearray(template)
        frame[ip + 15] = rng.choice(hosts)  # source 10.0.2.x
        frame[tcp:tcp + 2] = rng.randrange(1024, 65536).to_bytes(2, "big")
        frame[tcp + 4:tcp + 8] = rng.randrange(1 << 32).to_bytes(4, "big")
        frame[tcp + 28:tcp + 32] = rng.randrange(1 << 32).to_bytes(4, "big")  # TSval
        frame[ip + 10:ip + 12] = b"\x00\x00"
        frame[ip + 10:ip + 12] = checksum(bytes(frame[ip:tcp]))
        frame[tcp + 16:tcp + 18] = b"\x00\x00"
        pseudo = bytes(frame[ip + 12:ip + 20]) + b"\x00\x06" + tcp_length.to_bytes(2, "big")
        frame[tcp + 16:tcp + 18] = checksum(pseudo + bytes(frame[tcp:]))
        frames.append(bytes(frame))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((tap, 0))
    send = sock.send
    sent = errors = 0
    print("flooding", flush=True)  # the caller starts what must run during the flood on this line
    started = time.monotonic()
    deadline = started + seconds
    while sent < limit:
        for frame in frames[(sent & 0xFFFF):(sent & 0xFFFF) + 256]:
            try:
                send(frame)
            except OSError:
                errors += 1
            sent += 1
        if time.monotonic() >= deadline:
            break
    elapsed = time.monotonic() - started
    sock.close()
    print(f"{sent} SYNs to port {port} from spoofed 10.0.2.x sources in {elapsed:.1f} s: "
          f"{sent / elapsed:.0f} SYNs/s (frames made by scapy in advance, sent on a raw socket; send errors {errors})")
    return 0


def command_echo_during(guest: str, seconds: float, size: int, limit: float, seed: int) -> int:
    """Echo connections (port 7) one after another for SECONDS: each sends SIZE random bytes, must
    get exactly them back (SHA-256 compared) and finish within LIMIT seconds, connect included."""
    import hashlib
    rng = random.Random(seed)
    results = []
    failures = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data = rng.randbytes(size)
        started = time.monotonic()
        error = None
        got = b""
        try:
            with socket.create_connection((guest, 7), timeout=limit) as conn:
                conn.settimeout(max(0.1, limit - (time.monotonic() - started)))
                conn.sendall(data)
                while len(got) < size:
                    conn.settimeout(max(0.1, limit - (time.monotonic() - started)))
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += chunk
        except OSError as failure:
            error = str(failure) or type(failure).__name__
        took = time.monotonic() - started
        if error is None and hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
            error = f"echoed {len(got)} bytes, SHA-256 differs"
        if error is None and took > limit:
            error = f"took {took:.1f} s"
        results.append(took)
        if error:
            failures.append(f"connection {len(results)}: {error} after {took:.1f} s")
    times = sorted(results)
    median = times[len(times) // 2] if times else 0.0
    print(f"echo-during: {len(results) - len(failures)}/{len(results)} connections served, {size} bytes each, "
          f"SHA-256 checked; time per connection median {median:.2f} s, max {max(times, default=0):.2f} s "
          f"(limit {limit:.0f} s)" + (f"; failures: {'; '.join(failures[:5])}" if failures else ""))
    return 0 if results and not failures else 1


def command_bursts(guest: str, rounds: int, size: int, limit: float, seed: int) -> int:
    """Request/response over one echo connection (port 7): ROUNDS times, SIZE random bytes out and
    the same SIZE back before the next round; every byte compared. Prints the total and the
    per-round times."""
    import hashlib
    rng = random.Random(seed)
    times = []
    sent_digest, got_digest = hashlib.sha256(), hashlib.sha256()
    started = time.monotonic()
    with socket.create_connection((guest, 7), timeout=limit) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            data = rng.randbytes(size)
            sent_digest.update(data)
            begin = time.monotonic()
            conn.sendall(data)
            got = 0
            while got < size:
                chunk = conn.recv(65536)
                if not chunk:
                    print(f"bursts: the echo closed after {len(times)} rounds")
                    return 1
                got_digest.update(chunk)
                got += len(chunk)
            times.append(time.monotonic() - begin)
    total = time.monotonic() - started
    ordered = sorted(times)
    ok = sent_digest.digest() == got_digest.digest()
    print(f"bursts: {rounds} rounds of {size} bytes each way in {total:.2f} s; per round median "
          f"{ordered[len(ordered) // 2] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms; SHA-256 "
          f"{'equal' if ok else 'DIFFERS'}")
    print("rounds_ms " + " ".join(f"{t * 1000:.0f}" for t in times))
    return 0 if ok else 1


def command_udpflood(guest: str, port: int, count: int, seconds: float) -> int:
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    icmp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    payload = b"u" * 64
    unreachable = 0

    def drain():
        nonlocal unreachable
        while True:
            try:
                packet = icmp.recv(2048)
            except BlockingIOError:
                return
            ihl = (packet[0] & 0x0F) * 4
            if packet[ihl] == 3 and packet[ihl + 1] == 3:
                unreachable += 1

    started = time.monotonic()
    sent = 0
    while sent < count and time.monotonic() - started < seconds:
        try:
            udp.sendto(payload, (guest, port))
            sent += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass
        if sent % 20 == 0:
            drain()
            time.sleep(0.002)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        drain()
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    print(f"{sent} datagrams to closed port {port} in {elapsed:.1f} s; unreachable={unreachable} came back")
    return 0


def command_echo_clients(guest: str, count: int, size: int, seconds: float) -> int:
    """All connections opened at once (non-blocking connect), then served concurrently."""
    selector = selectors.DefaultSelector()
    clients = []
    for index in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((guest, 7))
        state = {"sock": sock, "data": os.urandom(size), "sent": 0, "got": bytearray(), "done": False,
                 "error": None, "index": index}
        clients.append(state)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    open_count = count
    peak_connected = 0
    while open_count and time.monotonic() < deadline:
        for key, events in selector.select(timeout=0.5):
            st = key.data
            sock = st["sock"]
            try:
                if events & selectors.EVENT_WRITE and st["sent"] < size:
                    st["sent"] += sock.send(st["data"][st["sent"]:])
                    if st["sent"] == size:
                        selector.modify(sock, selectors.EVENT_READ, st)
                if events & selectors.EVENT_READ:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed early")
                    st["got"] += chunk
                    if len(st["got"]) >= size:
                        st["done"] = True
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                st["error"] = str(error)
            if st["done"] or st["error"]:
                selector.unregister(sock)
                sock.close()
                open_count -= 1
        peak_connected = max(peak_connected, sum(1 for c in clients if c["sent"] > 0 and not c["done"]))
    for st in clients:
        if not st["done"] and not st["error"]:
            st["error"] = "timed out"
            st["sock"].close()
    served = sum(1 for c in clients if c["done"] and bytes(c["got"]) == c["data"])
    wrong = sum(1 for c in clients if c["done"] and bytes(c["got"]) != c["data"])
    errors = [c["error"] for c in clients if c["error"]]
    print(f"served={served}/{count} echo connections opened at once, {size} bytes each, every byte checked; "
          f"wrong={wrong} errors={len(errors)}{' (' + errors[0] + ')' if errors else ''}; "
          f"{time.monotonic() - started:.1f} s")
    return 0 if served == count else 1


def main() -> int:
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "corpus":
        return command_corpus(arguments[0], arguments[1], int(arguments[2]))
    if command == "outside-window":
        return command_outside_window(arguments[0], arguments[1], arguments[2], int(arguments[3]))
    if command == "synflood":
        return command_synflood(arguments[0], arguments[1], arguments[2], arguments[3], int(arguments[4]),
                                float(arguments[5]), int(arguments[6]))
    if command == "synflood-scapy":
        return command_synflood_scapy(arguments[0], arguments[1], arguments[2], int(arguments[3]),
                                      float(arguments[4]), int(arguments[5]))
    if command == "synflood-fast":
        return command_synflood_fast(arguments[0], arguments[1], arguments[2], int(arguments[3]),
                                     float(arguments[4]), int(arguments[5]), int(arguments[6]))
    if command == "echo-during":
        return command_echo_during(arguments[0], float(arguments[1]), int(arguments[2]), float(arguments[3]),
                                   int(arguments[4]))
    if command == "bursts":
        return command_bursts(arguments[0], int(arguments[1]), int(arguments[2]), float(arguments[3]),
                              int(arguments[4]))
    if command == "udpflood":
        return command_udpflood(arguments[0], int(arguments[1]), int(arguments[2]), float(arguments[3]))
    if command == "echo-clients":
        return command_echo_clients(arguments[0], int(arguments[1]), int(arguments[2]), float(arguments[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())

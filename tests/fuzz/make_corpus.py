#!/usr/bin/python3
"""Writes the fuzzers' seed corpus: tests/fuzz/corpus/<target>/*.bin.

    /usr/bin/python3 tests/fuzz/make_corpus.py        (needs python3-scapy from Debian)

The frames are the ones a stack meets on a real link — ARP, ping, UDP, fragments, TCP with the
options Linux sends — plus the classic malformations (truncation at each layer, bad lengths,
options, odd flag combinations), addressed to the fuzz stack (FuzzStack.h: 10.0.2.15,
52:54:00:aa:bb:cc; the peer 10.0.2.2, 52:54:00:12:34:56). The output is committed, so the
fuzzers and the replay tests do not need scapy; rerun this after changing it.
"""
import os
import shutil
import struct
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption_RR, IPv6, Raw, fragment,
                       raw)

HERE = os.path.dirname(os.path.abspath(__file__))
STACK_MAC, PEER_MAC = "52:54:00:aa:bb:cc", "52:54:00:12:34:56"
STACK_IP, PEER_IP = "10.0.2.15", "10.0.2.2"
ECHO = 7


def eth(payload, dst=STACK_MAC, src=PEER_MAC):
    return Ether(dst=dst, src=src) / payload


def ip(**kw):
    return IP(src=PEER_IP, dst=STACK_IP, **kw)


def pattern(n, seed=1):
    return bytes(((i * 131 + seed * 17) >> 1) & 0xFF for i in range(n))


LINUX_SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None), ("WScale", 7)]


def single_frames():
    frames = {
        "arp_request": eth(ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=STACK_IP), dst="ff:ff:ff:ff:ff:ff"),
        "arp_reply_unsolicited": eth(ARP(op=2, hwsrc="52:54:00:66:66:66", psrc="10.0.2.77", hwdst=STACK_MAC,
                                         pdst=STACK_IP)),
        "arp_spoof_peer": eth(ARP(op=2, hwsrc="52:54:00:66:66:66", psrc=PEER_IP, hwdst=STACK_MAC, pdst=STACK_IP)),
        "arp_gratuitous": eth(ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=PEER_IP), dst="ff:ff:ff:ff:ff:ff"),
        "arp_claims_our_ip": eth(ARP(op=2, hwsrc="52:54:00:66:66:66", psrc=STACK_IP, pdst=STACK_IP),
                                 dst="ff:ff:ff:ff:ff:ff"),
        "icmp_echo_56": eth(ip() / ICMP(type=8, id=0x1c46, seq=1) / pattern(56)),
        "icmp_echo_1400": eth(ip() / ICMP(type=8, id=7, seq=2) / pattern(1400)),
        "icmp_echo_record_route": eth(ip(options=[IPOption_RR(routers=["0.0.0.0"] * 3)]) / ICMP(type=8) / b"rr"),
        "icmp_echo_broadcast": eth(IP(src=PEER_IP, dst="10.0.2.255") / ICMP(type=8) / b"b",
                                   dst="ff:ff:ff:ff:ff:ff"),
        "icmp_bad_checksum": eth(ip() / ICMP(type=8, chksum=0x1234) / (b"x" * 8)),
        "icmp_unreachable_quote": eth(ip() / ICMP(type=3, code=3) / raw(IP(src=STACK_IP, dst=PEER_IP) /
                                                                           UDP(sport=49152, dport=9))[:28]),
        "icmp_time_exceeded": eth(ip() / ICMP(type=11) / raw(IP(src=STACK_IP, dst=PEER_IP) / TCP())[:28]),
        "udp_echo": eth(ip() / UDP(sport=1234, dport=ECHO) / b"hello skiff"),
        "udp_echo_big": eth(ip() / UDP(sport=1234, dport=ECHO) / pattern(1472)),
        "udp_closed_port": eth(ip() / UDP(sport=1234, dport=9999) / b"nobody"),
        "udp_zero_checksum": eth(ip() / UDP(sport=1, dport=ECHO, chksum=0) / b"no checksum"),
        "udp_length_too_big": eth(ip() / UDP(sport=1, dport=ECHO, len=200) / b"short"),
        "udp_length_too_small": eth(ip() / UDP(sport=1, dport=ECHO, len=4) / b"short"),
        "udp_broadcast": eth(IP(src=PEER_IP, dst="255.255.255.255") / UDP(sport=68, dport=ECHO) / b"bc",
                             dst="ff:ff:ff:ff:ff:ff"),
        "ip_ttl_1": eth(ip(ttl=1) / UDP(sport=1, dport=ECHO) / b"t"),
        "ip_bad_version": eth(ip(version=6) / UDP(sport=1, dport=ECHO) / b"v"),
        "ip_ihl_too_big": eth(ip(ihl=15) / UDP(sport=1, dport=ECHO) / b"i"),
        "ip_total_length_short": eth(ip(len=21) / UDP(sport=1, dport=ECHO) / b"l"),
        "ip_unknown_protocol": eth(ip(proto=132) / (b"sctp?" * 4)),
        "ip_other_destination": eth(IP(src=PEER_IP, dst="10.0.2.99") / UDP(sport=1, dport=ECHO) / b"x"),
        "ip_fragment_first": eth(ip(flags="MF", id=5, frag=0) / raw(UDP(sport=1, dport=ECHO, len=1008) /
                                                                    pattern(1000))[:800]),
        "ip_fragment_tiny_offset": eth(ip(flags="MF", id=6, frag=1) / b"12345678"),
        "ip_fragment_last_at_max": eth(ip(id=7, frag=8189) / pattern(64)),
        "tcp_syn_linux": eth(ip() / TCP(sport=40000, dport=ECHO, flags="S", seq=1000, window=64240,
                                        options=LINUX_SYN_OPTIONS)),
        "tcp_syn_closed_port": eth(ip() / TCP(sport=40001, dport=81, flags="S", seq=1)),
        "tcp_synack_unsolicited": eth(ip() / TCP(sport=80, dport=49152, flags="SA", seq=5, ack=77)),
        "tcp_rst": eth(ip() / TCP(sport=40000, dport=ECHO, flags="R", seq=1000)),
        "tcp_xmas": eth(ip() / TCP(sport=40000, dport=ECHO, flags="FSRPAUEC", seq=1, ack=1) / b"x"),
        "tcp_null_flags": eth(ip() / TCP(sport=40000, dport=ECHO, flags=0, seq=1)),
        "tcp_ack_data_no_connection": eth(ip() / TCP(sport=40000, dport=ECHO, flags="PA", seq=1, ack=1) / b"data"),
        "tcp_syn_fin": eth(ip() / TCP(sport=40000, dport=ECHO, flags="SF", seq=9)),
        "tcp_data_offset_15_nops": eth(ip() / TCP(sport=40000, dport=ECHO, flags="S", options=[("NOP", None)] * 40)),
        "tcp_options_bad_length": eth(ip() / TCP(sport=40000, dport=ECHO, flags="S") / b""),
        "tcp_sack_blocks": eth(ip() / TCP(sport=40000, dport=ECHO, flags="A", seq=1, ack=1,
                                          options=[("NOP", None), ("NOP", None),
                                                   ("SAck", (1, 2, 3, 4, 5, 6))])),
        "tcp_wscale_huge": eth(ip() / TCP(sport=40000, dport=ECHO, flags="S", options=[("WScale", 200)])),
        "tcp_mss_zero": eth(ip() / TCP(sport=40000, dport=ECHO, flags="S", options=[("MSS", 0)])),
        "ipv6_not_supported": eth(IPv6(src="fe80::1", dst="fe80::2") / UDP(sport=1, dport=7) / b"6"),
        "vlan_tagged": eth(Dot1Q(vlan=5) / ip() / ICMP(type=8) / b"v"),
        "not_for_us": eth(ip() / ICMP(type=8), dst="52:54:00:00:00:01"),
        "multicast_mac": eth(ip() / ICMP(type=8), dst="01:00:5e:00:00:01"),
    }
    out = {name: raw(frame) for name, frame in frames.items()}
    # A TCP header whose option list claims more than it holds (kind 2, length 40).
    bad = bytearray(out["tcp_syn_linux"])
    bad[14 + 20 + 20] = 2
    bad[14 + 20 + 21] = 40
    out["tcp_option_length_past_header"] = bytes(bad)
    # A TCP data offset larger than the segment.
    bad = bytearray(raw(eth(ip() / TCP(sport=40000, dport=ECHO, flags="S"))))
    bad[14 + 20 + 12] = 0xF0
    out["tcp_data_offset_past_end"] = bytes(bad)
    # Truncated at every layer boundary and in between.
    for name in ("icmp_echo_56", "udp_echo", "tcp_syn_linux", "arp_request"):
        for cut in (0, 1, 13, 14, 20, 33, 34, 38, 41, 42, 53):
            if cut < len(out[name]):
                out[f"{name}_cut{cut}"] = out[name][:cut]
    return out


def record(delay, frame):
    return struct.pack("!BH", delay, len(frame)) + frame


def frame_sequences():
    datagram = ip(id=0x4242) / UDP(sport=1234, dport=ECHO) / pattern(3000)
    pieces = [raw(eth(f)) for f in fragment(datagram, fragsize=1200)]
    overlapping = [raw(eth(ip(id=0x4343, flags="MF", frag=0) / pattern(800, 2))),
                   raw(eth(ip(id=0x4343, flags="MF", frag=50) / pattern(800, 3))),  # overlaps bytes 400..799
                   raw(eth(ip(id=0x4343, frag=150, proto=17) / pattern(300, 4)))]
    endless = [raw(eth(ip(id=0x4444 + i, flags="MF", frag=0, proto=17) / pattern(64, i))) for i in range(12)]
    arp = single_frames()
    tcp_syn = arp["tcp_syn_linux"]
    return {
        "fragments_in_order": b"".join(record(0, p) for p in pieces),
        "fragments_reversed": b"".join(record(1, p) for p in reversed(pieces)),
        "fragments_duplicated": b"".join(record(0, p) for p in pieces + pieces[:2]),
        "fragments_overlapping": b"".join(record(0, p) for p in overlapping),
        "fragments_never_complete_then_timeout": b"".join(record(0, p) for p in pieces[:-1]) + record(200, arp["udp_echo"]),
        "fragments_endless_ids": b"".join(record(0, p) for p in endless),
        "arp_then_ping": record(0, arp["arp_request"]) + record(2, arp["icmp_echo_56"]),
        "arp_spoof_then_ping": record(0, arp["arp_spoof_peer"]) + record(0, arp["icmp_echo_56"]),
        "syn_then_rst_then_syn": record(0, tcp_syn) + record(3, arp["tcp_rst"]) + record(3, tcp_syn),
        "udp_echo_burst": b"".join(record(0, arp["udp_echo"]) for _ in range(20)),
    }


# --- scripts for the stateful TCP harness (FuzzTcp.cpp explains the format) ---

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
SYN_OPTIONS = bytes.fromhex("020405b4" "01030307" "0402" "080a0001e24000000000")


def seg(flags, seq=0, ack=0, window=65535, options=b"", payload_words=0, conversation=0):
    return bytes([conversation << 7 | 0, flags, seq, ack]) + struct.pack("!H", window) + bytes([len(options)]) + \
        options + bytes([payload_words])


def wait(b):
    return bytes([5, b])


def app(action, index=0, arg=None, client=False):
    ops = bytes([7 if client else 6, action << 2 | index])
    return ops + (bytes([arg]) if arg is not None else b"")


ACCEPT, SEND, RECV, SHUTDOWN, CLOSE, ABORT, ZC_SEND = range(7)
PLAIN = 0
# Zero-copy recv at page offset 56 = 2 (driver) + 14 + 20 + 20: where a payload without TCP
# options starts in a receive page, so whole pages are remapped.
ZERO_COPY_AT_56 = 3
# The same, and when nothing is queued, post a buffer of the socket's own: frames read header first
# (FuzzDevice::inject, as the NE2000 reads them) put their payload straight into it.
ZERO_COPY_POSTED = 0x83
# NOP NOP timestamps: a data segment's headers are then the 66 bytes header-first receive expects.
TS_OPTION = bytes.fromhex("0101080a0001e24000000000")


def tcp_scripts():
    handshake = seg(SYN, options=SYN_OPTIONS) + wait(4) + seg(ACK) + app(ACCEPT)
    return {
        "server_echo_close": handshake + seg(PSH | ACK, payload_words=8) + app(RECV, arg=PLAIN) + app(SEND, arg=10) + wait(20) +
        seg(ACK) + seg(FIN | ACK) + app(CLOSE) + wait(20) + seg(ACK) + wait(255),
        "server_out_of_order": handshake + seg(ACK, seq=250, payload_words=100) + seg(ACK, payload_words=100) +
        seg(ACK, payload_words=100) + app(RECV, arg=PLAIN) + app(RECV, arg=PLAIN) + wait(10),
        "server_rst_in_window": handshake + seg(RST, seq=225) + seg(RST) + wait(10),
        "server_syn_in_established": handshake + seg(SYN, options=SYN_OPTIONS) + wait(10),
        "server_zero_window_persist": handshake + seg(ACK, window=0) + app(SEND, arg=200) + wait(60) + wait(120) +
        seg(ACK, window=8192) + wait(40),
        "server_retransmit_backoff": handshake + app(SEND, arg=255) + app(ZC_SEND, arg=100) +
        b"".join(wait(200) for _ in range(8)),
        "server_simultaneous_close": handshake + app(CLOSE) + seg(FIN | ACK) + wait(30) + seg(ACK) + wait(255),
        "server_half_close": handshake + app(SHUTDOWN) + seg(ACK) + seg(PSH | ACK, payload_words=4) + app(RECV, arg=PLAIN) +
        seg(FIN | ACK) + app(CLOSE) + wait(255),
        "client_connect_data_fin": app(ACCEPT, client=True) + wait(1) +
        seg(SYN | ACK, options=SYN_OPTIONS, conversation=1) + seg(PSH | ACK, payload_words=16, conversation=1) +
        app(RECV, arg=PLAIN, client=True) + app(SEND, arg=40, client=True) + wait(10) + seg(ACK, conversation=1) +
        seg(FIN | ACK, conversation=1) + app(CLOSE, client=True) + wait(10) + seg(ACK, conversation=1),
        "client_refused": app(ACCEPT, client=True) + wait(1) + seg(RST | ACK, conversation=1) + wait(10),
        "client_syn_timeout": app(ACCEPT, client=True) + b"".join(wait(255) for _ in range(6)),
        "abort_with_data_queued": handshake + app(SEND, arg=200) + app(ABORT) + wait(10),
        "server_posted_receive": seg(SYN, options=SYN_OPTIONS) + wait(4) + seg(ACK, options=TS_OPTION) +
        app(ACCEPT) + app(RECV, arg=ZERO_COPY_POSTED) +
        b"".join(seg(PSH | ACK, options=TS_OPTION, payload_words=181) for _ in range(3)) +
        app(RECV, arg=ZERO_COPY_POSTED) + app(RECV, arg=ZERO_COPY_POSTED) +
        seg(PSH | ACK, options=TS_OPTION, payload_words=181) + app(RECV, arg=ZERO_COPY_POSTED) +
        seg(FIN | ACK, options=TS_OPTION) + app(RECV, arg=ZERO_COPY_POSTED) + app(CLOSE) + wait(20) +
        seg(ACK, options=TS_OPTION) + wait(255),
        "server_zero_copy_receive": seg(SYN, options=SYN_OPTIONS) + wait(4) + seg(ACK) + app(ACCEPT) +
        b"".join(seg(PSH | ACK, payload_words=182) + app(RECV, arg=ZERO_COPY_AT_56) for _ in range(6)) +
        seg(FIN | ACK) + app(RECV, arg=ZERO_COPY_AT_56) + app(CLOSE) + wait(20) + seg(ACK) + wait(255),
    }


def write(directory, items):
    path = os.path.join(HERE, "corpus", directory)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name, data in sorted(items.items()):
        with open(os.path.join(path, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"corpus/{directory}: {len(items)} inputs, {sum(len(d) for d in items.values())} bytes")


def main():
    frames = single_frames()
    write("frame", frames)
    write("headers", frames)
    write("frames", frame_sequences())
    write("tcp", tcp_scripts())
    return 0


if __name__ == "__main__":
    sys.exit(main())

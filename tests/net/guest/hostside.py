#!/usr/bin/env python3
"""Host-side helpers for guest_net_test.py. They run *inside* the test's network namespace
(`ip netns exec NAME python3 hostside.py ...`), so every packet they send goes only to the tap
there. Each is bounded in count and time and prints one result line.

  udp-echo ADDRESS PORT          send datagrams of several sizes (up to a fragmented 4000 bytes)
                                 of random bytes to the echo service, check every byte comes back
  listen-pattern PORT LENGTH T   receive one datagram on 10.0.2.2:PORT within T seconds and check
                                 it is LENGTH bytes of the dmatest pattern (i * 31 + 7) mod 256
  flood ADDRESS PORT SECONDS     send 1400-byte UDP datagrams as fast as possible for SECONDS
  garbage TAP MAC COUNT          COUNT malformed or random Ethernet frames to MAC through the tap
                                 (AF_PACKET): runts, random EtherTypes, IPv4/ARP/ICMP/UDP/TCP
                                 headers with random fields and lengths, frames over 1514 bytes
  tcp-load ADDRESS MIB           MIB MiB of random bytes into the TCP sink (5001), then 256 KiB
                                 through the TCP echo service (7), compared
"""

import os
import socket
import sys
import time


def udp_echo(address: str, port: int) -> int:
    sizes = [1, 2, 17, 64, 512, 1000, 1471, 1472, 1473, 2000, 4000]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3.0)
    total = 0
    for size in sizes:
        payload = os.urandom(size)
        for attempt in range(3):  # UDP: a lost datagram is retried, a wrong one is a failure
            sock.sendto(payload, (address, port))
            try:
                data, peer = sock.recvfrom(65536)
            except socket.timeout:
                continue
            if data != payload:
                print(f"FAIL: {size}-byte echo came back as {len(data)} bytes, different content")
                return 1
            if peer != (address, port):
                print(f"FAIL: echo came from {peer}")
                return 1
            total += size
            break
        else:
            print(f"FAIL: no echo of a {size}-byte datagram in 3 tries")
            return 1
    print(f"OK udp-echo {len(sizes)} datagrams, {total} bytes, sizes {sizes[0]}-{sizes[-1]}, all bytes equal")
    return 0


def listen_pattern(port: int, length: int, seconds: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("10.0.2.2", port))
    sock.settimeout(seconds)
    print("READY", flush=True)
    try:
        data, peer = sock.recvfrom(65536)
    except socket.timeout:
        print(f"FAIL: nothing arrived on port {port} within {seconds} s")
        return 1
    expected = bytes((i * 31 + 7) & 0xFF for i in range(length))
    if data != expected:
        first = next((i for i in range(min(len(data), length)) if data[i] != expected[i]), None)
        print(f"FAIL: {len(data)} bytes from {peer}, expected {length}; first difference at {first}")
        return 1
    print(f"OK pattern {length} bytes from {peer[0]}:{peer[1]} intact")
    return 0


def flood(address: str, port: int, seconds: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    payload = os.urandom(1400)
    sent = dropped = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(64):
            try:
                sock.sendto(payload, (address, port))
                sent += 1
            except (BlockingIOError, OSError):
                dropped += 1
    rate = sent / seconds
    print(f"OK flood {sent} datagrams of 1400 bytes in {seconds:g} s ({rate:.0f}/s, "
          f"{rate * 1400 * 8 / 1e6:.0f} Mbit/s offered), {dropped} refused by the host")
    return 0


def tcp_load(address: str, mebibytes: int) -> int:
    import threading
    blob = os.urandom(mebibytes << 20)
    started = time.monotonic()
    with socket.create_connection((address, 5001), timeout=20) as sink:
        sink.sendall(blob)
        sink.shutdown(socket.SHUT_WR)
        sink.settimeout(20)
        if sink.recv(1) != b"":
            print("FAIL: the sink sent data back")
            return 1
    sink_seconds = time.monotonic() - started
    data = os.urandom(256 << 10)
    received = bytearray()
    with socket.create_connection((address, 7), timeout=20) as echo:
        def reader():
            while len(received) < len(data):
                chunk = echo.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)
        thread = threading.Thread(target=reader)
        thread.start()
        echo.sendall(data)
        thread.join(30)
    if bytes(received) != data:
        print(f"FAIL: TCP echo returned {len(received)} of {len(data)} bytes"
              f"{' (different content)' if len(received) == len(data) else ''}")
        return 1
    print(f"OK tcp-load {mebibytes} MiB into the sink in {sink_seconds:.2f} s "
          f"({mebibytes * 8.388608 / sink_seconds:.0f} Mbit/s), 256 KiB TCP echo intact")
    return 0


def garbage(tap: str, mac: str, count: int) -> int:
    import random
    import struct
    rng = random.Random(0x5EED)
    destination = bytes.fromhex(mac.replace(":", ""))
    source = bytes.fromhex("02" + "".join(f"{rng.randrange(256):02x}" for _ in range(5)))
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    raw.bind((tap, 0))
    guest_ip = socket.inet_aton("10.0.2.15")
    host_ip = socket.inet_aton("10.0.2.2")

    def ipv4(protocol: int, payload: bytes) -> bytes:
        total = rng.choice([20 + len(payload), rng.randrange(0, 70000) & 0xFFFF])
        ihl = rng.choice([5, 5, 5, rng.randrange(16)])
        flags = rng.choice([0, 0x4000, 0x2000, rng.randrange(65536)])
        header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, rng.randrange(65536), flags,
                             rng.randrange(256), protocol, rng.randrange(65536), host_ip, guest_ip)
        return header + bytes(rng.randrange(256) for _ in range(max(0, ihl * 4 - 20))) + payload

    def random_bytes(n: int) -> bytes:
        return bytes(rng.randrange(256) for _ in range(n))

    sent = refused = 0
    for i in range(count):
        kind = i % 8
        if kind == 0:
            frame = destination + source + random_bytes(rng.randrange(0, 4))  # runt
        elif kind == 1:
            frame = destination + source + struct.pack("!H", rng.randrange(65536)) + random_bytes(rng.randrange(0, 1500))
        elif kind == 2:
            frame = destination + source + b"\x08\x06" + random_bytes(rng.randrange(0, 60))  # ARP
        elif kind == 3:
            frame = destination + source + b"\x08\x00" + ipv4(1, random_bytes(rng.randrange(0, 1400)))
        elif kind == 4:
            frame = destination + source + b"\x08\x00" + ipv4(17, random_bytes(rng.randrange(0, 1400)))
        elif kind == 5:
            frame = destination + source + b"\x08\x00" + ipv4(6, random_bytes(rng.randrange(0, 1400)))
        elif kind == 6:
            frame = destination + source + b"\x08\x00" + random_bytes(rng.randrange(0, 100))
        else:
            frame = destination + source + b"\x08\x00" + random_bytes(rng.randrange(1515, 4000))  # too long
        try:
            raw.send(frame)
            sent += 1
        except OSError:
            refused += 1
        if i % 50 == 49:
            time.sleep(0.01)  # bounded rate: this is about content, not load
    print(f"OK garbage {sent} frames sent, {refused} refused by the host kernel (runts shorter than an Ethernet header)")
    return 0


def main() -> int:
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "udp-echo":
        return udp_echo(arguments[0], int(arguments[1]))
    if command == "listen-pattern":
        return listen_pattern(int(arguments[0]), int(arguments[1]), float(arguments[2]))
    if command == "garbage":
        return garbage(arguments[0], arguments[1], int(arguments[2]))
    if command == "tcp-load":
        return tcp_load(arguments[0], int(arguments[1]))
    if command == "flood":
        return flood(arguments[0], int(arguments[1]), float(arguments[2]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())

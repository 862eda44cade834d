#!/usr/bin/python3
"""Integration test of tools/faultrelay: frames move both ways, and each fault does what it says.

No guest is needed. Inside a fresh network namespace (`unshare --net`, gone when this script
exits) the test plays QEMU itself:

    fake QEMU (UDP socket or unix stream) <-> faultrelay <-> tap rtap0 (10.77.0.1) <-> kernel UDP sockets

 - "to-host": the fake QEMU sends hand-built Ethernet/IPv4/UDP frames from the pretend guest
   10.77.0.2 to 10.77.0.1:9000; the kernel behind the tap checks them and delivers them to a
   UDP socket, which counts what arrives (a corrupted frame fails the IP or UDP checksum there).
 - "to-guest": a UDP socket sends datagrams to 10.77.0.2:9001 (a permanent neighbour entry, so no
   ARP); the kernel writes them to the tap, the relay reads them and hands them to the fake QEMU.

Every load is bounded (a few hundred frames per scenario, a deadline on each); only processes
this script started are stopped, by PID; the machine's own interfaces are never touched.
Exit status 77 means skipped (no root, no /dev/net/tun, no unshare/ip), and says why.
"""
import argparse
import json
import math
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultrelay import FaultRelay  # noqa: E402

SKIP = 77
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; root may exceed net.core.rmem_max
TAP = "rtap0"
HOST_IP = "10.77.0.1"
GUEST_IP = "10.77.0.2"
GUEST_MAC = bytes.fromhex("020000000002")
HOST_PORT = 9000
GUEST_PORT = 9001

failures = []


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def check(condition, message):
    print(("  ok   " if condition else "  FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def enter_namespace():
    if os.environ.get("SKIFF_RELAY_NETNS_INSIDE") == "1":
        return
    if os.geteuid() != 0:
        skip("needs root to create a network namespace and a tap device")
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            skip(f"'{tool}' is not installed")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is missing")
    env = dict(os.environ, SKIFF_RELAY_NETNS_INSIDE="1")
    result = subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env)
    sys.exit(result.returncode)


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True)


# --- frames built by hand, with correct checksums ---

def ones_complement_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data):
    return (~ones_complement_sum(data)) & 0xFFFF


def ip4(text):
    return socket.inet_aton(text)


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload, ident):
    udp_length = 8 + len(payload)
    pseudo = ip4(src_ip) + ip4(dst_ip) + struct.pack("!BBH", 0, 17, udp_length)
    udp = struct.pack("!HHHH", sport, dport, udp_length, 0) + payload
    udp_sum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_length, ident, 0x4000, 64, 17, 0, ip4(src_ip), ip4(dst_ip))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return dst_mac + src_mac + b"\x08\x00" + header + udp


def frame_checksums_ok(frame):
    """True if the IPv4 header and UDP checksums of an Ethernet/IPv4/UDP frame verify."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00":
        return False
    ihl = (frame[14] & 0xF) * 4
    if ihl < 20 or len(frame) < 14 + ihl + 8 or ones_complement_sum(frame[14:14 + ihl]) != 0xFFFF:
        return False
    total = struct.unpack("!H", frame[16:18])[0]
    ip = frame[14:14 + total]
    if len(ip) != total or ip[9] != 17:
        return False
    udp = ip[ihl:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    return ones_complement_sum(pseudo + udp) == 0xFFFF


def parse_guest_frame(frame, tap_mac):
    """The payload of a to-guest test frame (our UDP to GUEST_PORT), or None."""
    if len(frame) < 42 or frame[0:6] != GUEST_MAC or frame[6:12] != tap_mac or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0xF) * 4
    if frame[23] != 17:
        return None
    udp = frame[14 + ihl:]
    if struct.unpack("!H", udp[2:4])[0] != GUEST_PORT:
        return None
    return bytes(udp[8:struct.unpack("!H", udp[4:6])[0]])


def payload(tag, n, size):
    head = f"{tag}{n:06d}".encode()
    return head + bytes((i * 7 + n) & 0xFF for i in range(max(0, size - len(head))))


def sequence(data):
    return int(data[1:7].decode())


# --- one run of the relay ---

class FakeQemu:
    """QEMU's side of the relay: a UDP socket (dgram netdev) or a unix stream connection."""

    def __init__(self, relay):
        self.relay = relay
        self.mode = relay.mode
        self.buffer = b""
        self.sock = None
        if self.mode == "dgram":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", relay.qemu_port))
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)

    def connect(self):
        if self.mode == "stream":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.relay.socket_path)
        self.sock.setblocking(False)

    def send(self, frame):
        if self.mode == "dgram":
            self.sock.sendto(frame, ("127.0.0.1", self.relay.relay_port))
        else:
            self.sock.setblocking(True)
            self.sock.sendall(struct.pack("!I", len(frame)) + frame)
            self.sock.setblocking(False)

    def receive(self):
        frames = []
        while True:
            try:
                data = self.sock.recv(70000)
            except BlockingIOError:
                break
            if self.mode == "dgram":
                frames.append(data)
                continue
            if not data:
                break
            self.buffer += data
        while self.mode == "stream" and len(self.buffer) >= 4:
            length = struct.unpack("!I", self.buffer[:4])[0]
            if len(self.buffer) < 4 + length:
                break
            frames.append(self.buffer[4:4 + length])
            self.buffer = self.buffer[4 + length:]
        return frames

    def close(self):
        if self.sock:
            self.sock.close()


class Result:
    pass


def run_relay(relay_binary, tap_mac, args, count_host=200, count_guest=200, size=100, spacing=0.001, mode="dgram",
              seed=1, settle=0.5):
    """Runs the relay with `args`, sends the frames both ways, collects what arrives."""
    workdir = tempfile.mkdtemp(prefix="skiff-relay-")
    log_path = os.path.join(workdir, "relay.log")
    relay = FaultRelay(relay_binary, TAP, faults=args, seed=seed, log=log_path, mode=mode, duration=60)
    qemu = FakeQemu(relay)
    try:
        relay.start()
    except RuntimeError as error:
        raise SystemExit(f"FAIL: {error}")
    qemu.connect()

    host_rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host_rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    host_rx.bind((HOST_IP, HOST_PORT))
    host_rx.setblocking(False)
    host_tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host_tx.bind((HOST_IP, 0))

    r = Result()
    r.host = []    # (payload, arrival time) received by the kernel socket
    r.guest = []   # (payload or None, raw frame, arrival time) received by the fake QEMU
    r.sent_host = {}
    r.sent_guest = {}

    def drain():
        now = time.monotonic()
        while True:
            try:
                data = host_rx.recv(70000)
            except BlockingIOError:
                break
            r.host.append((data, now))
        for frame in qemu.receive():
            r.guest.append((parse_guest_frame(frame, tap_mac), frame, now))

    # Warm-up: the tap's carrier comes up when the relay opens it, and the kernel may discard
    # what it sends out of the tap until its queue is active (and a loaded machine may be slow to
    # schedule the relay). Send probes to another port until one comes through, let stragglers
    # (delayed, duplicated) arrive, then throw them all away: the scenario starts on a live link.
    warm_until = time.monotonic() + 5
    while time.monotonic() < warm_until and not qemu.receive():
        host_tx.sendto(b"probe", (GUEST_IP, GUEST_PORT + 1))
        time.sleep(0.02)
    time.sleep(0.2)
    qemu.receive()

    for i in range(max(count_host, count_guest)):
        now = time.monotonic()
        if i < count_host:
            r.sent_host[i] = now
            qemu.send(udp_frame(tap_mac, GUEST_MAC, GUEST_IP, HOST_IP, GUEST_PORT, HOST_PORT,
                                payload("H", i, size), i & 0xFFFF))
        if i < count_guest:
            r.sent_guest[i] = now
            host_tx.sendto(payload("G", i, size), (GUEST_IP, GUEST_PORT))
        drain()
        time.sleep(spacing)
    deadline = time.monotonic() + 20
    quiet_since = time.monotonic()
    seen = 0
    while time.monotonic() < deadline and time.monotonic() - quiet_since < settle:
        select.select([host_rx, qemu.sock], [], [], 0.05)
        drain()
        if len(r.host) + len(r.guest) != seen:
            seen = len(r.host) + len(r.guest)
            quiet_since = time.monotonic()

    relay.stop()  # SIGTERM by PID: only the relay this function started
    r.exit_code = relay.exit_code
    r.output = relay.output
    r.counters = relay.counters
    with open(log_path) as f:
        r.log = f.read().splitlines()
    host_rx.close()
    host_tx.close()
    qemu.close()
    shutil.rmtree(workdir)
    r.guest_ours = [(p, t) for p, _, t in r.guest if p is not None]
    return r


def binomial_ok(observed, n, p):
    return abs(observed - n * p) <= 6 * math.sqrt(n * p * (1 - p))


def inversions(sequence_numbers):
    return sum(1 for a, b in zip(sequence_numbers, sequence_numbers[1:]) if b < a)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True, help="path to the faultrelay binary")
    args = parser.parse_args()
    if not os.access(args.relay, os.X_OK):
        print(f"FAIL: no relay binary at {args.relay}")
        sys.exit(1)
    enter_namespace()

    sh("ip", "link", "set", "lo", "up")
    sh("ip", "tuntap", "add", "dev", TAP, "mode", "tap")
    ipv6 = f"/proc/sys/net/ipv6/conf/{TAP}/disable_ipv6"
    if os.path.exists(ipv6):
        with open(ipv6, "w") as f:
            f.write("1")  # no router solicitations or DAD on the tap: only our frames cross it
    sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP)
    sh("ip", "link", "set", TAP, "up")
    sh("ip", "neigh", "add", GUEST_IP, "lladdr", GUEST_MAC.hex(":"), "dev", TAP, "nud", "permanent")
    # Not /sys/class/net: sysfs still shows the namespace that mounted it, not this one.
    link = json.loads(sh("ip", "-j", "link", "show", "dev", TAP).stdout)
    tap_mac = bytes.fromhex(link[0]["address"].replace(":", ""))
    started = time.monotonic()

    def frames_intact(r):
        host_ok = all(p == payload("H", sequence(p), len(p)) for p, _ in r.host)
        guest_ok = all(p == payload("G", sequence(p), len(p)) for p, _ in r.guest_ours)
        return host_ok and guest_ok

    for mode in ("dgram", "stream"):
        print(f"scenario: no faults, -netdev {mode} framing")
        r = run_relay(args.relay, tap_mac, [], mode=mode)
        check(r.exit_code == 0, f"relay exits 0 on SIGTERM (got {r.exit_code})")
        check([sequence(p) for p, _ in r.host] == list(range(200)), "to-host: all 200 frames arrive, in order")
        check([sequence(p) for p, _ in r.guest_ours] == list(range(200)), "to-guest: all 200 frames arrive, in order")
        check(frames_intact(r), "every payload arrives byte for byte")
        c = r.counters
        check(c.get("to-host", {}).get("forwarded") == 200 and c["to-host"]["received"] == 200,
              f"to-host counters: received=forwarded=200 ({c.get('to-host')})")
        check(c.get("to-guest", {}).get("forwarded", 0) >= 200, "to-guest counters: forwarded >= 200")
        check(len([l for l in r.log if " to-host " in l]) == 200, "the log has one line per to-host frame")

    print("scenario: drop 30% both ways, twice with the same seed, once with another")
    runs = [run_relay(args.relay, tap_mac, ["--drop", "30"], count_host=300, count_guest=300, seed=s)
            for s in (7, 7, 8)]
    for r in runs[:1]:
        c = r.counters
        check(len(r.host) == c["to-host"]["forwarded"], f"to-host: arrivals ({len(r.host)}) = forwarded counter")
        check(binomial_ok(c["to-host"]["dropped"], 300, 0.3), f"to-host: {c['to-host']['dropped']}/300 dropped ~ 30%")
        check(binomial_ok(300 - len(r.guest_ours), 300, 0.3), f"to-guest: {300 - len(r.guest_ours)}/300 lost ~ 30%")
        check(len([l for l in r.log if l.endswith(" drop")]) == c["to-host"]["dropped"] + c["to-guest"]["dropped"],
              "the log has a 'drop' line for every dropped frame")
        check(frames_intact(r), "what arrives is intact")
    delivered = [sorted(sequence(p) for p, _ in r.host) for r in runs]
    check(delivered[0] == delivered[1], "same seed: the same to-host frames are dropped")
    check(delivered[0] != delivered[2], "another seed: other frames are dropped")
    strip = [[l.split(" ", 1)[1] for l in r.log if " to-host " in l] for r in runs]
    check(strip[0] == strip[1], "same seed: the to-host log is identical apart from timestamps")

    print("scenario: duplicate 50% both ways")
    r = run_relay(args.relay, tap_mac, ["--dup", "50"])
    c = r.counters
    check(len(r.host) == 200 + c["to-host"]["duplicated"], f"to-host: 200 + {c['to-host']['duplicated']} duplicates arrive")
    # To-guest frames #0..#probes-1 were the warm-up probes: count only the duplicates after them.
    probes = c["to-guest"]["received"] - 200
    guest_dups = sum(1 for l in r.log if " to-guest " in l and " dup" in l and int(l.split()[2][1:]) >= probes)
    check(len(r.guest_ours) == 200 + guest_dups, f"to-guest: 200 + {guest_dups} duplicates arrive")
    check(binomial_ok(c["to-host"]["duplicated"], 200, 0.5), "to-host: duplicate count ~ 50%")
    check(set(sequence(p) for p, _ in r.host) == set(range(200)), "to-host: every frame arrives at least once")
    check(frames_intact(r), "duplicates are byte-identical")

    print("scenario: corrupt 100% both ways (every frame has one bit flipped past the Ethernet header)")
    r = run_relay(args.relay, tap_mac, ["--corrupt", "100"])
    c = r.counters
    check(c["to-host"]["corrupted"] == 200, "to-host: 200 frames corrupted")
    check(c["to-guest"]["corrupted"] == c["to-guest"]["received"] >= 200,
          f"to-guest: every frame corrupted (corrupted={c['to-guest']['corrupted']}, received={c['to-guest']['received']})")
    check(len(r.host) == 0, f"to-host: the kernel's checksums reject every one ({len(r.host)} got through)")
    to_guest = [f for _, f, _ in r.guest if f[0:6] == GUEST_MAC and f[6:12] == tap_mac and f[12:14] == b"\x08\x00"]
    check(len(to_guest) == 200, f"to-guest: all 200 arrive with the Ethernet header intact ({len(to_guest)})")
    check(all(not frame_checksums_ok(f) for f in to_guest), "to-guest: every one fails the IPv4 or UDP checksum")

    print("scenario: reorder 30% (gap 3) both ways")
    r = run_relay(args.relay, tap_mac, ["--reorder", "30", "--reorder-gap", "3"], count_host=300, count_guest=300)
    c = r.counters
    host_order = [sequence(p) for p, _ in r.host]
    guest_order = [sequence(p) for p, _ in r.guest_ours]
    check(sorted(host_order) == list(range(300)), "to-host: every frame arrives exactly once")
    check(sorted(guest_order) == list(range(300)), "to-guest: every frame arrives exactly once")
    check(inversions(host_order) > 20 and c["to-host"]["held"] > 20,
          f"to-host: frames arrive out of order ({inversions(host_order)} inversions, {c['to-host']['held']} held)")
    check(inversions(guest_order) > 20 and c["to-guest"]["held"] > 20,
          f"to-guest: frames arrive out of order ({inversions(guest_order)} inversions, {c['to-guest']['held']} held)")

    print("scenario: delay 40 ms ± 10 ms both ways, order kept")
    r = run_relay(args.relay, tap_mac, ["--delay", "40", "--jitter", "10"], count_host=100, count_guest=100,
                  spacing=0.002)
    host_latency = [t - r.sent_host[sequence(p)] for p, t in r.host]
    guest_latency = [t - r.sent_guest[sequence(p)] for p, t in r.guest_ours]
    check(len(host_latency) == 100 and len(guest_latency) == 100, "all frames arrive")
    c = r.counters
    check(c["to-host"]["delayed"] == c["to-host"]["received"] == 100
          and c["to-guest"]["delayed"] == c["to-guest"]["received"] >= 100,
          f"every frame counted as delayed (to-host {c['to-host']['delayed']}/{c['to-host']['received']}, "
          f"to-guest {c['to-guest']['delayed']}/{c['to-guest']['received']})")
    check(min(host_latency) >= 0.029 and min(guest_latency) >= 0.029,
          f"no frame arrives before 30 ms (min {min(host_latency) * 1e3:.1f} / {min(guest_latency) * 1e3:.1f} ms)")
    check(inversions([sequence(p) for p, _ in r.host]) == 0, "to-host: order kept")
    check(max(host_latency) < 1.0, f"to-host: max latency {max(host_latency) * 1e3:.1f} ms is bounded")

    print("scenario: rate 2 Mbit/s to-host (100 frames of 1000 bytes = 0.4 s of link time)")
    r = run_relay(args.relay, tap_mac, ["--rate", "to-host=2mbit"], count_host=100, count_guest=0, size=958,
                  spacing=0)
    times = [t for _, t in r.host]
    check(len(times) == 100, f"all 100 arrive ({len(times)})")
    span = times[-1] - min(r.sent_host.values()) if times else 0
    check(0.38 <= span <= 2.0, f"they take {span:.2f} s (the link needs 0.40 s)")

    print("scenario: rate 1 Mbit/s to-host with a 4 KiB queue tail-drops a burst")
    r = run_relay(args.relay, tap_mac, ["--rate", "to-host=1mbit", "--queue", "4k"], count_host=50, count_guest=0,
                  size=958, spacing=0)
    c = r.counters
    check(c["to-host"]["rate_dropped"] > 0, f"rate-dropped {c['to-host']['rate_dropped']} of 50")
    check(len(r.host) == c["to-host"]["forwarded"] == 50 - c["to-host"]["rate_dropped"],
          "arrivals = forwarded = 50 - rate_dropped")

    print(f"relay test: {time.monotonic() - started:.1f} s, {len(failures)} failure(s)")
    sh("ip", "link", "del", TAP, check=False)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

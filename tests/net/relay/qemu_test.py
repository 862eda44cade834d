#!/usr/bin/python3
"""faultrelay against a real QEMU 7.2: both netdev framings, both directions, no Skiff guest.

The guest is QEMU's own e1000 boot ROM (iPXE, run by SeaBIOS with `-boot n`): it sends DHCP
DISCOVERs. Inside a fresh network namespace (`unshare --net`) the test listens on the tap with a
packet socket, answers the DISCOVER with a DHCP OFFER written to the tap, and waits for iPXE's
DHCP REQUEST, which it only sends after receiving the OFFER. So:

    iPXE --DISCOVER--> QEMU --(dgram|stream)--> faultrelay --> tap   proves to-host
    tap --OFFER--> faultrelay --> QEMU --> iPXE --REQUEST--> ...    proves to-guest

and it checks the exact `-netdev dgram` / `-netdev stream` syntax the relay's README gives.
Bounded: one QEMU at a time, 60 s each at most, killed by PID; exit 77 (skip) without root,
/dev/net/tun, unshare, ip or QEMU's e1000 ROM.
"""
import argparse
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
TAP = "qtap0"
SERVER_IP = "10.77.1.1"
OFFERED_IP = "10.77.1.50"
GUEST_MAC = bytes.fromhex("525400123499")
ETH_P_ALL = 0x0003
QEMU = "qemu-system-x86_64"
# QEMU finds the e1000 boot ROM (iPXE) in its data directory; Debian ships it in ipxe-qemu.
ROMS = ("/usr/share/qemu/efi-e1000.rom", "/usr/lib/ipxe/qemu/efi-e1000.rom")


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def enter_namespace():
    if os.environ.get("SKIFF_RELAY_QEMU_INSIDE") == "1":
        return
    if os.geteuid() != 0:
        skip("needs root to create a network namespace and a tap device")
    for tool in ("unshare", "ip", QEMU):
        if shutil.which(tool) is None:
            skip(f"'{tool}' is not installed")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is missing")
    if not any(os.path.exists(rom) for rom in ROMS):
        skip("QEMU's e1000 boot ROM efi-e1000.rom (package ipxe-qemu) is missing")
    env = dict(os.environ, SKIFF_RELAY_QEMU_INSIDE="1")
    sys.exit(subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env).returncode)


def sh(*cmd):
    subprocess.run(list(cmd), check=True, capture_output=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def dhcp_message_type(frame):
    """(xid, DHCP message type) of a DHCP frame from the guest, or None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[6:12] != GUEST_MAC or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0xF) * 4
    if frame[23] != 17:
        return None
    udp = frame[14 + ihl:]
    if struct.unpack("!HH", udp[:4]) != (68, 67):
        return None
    bootp = udp[8:]
    if bootp[236:240] != b"\x63\x82\x53\x63":
        return None
    xid = bootp[4:8]
    options = bootp[240:]
    i = 0
    while i + 1 < len(options) and options[i] != 255:
        if options[i] == 0:
            i += 1
            continue
        if options[i] == 53:
            return xid, options[i + 2]
        i += 2 + options[i + 1]
    return None


def dhcp_offer(xid, server_mac):
    options = bytes([53, 1, 2, 54, 4]) + socket.inet_aton(SERVER_IP) + bytes([51, 4, 0, 0, 0x0E, 0x10, 1, 4]) + \
        socket.inet_aton("255.255.255.0") + bytes([255])
    bootp = struct.pack("!BBBB4sHH4s4s4s4s16s64s128s", 2, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4,
                        socket.inet_aton(OFFERED_IP), socket.inet_aton(SERVER_IP), b"\0" * 4,
                        GUEST_MAC + b"\0" * 10, b"", b"") + b"\x63\x82\x53\x63" + options
    udp = struct.pack("!HHHH", 67, 68, 8 + len(bootp), 0) + bootp  # UDP checksum 0: none (RFC 768)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(SERVER_IP),
                     socket.inet_aton("255.255.255.255"))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + server_mac + b"\x08\x00" + ip + udp


def run(relay_binary, mode, workdir, extra, every_frame=()):
    """every_frame: relay counters that must equal `received` in both directions (the faults in
    `extra` hit every frame)."""
    name = f"{mode}{'+faults' if extra else ''}"
    relay = FaultRelay(relay_binary, TAP, faults=extra, seed=3, mode=mode, duration=90,
                       log=os.path.join(workdir, f"relay-{mode}.log"), relay_port=41001, qemu_port=41000).start()
    netdev = relay.netdev("n0")
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    capture.bind((TAP, 0))
    tap_mac = capture.getsockname()[4]
    qemu = subprocess.Popen([QEMU, "-machine", "pc", "-accel", "tcg", "-m", "32", "-nodefaults", "-display", "none",
                             "-serial", "none", "-boot", "n", "-netdev", netdev,
                             "-device", f"e1000,netdev=n0,mac={GUEST_MAC.hex(':')}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    seen = []
    offers = 0
    request_after = None
    while time.monotonic() - started < 60 and request_after is None:
        ready, _, _ = select.select([capture], [], [], 0.5)
        if not ready:
            if qemu.poll() is not None:
                break
            continue
        frame, address = capture.recvfrom(65536)
        if address[2] == socket.PACKET_OUTGOING:
            continue  # our own OFFER going out of the tap
        message = dhcp_message_type(frame)
        if message is None:
            continue
        xid, kind = message
        seen.append(kind)
        if kind == 1:  # DISCOVER -> OFFER
            capture.send(dhcp_offer(xid, tap_mac))
            offers += 1
        elif kind == 3 and offers:  # REQUEST: iPXE got our OFFER through the relay
            request_after = time.monotonic() - started
    qemu.terminate()  # by PID: only what this test started
    try:
        qemu.wait(timeout=10)
    except subprocess.TimeoutExpired:
        qemu.kill()
        qemu.wait()
    relay.stop()
    capture.close()
    counters = [l for l in relay.output.splitlines() if " received=" in l]
    ok = request_after is not None
    # The faults asked for were injected (a relay that passed frames untouched would pass DHCP too).
    for side in ("to-host", "to-guest") if every_frame else ():
        c = relay.counters.get(side, {})
        if not (c.get("received", 0) > 0 and all(c.get(counter) == c["received"] for counter in every_frame)):
            print(f"  FAIL {name}: {side}: not every frame {' and '.join(every_frame)}: {c}", flush=True)
            ok = False
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: DHCP messages from the guest {seen}, "
          f"{offers} OFFER(s) sent; REQUEST after {request_after:.1f} s" if ok else
          f"  FAIL {name}: DHCP messages from the guest {seen}, {offers} OFFER(s) sent, no REQUEST in 60 s "
          f"(relay: {relay.banner.strip()}; QEMU: {qemu.stderr.read().strip()[:300]})", flush=True)
    for line in counters:
        print("       " + line)
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True)
    args = parser.parse_args()
    enter_namespace()
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "tuntap", "add", "dev", TAP, "mode", "tap")
    ipv6 = f"/proc/sys/net/ipv6/conf/{TAP}/disable_ipv6"
    if os.path.exists(ipv6):
        with open(ipv6, "w") as f:
            f.write("1")
    sh("ip", "addr", "add", f"{SERVER_IP}/24", "dev", TAP)
    sh("ip", "link", "set", TAP, "up")
    workdir = tempfile.mkdtemp(prefix="skiff-relay-qemu-")
    results = [run(args.relay, "dgram", workdir, []),
               run(args.relay, "stream", workdir, []),
               # Every frame duplicated both ways and delayed: DHCP still completes.
               run(args.relay, "dgram", workdir, ["--dup", "100", "--delay", "5"], every_frame=("duplicated", "delayed"))]
    shutil.rmtree(workdir)
    print(f"relay against QEMU: {sum(results)}/{len(results)} passed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

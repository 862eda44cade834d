#!/usr/bin/python3
"""The mapped packet ring on the wire (docs/userspace.md, `ringdump`): Skiff in QEMU with a real NIC
model on a tap inside a network namespace this test creates and deletes; scapy on the host side.

  - the host sends 24 frames of EtherType 0x88b5 to the guest's MAC, each carrying its number;
    `ringdump -e 0x88b5` in the guest sees every one, in order, with the right bytes, and all of
    them arrived by remapping the NIC's page into the ring (RingStats: 24 remapped, 0 copied);
  - `ringdump -x 10` then transmits 10 frames from its transmit ring; the host receives all ten,
    from the guest's MAC, with their numbers;
  - capture mode (`ringdump -a`) sees frames the protocols also get (the host's pings), copied, and
    the pings are still answered;
  - `resources` is back at its baseline after each run (the ring's pages, the task, the frames).

Needs root (the namespace and its tap); exits 77 without it. The host side runs as a child of this
script inside the namespace (`host-send`, `host-sniff`), with Debian's Python for scapy.

Usage: ring_test.py NIC [--kernel IMAGE]        (NIC: e1000, ne2k-pci)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))

SKIP = 77
TAP = "skiffring"
GUEST = "10.0.2.15"
GUEST_MAC = "52:54:00:12:34:56"
ETHER_TYPE = 0x88B5
FRAMES_IN = 24
FRAMES_OUT = 10
HARNESS = "panic=exit"


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(message + ("\n" + detail if detail else ""))


def ok(message: str) -> None:
    print(f"ok: {message}", flush=True)


def scapy():
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    import scapy.all as s  # noqa: F401
    return s


# -- the host side (run inside the namespace) ------------------------------------------------------

def host_send(tap: str, count: int) -> int:
    s = scapy()
    our_mac = open(f"/sys/class/net/{tap}/address").read().strip()
    for i in range(count):
        payload = f"skiff ring test {i:03d}".encode().ljust(46, b".")
        s.sendp(s.Ether(dst=GUEST_MAC, src=our_mac, type=ETHER_TYPE) / s.Raw(payload), iface=tap, verbose=False)
        time.sleep(0.01)  # an NE2000's ring holds a handful of frames
    print(json.dumps({"sent": count, "mac": our_mac}))
    return 0


def host_sniff(tap: str, count: int, seconds: float) -> int:
    s = scapy()
    got = s.sniff(iface=tap, count=count, timeout=seconds,
                  lfilter=lambda p: p.haslayer(s.Ether) and p[s.Ether].type == ETHER_TYPE
                  and p[s.Ether].src.lower() == GUEST_MAC)
    frames = [{"src": p[s.Ether].src, "dst": p[s.Ether].dst, "payload": bytes(p[s.Ether].payload)[:32].hex()}
              for p in got]
    print(json.dumps({"frames": frames}))
    return 0


# -- the test ------------------------------------------------------------------------------------

def resources(guest) -> dict:
    output = guest.command("resources", timeout=20)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", output)}


def comparable(values: dict) -> dict:
    # TIME-WAIT and half-open TCP sockets come and go with the host's own traffic. The heap keeps up
    # to one empty slab page per size class (heap_cached): counted with the free frames.
    result = {k: v for k, v in values.items() if k not in ("tcp_sockets", "tcp_timewait", "tcp_half_open", "heap_cached")}
    result["frames_free"] = values["frames_free"] + values.get("heap_cached", 0)
    return result


def check_baseline(guest, baseline: dict, what: str) -> None:
    deadline = time.monotonic() + 8
    while True:
        now = resources(guest)
        if comparable(now) == comparable(baseline):
            ok(f"after {what}: resources at the baseline (frames_free={now['frames_free']})")
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"after {what}: resources {now}, baseline {baseline}")
        time.sleep(0.5)


def run(args) -> None:
    import skiffqemu
    from skiffqemu import Guest, NetNamespace

    problem = NetNamespace.problem()
    if problem:
        print(f"SKIP: {problem}")
        sys.exit(SKIP)
    me = [sys.executable, os.path.abspath(__file__)]
    with NetNamespace(tap=TAP) as ns, Guest(name=f"net-ring-{args.nic}", netns=ns, nic=args.nic, kernel=args.kernel,
                                            append=HARNESS) as guest:
        guest.expect_prompt(timeout=120)
        # Warm up (the first task of its kind grows the heap's slabs once), then the baseline.
        guest.command("run ringdump -W 1", timeout=60)
        baseline = resources(guest)

        guest.send_line(f"run ringdump -e 0x88b5 -c {FRAMES_IN} -p -W 30 -x {FRAMES_OUT}")
        guest.expect(r"ringdump: ring of \d+ slots for EtherType 0x88b5 on " + GUEST_MAC, timeout=30)
        sniffer = ns.popen([*me, "host-sniff", TAP, str(FRAMES_OUT), "60"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the sniffer listening before anything is sent
        sent = ns.run([*me, "host-send", TAP, str(FRAMES_IN)], timeout=120)
        check(sent.returncode == 0, f"host-send failed: {sent.stderr}")
        output = skiffqemu.clean_text(guest.expect_prompt(timeout=90))
        sniffed, _ = sniffer.communicate(timeout=90)
        lines = re.findall(r"(?m)^ringdump: #(\d+) (\d+) bytes (\S+) > (\S+) type 0x88b5 data ([0-9a-f]+)$", output)
        check(len(lines) == FRAMES_IN, f"ringdump printed {len(lines)} frames, the host sent {FRAMES_IN}", output)
        for index, (sequence, length, source, destination, data) in enumerate(lines):
            text = bytes.fromhex(data).decode(errors="replace")
            check(int(sequence) == index, f"frame {index} came as number {sequence}", output)
            check(destination == GUEST_MAC, f"frame {index} for {destination}", output)
            check(text.startswith(f"skiff ring test {index:03d}"), f"frame {index} carries {text!r}", output)
        summary = re.search(r"ringdump: received (\d+) frames \((\d+) bytes\): (\d+) remapped, (\d+) copied, (\d+) dropped",
                            output)
        check(summary is not None, "ringdump printed no summary", output)
        received, _, remapped, copied, dropped = (int(x) for x in summary.groups())
        check(received == FRAMES_IN and remapped == FRAMES_IN and copied == 0,
              f"{received} received, {remapped} remapped, {copied} copied: not every frame arrived without a copy",
              output)
        ok(f"{args.nic}: {FRAMES_IN} frames of 0x88b5 from scapy arrived in the ring in order, bytes intact, "
           f"{remapped} remapped and {copied} copied ({dropped} dropped)")
        transmitted = re.search(r"ringdump: transmitted (\d+) frames \((\d+) errors\)", output)
        check(transmitted is not None and int(transmitted.group(1)) == FRAMES_OUT and transmitted.group(2) == "0",
              "ringdump did not transmit every frame", output)
        frames = json.loads(sniffed.strip().splitlines()[-1])["frames"]
        numbers = sorted(int(bytes.fromhex(f["payload"]).split(b"\0")[0].decode().rsplit(" ", 1)[1]) for f in frames)
        check(numbers == list(range(FRAMES_OUT)), f"the host saw frames {numbers} of the {FRAMES_OUT} sent", sniffed)
        check(all(f["dst"] == "ff:ff:ff:ff:ff:ff" for f in frames), "a transmitted frame was not broadcast", sniffed)
        ok(f"{args.nic}: the host received all {FRAMES_OUT} frames ringdump sent from its transmit ring")
        check_baseline(guest, baseline, "the ring")

        # Capture: every frame, copied, while the protocols still answer the host's pings.
        guest.send_line("run ringdump -a -c 4 -W 20")
        guest.expect(r"ringdump: ring of \d+ slots capturing every frame", timeout=30)
        pings = ns.run(["ping", "-c", "4", "-i", "0.3", "-W", "5", GUEST], timeout=60)
        output = skiffqemu.clean_text(guest.expect_prompt(timeout=60))
        check(pings.returncode == 0, "the guest did not answer pings while a capture ring ran", pings.stdout)
        summary = re.search(r"received (\d+) frames \(\d+ bytes\): (\d+) remapped, (\d+) copied", output)
        check(summary is not None and int(summary.group(1)) == 4 and int(summary.group(3)) == 4,
              "the capture ring did not copy four frames", output)
        ok(f"{args.nic}: capture: 4 frames copied into the ring while the stack answered the pings too")
        check_baseline(guest, baseline, "the capture ring")
        guest.send_line("poweroff 0")
        guest.wait_exit(20)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "host-send":
        return host_send(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "host-sniff":
        return host_sniff(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("nic", choices=("e1000", "ne2k-pci"))
    parser.add_argument("--kernel", default=os.path.join(ROOT, "build", "x86_64", "skiff.elf"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root for a network namespace and its tap")
        return SKIP
    from skiffqemu import GuestError
    try:
        run(args)
    except (CheckFailed, GuestError) as failure:
        print(f"FAIL: {failure}", flush=True)
        return 1
    print(f"PASS: net.ring.{args.nic}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The Linux reference guest works as the benchmarks need it (qemu/linux/README.md): the image is
built from Debian packages (or found up to date), boots on the e1000 attached to a tap inside a
network namespace this test creates and deletes, configures 10.0.2.15/24 from its kernel command
line, answers ping, reports Linux's default e1000 offloads, and moves TCP data both ways with
iperf 2:

  host -> guest   host `iperf -c 10.0.2.15 -t 3` into the guest's `iperf -s`: the host reports a
                  transfer, and the guest's eth0 received at least that many bytes (/proc/net/dev)
  guest -> host   guest `iperf -c 10.0.2.2 -l 8192 -n 4M` into the host's `iperf -s`: the host
                  counts exactly 4 MiB, and the guest's eth0 sent at least that many bytes

CTest: net.linux.smoke (label `net`). Needs root (exit 77 otherwise, a loud skip) and, the first
time, Debian's mirror for `apt-get download` (a failure then is a failure, not a skip).

By hand, the same checks on the ne2k-pci (offloads not checked: that driver has none) or on the
arm64 guest (qemu-system-aarch64 -M virt; `qemu/linux/build --arch arm64` first adds apt's arm64
architecture):

    sudo tests/net/linux/linux_smoke.py --nic ne2k-pci
    sudo tests/net/linux/linux_smoke.py --arch arm64 --nic e1000

Usage: linux_smoke.py [--arch amd64|arm64] [--nic e1000|ne2k-pci] [--image-dir DIR] [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))
sys.path.insert(0, os.path.join(ROOT, "qemu", "linux"))

import guestimage  # noqa: E402
from linuxguest import LinuxGuest  # noqa: E402
from skiffqemu import GuestError, NetNamespace  # noqa: E402

SKIP = 77
GUEST = "10.0.2.15"
HOST = "10.0.2.2"
TAP = "linuxtap"
NAME = "net.linux.smoke"


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(message + ("\n" + detail if detail else ""))


def csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.splitlines() if line.count(",") >= 8]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(guestimage.ARCHES), default="amd64")
    parser.add_argument("--nic", choices=("e1000", "ne2k-pci"), default="e1000")
    parser.add_argument("--image-dir", default=None, help="default build/linux-guest (arm64: build/linux-guest-arm64)")
    parser.add_argument("--log-dir", default=os.path.join(ROOT, "build", "x86_64", "test-logs"))
    args = parser.parse_args()
    problem = NetNamespace.problem()
    if problem:
        print(f"SKIP: {NAME}: {problem}", flush=True)
        return SKIP
    try:
        started = time.monotonic()
        manifest = guestimage.build(args.image_dir, arch=args.arch)
        print(f"{NAME}: image {manifest['kernel_package']}, initramfs {manifest['initramfs_bytes'] // 1024} KiB "
              f"({time.monotonic() - started:.1f} s to build or check)", flush=True)
        with NetNamespace(tap=TAP) as ns, LinuxGuest(name=f"net-linux-smoke-{args.arch}-{args.nic}", netns=ns,
                                                      nic=args.nic, arch=args.arch, image_dir=args.image_dir,
                                                      log_dir=args.log_dir) as linux:
            ready = linux.wait_ready(timeout=180)
            print(f"{NAME}: namespace {ns.name}, accel {linux.accel}, booted in {linux.first_prompt_at:.1f} s: "
                  f"{ready}", flush=True)
            check(f"eth0 driver {args.nic}" in ready and "10.0.2.15/24" in ready and "mtu 1500" in ready,
                  f"the ready line does not show {args.nic} at 10.0.2.15/24, MTU 1500", ready)

            ping = ns.run(["ping", "-n", "-c", "3", "-i", "0.3", "-W", "5", GUEST], timeout=60)
            check(ping.returncode == 0 and " 0% packet loss" in ping.stdout, "the guest does not answer ping",
                  ping.stdout + ping.stderr)
            print("ok: ping", flush=True)

            offloads = linux.offloads()
            shown = ("tcp-segmentation-offload", "scatter-gather", "tx-checksumming")
            if args.nic == "e1000":
                for feature in shown:
                    check(offloads.get(feature, "").startswith("on"), f"ethtool -k: {feature} is not on", str(offloads))
            print(f"ok: {args.nic} offloads as Linux sets them: "
                  + ", ".join(f"{k} {offloads.get(k)}" for k in shown), flush=True)

            # host -> guest
            linux.command("iperf -s -p 5001 >/tmp/iperf-s.log 2>&1 &")
            time.sleep(0.5)
            before = linux.interface_counters()
            host = ns.run(["iperf", "-c", GUEST, "-p", "5001", "-t", "3", "-y", "C"], timeout=60)
            rows = csv_rows(host.stdout)
            check(host.returncode == 0 and rows, "host iperf -c printed no report", host.stdout + host.stderr)
            sent = int(rows[-1][7])
            received = linux.interface_counters()["rx_bytes"] - before["rx_bytes"]
            check(sent > 0 and received >= sent, f"host->guest: iperf sent {sent} bytes, eth0 received {received}")
            print(f"ok: host->guest: iperf -c sent {sent} bytes ({int(rows[-1][8]) / 1e6:.1f} Mbit/s), "
                  f"eth0 received {received}", flush=True)

            # guest -> host
            total = 4 * 1024 * 1024
            server = ns.popen(["iperf", "-s", "-p", "5011", "-y", "C"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(0.5)
                before = linux.interface_counters()
                status, output = linux.run(f"timeout 60 iperf -c {HOST} -p 5011 -l 8192 -n {total}", timeout=75)
                time.sleep(1.0)  # iperf -s prints its line once the connection has closed
            finally:
                server.terminate()  # iperf -s runs until stopped; our own child, by its PID
                csv, errors = server.communicate(timeout=10)
            check(status == 0, f"guest iperf -c exited {status}", output)
            rows = csv_rows(csv)
            check(rows and int(rows[-1][7]) == total, f"host iperf -s did not count {total} bytes", csv + errors)
            sent = linux.interface_counters()["tx_bytes"] - before["tx_bytes"]
            check(sent >= total, f"guest->host: eth0 sent {sent} bytes, less than the {total} iperf counted")
            print(f"ok: guest->host: iperf -s counted {total} bytes ({int(rows[-1][8]) / 1e6:.1f} Mbit/s), "
                  f"eth0 sent {sent}", flush=True)

            linux.poweroff()
            check(linux.returncode == 0, f"poweroff -f: QEMU exited {linux.returncode}, not 0 (ACPI power-off)")
    except guestimage.BuildError as failure:
        print(f"FAIL {NAME}: building the Linux guest: {failure}", flush=True)
        return 1
    except (CheckFailed, GuestError, subprocess.TimeoutExpired) as failure:
        print(f"FAIL {NAME}: {failure}", flush=True)
        return 1
    print(f"PASS {NAME} ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

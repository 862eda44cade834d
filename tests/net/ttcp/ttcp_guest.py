#!/usr/bin/env python3
"""The guest's `ttcp` console command against the host tool, over a real NIC model attached to a
tap inside a network namespace this script creates and deletes (the machine's own interfaces are
never touched). One CTest test per NIC (label `net`):

  host -> guest TCP   host `ttcp -t -H -R seed`, guest `ttcp -r -s -H -R seed`: the guest checks
                      every byte against the seed and both SHA-256 lines are equal; with -z on and
                      with -z off
  guest -> host TCP   guest `ttcp -t -s -H`, host `ttcp -r -s -H`: byte counts and digests equal;
                      with -z on and with -z off. On the e1000 the data leaves as TSO units
                      (`nicstat`: units counted, more than two segments each); the NE2000s, with
                      no TSO, count none
  UDP host -> guest   start/end markers, paced with -w 5000 (an NE2000's ring holds ten frames):
                      the guest counts and checks exactly what was sent
  write before ACK    (with --write-before-ack) guest `ttcp -t -R seed -z cow`: the buffer is
                      rewritten before each send while TCP still holds its pages; the host checks
                      every byte against the seed, and `mem` must show COW faults during the run.
                      Passes on all three NICs since the stack reads pinned pieces through the
                      pinned frame (docs/zero-copy.md); CTest runs it in net.zerocopy.*
  UDP guest -> host   the host counts and checks exactly what the guest sent
  guest -> iperf -s   the guest's ttcp -t into Debian's iperf 2 server: iperf counts it
  jumbo frames        (at MTU 1500) the tap goes to MTU 9000 and the host pings with 8000-byte
                      unfragmentable datagrams and with frames two bytes over the MTU: no reply,
                      every frame counted as oversize and dropped (`ifconfig`), then back to normal
  --mtu N             the tap and the guest (mtu=N) at another MTU; the guest receives with -l 65536
                      (whole pages) and its transfers are checked the same way
  after each transfer free frames, pages pinned for send and packet buffers in use are back to
                      the baseline taken after a warm-up transfer (`mem`, `nicstat`)

The guest's own ttcp/iperf sink service holds port 5001, so the guest's receiver uses -p 5010.
Sizes are kept small (TCG is slow); throughput figures are printed as REPORT lines but are not
the benchmark (that is qemu/bench, docs/benchmarks.md). Needs root; without it the test skips
loudly (exit 77).

Usage: ttcp_guest.py NIC --kernel ELF --ttcp HOST_TTCP [--megabytes N] [--mtu N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))

from skiffqemu import Guest, GuestError, NetNamespace, clean_text  # noqa: E402

SKIP = 77
GUEST = "10.0.2.15"
HOST = "10.0.2.2"
TAP = "skifftap"
GUEST_PORT = 5010
HOST_PORT = 5011
NICS = ("e1000", "ne2k-pci", "ne2k")  # qemu/skiffqemu.py names; ne2k is the ISA card

SUMMARY = re.compile(r"^ttcp-(?P<side>[tr]): (?P<bytes>\d+) bytes in (?P<seconds>\d+\.\d\d) real seconds = "
                     r"(?P<rate>\d+\.\d\d) KB/sec \+\+\+$", re.M)
DIGEST = re.compile(r"^ttcp-(?P<side>[tr]): sha256 (?P<hex>[0-9a-f]{64}) \((?P<bytes>\d+) bytes\)$", re.M)


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(message + ("\n" + detail if detail else ""))


def one(pattern: re.Pattern, text: str, side: str, what: str) -> re.Match:
    found = [m for m in pattern.finditer(text) if m.group("side") == side]
    check(len(found) == 1, f"ttcp-{side}: expected one {what} line, found {len(found)}", text)
    return found[0]


def wait_reachable(ns: NetNamespace, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ns.run(["ping", "-c", "1", "-W", "1", GUEST], timeout=10).returncode == 0:
            return
    raise CheckFailed(f"the guest did not answer ping within {seconds:.0f} s")


def mbit(match: re.Match) -> str:
    kb_per_s = float(match.group("rate"))
    return f"{kb_per_s * 1024 * 8 / 1e6:.1f} Mbit/s"


def guest_receives(ns, guest, command, host_argv, timeout):
    """Starts a receiver on the guest console, runs the host transmitter, waits for the prompt;
    returns the host's result and what the guest printed."""
    start = len(guest.output)
    guest.send_line(command)
    guest.expect(r"ttcp-r: buflen=", timeout=10)
    time.sleep(0.5)  # the banner comes just before the socket is listening
    host = ns.run(host_argv, timeout=timeout)
    guest.expect_prompt(timeout=timeout)
    return host, clean_text(guest.output[start:])


def host_to_guest(ns, guest, ttcp, zc, count, length=1460, seed=4242, guest_length=None):
    read = f" -l {guest_length}" if guest_length else ""
    host, text = guest_receives(ns, guest, f"ttcp -r -s -H -R {seed} -z {zc}{read} -p {GUEST_PORT}",
                                [ttcp, "-t", "-H", "-R", str(seed), "-l", str(length), "-n", str(count),
                                 "-p", str(GUEST_PORT), GUEST], timeout=300)
    check(host.returncode == 0, f"host ttcp -t exited {host.returncode}", host.stderr + text)
    total = length * count
    sent = one(SUMMARY, host.stderr, "t", "summary")
    received = one(SUMMARY, text, "r", "summary")
    check(int(sent.group("bytes")) == total and int(received.group("bytes")) == total,
          f"bytes sent {sent.group('bytes')}, received {received.group('bytes')}, want {total}", text)
    check(f"payload matches seed {seed}: {total} bytes checked" in text, "the guest's payload check failed", text)
    check(one(DIGEST, host.stderr, "t", "sha256").group("hex") == one(DIGEST, text, "r", "sha256").group("hex"),
          "the SHA-256 lines differ", host.stderr + text)
    return received


def guest_to_host(ns, guest, ttcp, zc, count, length=1460):
    receiver = ns.popen([ttcp, "-r", "-s", "-H", "-p", str(HOST_PORT)], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        output = guest.command(f"ttcp -t -s -H -z {zc} -l {length} -n {count} -p {HOST_PORT} {HOST}", timeout=300)
        _, host_text = receiver.communicate(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()  # our own child, by its PID
            receiver.wait()
    total = length * count
    sent = one(SUMMARY, output, "t", "summary")
    received = one(SUMMARY, host_text, "r", "summary")
    check(int(sent.group("bytes")) == total and int(received.group("bytes")) == total,
          f"bytes sent {sent.group('bytes')}, received {received.group('bytes')}, want {total}", output + host_text)
    check(one(DIGEST, output, "t", "sha256").group("hex") == one(DIGEST, host_text, "r", "sha256").group("hex"),
          "the SHA-256 lines differ", output + host_text)
    return received


TSO_COUNTS = re.compile(r"TSO units (\d+)  TSO segments (\d+)")


def tso_counts(guest) -> tuple[int, int]:
    """The NIC's TSO units and the segments they became, from `nicstat`."""
    output = guest.command("nicstat", timeout=20)
    match = TSO_COUNTS.search(output)
    check(match is not None, "`nicstat` shows no TSO counts", output)
    return int(match.group(1)), int(match.group(2))


def check_tso(nic: str, before: tuple[int, int], after: tuple[int, int], what: str) -> str:
    """The e1000 offers TSO, so a bulk guest->host transfer leaves as units of several segments;
    the NE2000s have none, so the same code sends single segments and counts no unit."""
    units, segments = after[0] - before[0], after[1] - before[1]
    if nic == "e1000":
        check(units > 0 and segments > 2 * units, f"{what}: {units} TSO units, {segments} segments on the e1000",
              str((before, after)))
    else:
        check(units == 0 and segments == 0, f"{what}: TSO units counted on {nic}", str((before, after)))
    return f"TSO units {units}, segments {segments}"


def udp_host_to_guest(ns, guest, ttcp, count=64, length=1400, gap_us=5000):
    # Paced (-w): UDP has no flow control, and an NE2000's on-card ring holds about ten frames.
    host, text = guest_receives(ns, guest, f"ttcp -r -u -s -H -R 9 -l {length} -p {GUEST_PORT}",
                                [ttcp, "-t", "-u", "-H", "-R", "9", "-l", str(length), "-n", str(count),
                                 "-w", str(gap_us), "-p", str(GUEST_PORT), GUEST], timeout=60)
    check(host.returncode == 0, f"host ttcp -t -u exited {host.returncode}", host.stderr + text)
    total = count * length
    received = one(SUMMARY, text, "r", "summary")
    check(int(received.group("bytes")) == total, f"guest counted {received.group('bytes')} bytes, want {total}", text)
    check(f"payload matches seed 9: {total} bytes checked" in text, "UDP payload check failed", text)
    check(one(DIGEST, host.stderr, "t", "sha256").group("hex") == one(DIGEST, text, "r", "sha256").group("hex"),
          "the UDP SHA-256 lines differ", host.stderr + text)


def udp_guest_to_host(ns, guest, ttcp, count=64, length=1400):
    receiver = ns.popen([ttcp, "-r", "-u", "-s", "-H", "-R", "10", "-l", str(length), "-p", str(HOST_PORT)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        output = guest.command(f"ttcp -t -u -H -R 10 -l {length} -n {count} -p {HOST_PORT} {HOST}", timeout=120)
        _, host_text = receiver.communicate(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()  # our own child, by its PID
            receiver.wait()
    total = count * length
    received = one(SUMMARY, host_text, "r", "summary")
    check(int(received.group("bytes")) == total, f"host counted {received.group('bytes')} bytes, want {total}",
          output + host_text)
    check(f"payload matches seed 10: {total} bytes checked" in host_text, "UDP payload check failed", host_text)
    check(one(DIGEST, output, "t", "sha256").group("hex") == one(DIGEST, host_text, "r", "sha256").group("hex"),
          "the UDP SHA-256 lines differ", output + host_text)


MEM_FRAMES = re.compile(r"^frames\s+\d+ total \(\d+ KiB\): (\d+) free", re.M)
MEM_PINNED = re.compile(r"(\d+) frames pinned for send")
POOLS = re.compile(r"pools: receive (\d+)/\d+ in use .*?, transmit (\d+)/\d+ in use")


def resources(guest) -> dict:
    """What a finished transfer must give back: free frames, pages pinned for zero-copy send, and
    packet buffers in use in the stack's receive and transmit pools."""
    mem = guest.command("mem", timeout=20)
    nics = guest.command("nicstat", timeout=20)
    frames, pinned, pools = MEM_FRAMES.search(mem), MEM_PINNED.search(mem), POOLS.search(nics)
    check(frames is not None and pinned is not None and pools is not None,
          "`mem`/`nicstat` do not show frames, pinned pages and pools", mem + nics)
    return {"free frames": int(frames.group(1)), "pinned pages": int(pinned.group(1)),
            "receive buffers in use": int(pools.group(1)), "transmit buffers in use": int(pools.group(2))}


def check_baseline(guest, baseline: dict, after: str) -> None:
    # ACKs and FINs may still be in flight for a moment after the prompt returns.
    for _ in range(10):
        now = resources(guest)
        if now == baseline:
            return
        time.sleep(0.5)
    raise CheckFailed(f"after {after}: not back to the baseline: {now} (baseline {baseline})")


MEM_FAULTS = re.compile(r"(\d+) COW copies, (\d+) COW without copy")


def cow_faults(guest) -> int:
    output = guest.command("mem", timeout=20)
    match = MEM_FAULTS.search(output)
    check(match is not None, "`mem` does not show the COW fault counts", output)
    return int(match.group(1)) + int(match.group(2))


def write_before_ack(ns, guest, ttcp, count, length=1460, seed=777):
    """The write-before-ACK case: with -R the guest rewrites its buffer before every send,
    while TCP (copy elimination on) still holds the previous send's pages. `-z cow` is copy
    elimination for an application that does not wait for the stack's completion report (`-z on`
    would cycle a ring and wait): every such write must take the copy-on-write path, and what
    reaches the host must be what the buffer held at send time — the host checks every byte
    against the seed."""
    before = cow_faults(guest)
    receiver = ns.popen([ttcp, "-r", "-s", "-R", str(seed), "-p", str(HOST_PORT)], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        output = guest.command(f"ttcp -t -R {seed} -z cow -l {length} -n {count} -p {HOST_PORT} {HOST}", timeout=300)
        _, host_text = receiver.communicate(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()  # our own child, by its PID
            receiver.wait()
    faults = cow_faults(guest) - before
    total = count * length
    check(receiver.returncode == 0 and f"payload matches seed {seed}: {total} bytes checked" in host_text,
          "bytes written into the buffer after send reached the wire, or bytes went missing", output + host_text)
    check(faults > 0, "no COW fault while rewriting buffers TCP held: the zero-copy send path was not taken",
          output)
    return faults


def guest_to_iperf(ns, guest, count=256, length=8192):
    """The guest's ttcp -t into Debian's `iperf -s` on the host: iperf counts what was sent, less
    the 4-byte word iperf 2.1 reads as its header flags (docs/ttcp.md)."""
    server = ns.popen(["iperf", "-s", "-p", str(HOST_PORT), "-y", "C"], stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.5)
        output = guest.command(f"ttcp -t -s -l {length} -n {count} -p {HOST_PORT} {HOST}", timeout=120)
        time.sleep(1.5)  # iperf -s prints its CSV line once the connection is closed
    finally:
        server.kill()  # iperf -s runs until killed; our own child, by its PID
        csv = server.communicate()[0]
    total = count * length
    check(int(one(SUMMARY, output, "t", "summary").group("bytes")) == total, "ttcp -t byte count", output)
    rows = [line.split(",") for line in csv.splitlines() if line.count(",") >= 8]
    check(len(rows) >= 1, "iperf -s printed no report", csv)
    counted = int(rows[-1][7])
    check(counted in (total, total - 4), f"iperf -s counted {counted} bytes, want {total}", csv + output)
    return counted


OVERSIZE = re.compile(r"oversize dropped (\d+)")


def oversize_dropped(guest) -> int:
    output = guest.command("ifconfig", timeout=20)
    match = OVERSIZE.search(output)
    check(match is not None, "`ifconfig` does not show the oversize count", output)
    return int(match.group(1))


def jumbo_frames_dropped(ns, guest, pings: int = 3) -> None:
    """Bad input at MTU 1500: the host's side of the link goes to MTU 9000 and sends frames the
    guest's MTU does not allow — 8000-byte datagrams that may not be fragmented, and datagrams of
    1502 bytes (frames of 1516, two over) that a card without long frames on still lets through.
    Not one may be answered; each must be counted as oversize and dropped; afterwards the link
    works as before."""
    before = oversize_dropped(guest)
    ns.set_mtu(9000)
    try:
        for size in (8000, 1474):
            result = ns.run(["ping", "-c", str(pings), "-i", "0.2", "-W", "1", "-M", "do", "-s", str(size), GUEST],
                            timeout=30)
            check(" 0 received" in result.stdout, f"the guest answered {size}-byte pings at MTU 1500",
                  result.stdout + result.stderr)
    finally:
        ns.set_mtu(1500)
    dropped = oversize_dropped(guest) - before
    check(dropped >= 2 * pings, f"{dropped} oversize frames counted for {2 * pings} sent", guest.command("nicstat"))
    result = ns.run(["ping", "-c", "2", "-W", "2", "-s", "1472", "-M", "do", GUEST], timeout=30)
    check(result.returncode == 0, "full-size pings are not answered after the jumbo frames", result.stdout)
    print(f"ok: jumbo frames at MTU 1500: {2 * pings} sent, {dropped} counted as oversize and dropped, none "
          "answered; full-size frames still answered", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("nic", choices=sorted(NICS))
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--ttcp", required=True)
    parser.add_argument("--megabytes", type=float, default=4.0, help="per TCP transfer (default 4)")
    parser.add_argument("--write-before-ack", action="store_true",
                        help="also run the write-before-ACK case (CTest runs it in net.zerocopy.*)")
    parser.add_argument("--mtu", type=int, help="MTU of the tap and the guest (default: 1500, and the jumbo-frame "
                                                    "check)")
    parser.add_argument("--log-dir", help="where the serial log goes (default: test-logs beside the kernel)")
    args = parser.parse_args()
    name = f"net.ttcp.guest_{args.nic}" + (f"_mtu{args.mtu}" if args.mtu else "")
    problem = NetNamespace.problem()
    if problem:
        print(f"SKIP: {name}: {problem}", flush=True)
        return SKIP
    count = max(1, int(args.megabytes * 1024 * 1024 / 1460))
    log_dir = args.log_dir or os.path.join(os.path.dirname(os.path.abspath(args.kernel)), "test-logs")
    append = "panic=exit" + (f" mtu={args.mtu}" if args.mtu else "")
    guest_length = 65536 if args.mtu else None
    try:
        with NetNamespace(tap=TAP, mtu=args.mtu) as ns, Guest(name=f"net-ttcp-{args.nic}", netns=ns, nic=args.nic,
                                                              kernel=args.kernel, append=append,
                                                              log_dir=log_dir) as guest:
            print(f"{name}: namespace {ns.name}, accel {guest.accel}", flush=True)
            guest.expect_prompt(timeout=60)
            if args.mtu:
                shown = guest.command("ifconfig", timeout=20)
                check(f"mtu {args.mtu} " in shown, f"the guest's MTU is not {args.mtu}", shown)
            wait_reachable(ns, 20)
            # The baseline is taken after one small transfer: the first ttcp run costs two frames
            # once (measured: 6797 free after boot, 6795 after the first run and after every run
            # since), and a transmit buffer may still be in flight from the boot-time pings.
            host_to_guest(ns, guest, args.ttcp, "off", 100)
            baseline = resources(guest)
            print(f"baseline: {baseline}", flush=True)
            for zc in ("off", "on"):
                received = host_to_guest(ns, guest, args.ttcp, zc, count, guest_length=guest_length)
                print(f"REPORT {name}: host->guest TCP zc={zc} {received.group('bytes')} bytes, "
                      f"{received.group('rate')} KB/sec ({mbit(received)}, {guest.accel})", flush=True)
                check_baseline(guest, baseline, f"host->guest TCP zc={zc}")
                tso_before = tso_counts(guest)
                received = guest_to_host(ns, guest, args.ttcp, zc, count)
                tso = check_tso(args.nic, tso_before, tso_counts(guest), f"guest->host TCP zc={zc}")
                print(f"REPORT {name}: guest->host TCP zc={zc} {received.group('bytes')} bytes, "
                      f"{received.group('rate')} KB/sec ({mbit(received)}, {guest.accel}); {tso}", flush=True)
                check_baseline(guest, baseline, f"guest->host TCP zc={zc}")
            print("ok: frames, pinned pages and packet pools back to the baseline after each TCP transfer", flush=True)
            if args.nic == "e1000":
                # `ifconfig tso off`: the same transfer leaves as single segments, every byte
                # checked; `ifconfig` says so, and `ifconfig tso on` brings the units back.
                out = guest.command("ifconfig tso off", timeout=20)
                check("TSO off: TCP sends single segments" in out, "`ifconfig tso off` refused", out)
                check(re.search(r"TSO off +units \d+ +segments \d+ +\(ifconfig tso off\)",
                                guest.command("ifconfig", timeout=20)) is not None,
                      "`ifconfig` does not show TSO switched off", out)
                tso_before = tso_counts(guest)
                guest_to_host(ns, guest, args.ttcp, "on", count)
                units, segments = (a - b for a, b in zip(tso_counts(guest), tso_before))
                check(units == 0 and segments == 0, f"TSO off: {units} units, {segments} segments counted",
                      str(tso_before))
                out = guest.command("ifconfig tso on", timeout=20)
                check("TSO on: TCP sends units" in out, "`ifconfig tso on` refused", out)
                tso_before = tso_counts(guest)
                guest_to_host(ns, guest, args.ttcp, "on", count)
                check_tso(args.nic, tso_before, tso_counts(guest), "guest->host TCP after `ifconfig tso on`")
                check_baseline(guest, baseline, "the transfers with TSO off and on again")
                print("ok: `ifconfig tso off` sends single segments (no unit counted, bytes checked), "
                      "`ifconfig tso on` units again", flush=True)
            else:
                out = guest.command("ifconfig tso on", timeout=20)
                check("segments TCP itself" in out, f"`ifconfig tso on` on {args.nic} did not say the card has no TSO",
                      out)
            if args.write_before_ack:
                faults = write_before_ack(ns, guest, args.ttcp, count)
                print(f"ok: write before ACK (-R -z on, guest->host): every byte as at send time, {faults} COW "
                      "faults", flush=True)
            udp_host_to_guest(ns, guest, args.ttcp)
            print("ok: UDP host->guest: every byte counted and checked", flush=True)
            udp_guest_to_host(ns, guest, args.ttcp)
            print("ok: UDP guest->host: every byte counted and checked", flush=True)
            check_baseline(guest, baseline, "the UDP transfers")
            if shutil.which("iperf"):
                counted = guest_to_iperf(ns, guest)
                print(f"ok: guest ttcp -t into iperf -s: iperf counted {counted} bytes", flush=True)
            else:
                print("SKIPPED PART: iperf (Debian's iperf 2) is not installed: guest -> iperf -s not checked",
                      flush=True)
            if not args.mtu:
                jumbo_frames_dropped(ns, guest)
                check_baseline(guest, baseline, "the jumbo frames")
            guest.send_line("poweroff 0")
            guest.wait_exit(timeout=20)
    except (CheckFailed, GuestError, subprocess.TimeoutExpired) as failure:
        print(f"FAIL {name}: {failure}", flush=True)
        return 1
    print(f"PASS {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

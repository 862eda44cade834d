#!/usr/bin/env python3
"""The guest reliability scenarios: Skiff booted in QEMU, its NIC attached through tools/faultrelay to a
tap inside a network namespace this test creates and deletes (QEMU and the relay run inside it
too; the machine's own interfaces are never touched). Every flood is bounded in count and time.

Cases (one CTest test each, label `net`):

  faults NIC   (NIC = e1000 | ne2k-pci | ne2k) For each fault profile — TCP loss 1%, 5%, 20% by
               nftables (`numgen random mod 100 < N drop`, both ways on the tap); reordering,
               duplication, corruption 1% and delay with jitter by the relay — one TCP transfer
               host->guest and one guest->host with copy elimination on (`ttcp -z on`), the
               SHA-256 of both ends compared (host->guest also checks every byte against the
               seed). After each profile the guest's resources (`resources`) are back to the
               baseline taken after a warm-up transfer. Every fault must have been injected:
               each nft chain (to and from the guest) dropped segments, at about the rate asked
               for (within 6 sigma of the segments it saw), and the guest retransmitted; the
               relay's counter for its fault (held, duplicated, corrupted, delayed) moved in both
               directions by about the fraction asked for (delay: every frame), and corruption
               moved the guest's checksum drop counters. A clean result from a link that injected
               nothing fails. The counters are printed per profile.
               Size per transfer: --kib. CTest: 4 MiB, about 40 + 60 s for both NICs; the full
               50 MiB (`run-long`) takes about 5 + 6 minutes under TCG, too much for the suite.
               The 20% loss profile always uses a sixteenth of --kib: Skiff's sender makes about
               22 KB/s there.
  badinput     A seeded corpus of malformed frames (hostside.py `corpus`, scapy): truncated at every
               layer, bad lengths and checksums, IP options, overlapping / duplicate / endless /
               oversized fragments, TCP with absurd data offsets, bad options and every flag
               combination, UDP/ICMP garbage, ARP garbage, unsolicited ARP replies and forged ARP
               replies and announcements for 10.0.2.2; then segments outside the window of a live
               echo connection (which must keep working, bytes checked). The guest counts and
               drops it all (`stats` before and after, printed), never crashes, keeps 10.0.2.2 at
               the tap's MAC, then answers ping and completes a checked transfer; resources back
               to the baseline.
  floods       A SYN flood (random sources in 10.0.2.0/24, random ports, bounded) while a checked
               transfer runs: the transfer completes, the half-open connections per listener stay
               within the backlog (`netstat` during a second flood), and echo answers right after;
               a ping flood (`ping -f`, bounded); a UDP flood to a closed port (ICMP port
               unreachable rate limited: the host counts them); 200 concurrent connections to the
               echo service, all served with every byte checked. Resources back to the baseline
               after each.

Needs root (skips loudly with 77 otherwise). Lines starting `REPORT ` are figures for
docs/reliability.md.

Usage: reliability_test.py CASE [NIC] --kernel ELF --relay FAULTRELAY --ttcp HOST_TTCP [--kib N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from common import (GUEST, HOST, HOSTSIDE, MAC, PYTHON, SKIP, TAP, CheckFailed, GuestError, Rig,  # noqa: E402
                    binomial_plausible, check, delta, format_delta, root_problem, say)

BACKLOG = 32  # the guest's TCP services listen with this backlog (kernel/net/NetServices.cpp)
PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")

# name, relay faults, nft TCP loss %, KiB factor (of --kib), the relay counters the fault must move
# with the fraction of received frames each should reach (None: every frame)
PROFILES = [
    ("loss 1% (nft)", [], 1, 1.0, {}),
    ("loss 5% (nft)", [], 5, 1.0, {}),
    ("loss 20% (nft)", [], 20, 0.0625, {}),
    ("reorder 5% (relay, gap 3 / 20 ms)", ["--reorder", "5"], 0, 1.0, {"held": 0.05}),
    ("duplicate 5% (relay)", ["--dup", "5"], 0, 1.0, {"duplicated": 0.05}),
    ("corrupt 1% (relay, past the Ethernet header)", ["--corrupt", "1"], 0, 1.0, {"corrupted": 0.01}),
    ("delay 10 ms +- 5 ms jitter (relay)", ["--delay", "10", "--jitter", "5"], 0, 1.0, {"delayed": None}),
]

WATCHED = ("tcp_retransmits", "tcp_fast_retransmits", "tcp_timeouts", "tcp_ooo_segments", "ip_drop_checksum",
           "tcp_drop_checksum", "udp_drop_checksum", "icmp_drop_checksum", "tcp_challenge_acks")
CHECKSUM_DROPS = ("ip_drop_checksum", "tcp_drop_checksum", "udp_drop_checksum", "icmp_drop_checksum")


def check_relay_faults(name: str, relay: dict, expected: dict) -> None:
    """Each fault the relay was asked for moved its counter in both directions, by about the
    fraction asked for (every frame for a delay)."""
    for side in ("to-host", "to-guest"):
        counters = relay.get(side)
        check(counters is not None and counters.get("received", 0) > 0,
              f"{name}: the relay counted no {side} frames: it was not in the path", str(relay))
        received = counters["received"] - counters.get("dropped", 0)
        for counter, fraction in expected.items():
            value = counters.get(counter, 0)
            check(value > 0, f"{name}: the relay's {side} {counter} counter did not move: no fault was injected",
                  str(relay))
            if fraction is None:
                check(value == received, f"{name}: {side}: {counter}={value}, not every one of {received} frames",
                      str(relay))
            else:
                check(binomial_plausible(value, received, fraction),
                      f"{name}: {side}: {counter}={value} of {received} frames, not about {fraction:.0%}", str(relay))


def case_faults(args, rig: Rig) -> None:
    ttcp = args.ttcp
    rig.transfer(ttcp, "in", 64)  # warm-up: the first ttcp run costs a couple of frames once
    rig.take_baseline()
    for index, (name, faults, loss, factor, relay_expected) in enumerate(PROFILES):
        kib = max(16, int(args.kib * factor))
        rig.set_faults(faults, seed=args.seed + index)
        rig.set_nft_loss(loss)
        before = rig.stats()
        results = []
        for direction in ("in", "out"):
            count, seconds = rig.transfer(ttcp, direction, kib)
            results.append(f"{'host->guest' if direction == 'in' else 'guest->host'} {count} B in {seconds:.1f} s")
        nft = rig.check_nft_loss(name) if loss else {}
        rig.set_nft_loss(0)
        relay = rig.set_faults([], seed=args.seed)  # stops the faulty relay: its counters
        after = rig.stats()
        moved = delta(before, after)
        check_relay_faults(name, relay, relay_expected)
        if loss:
            # The guest lost segments it sent: it must have sent them again.
            check(moved.get("tcp_retransmits", 0) + moved.get("tcp_fast_retransmits", 0) > 0,
                  f"{name}: the guest retransmitted nothing", format_delta(moved))
        if "corrupted" in relay_expected:
            # What was corrupted on its way to the guest was caught by a checksum there.
            check(sum(moved.get(k, 0) for k in CHECKSUM_DROPS) > 0,
                  f"{name}: the guest's checksum drop counters did not move", format_delta(moved))
        relay_text = "; ".join(
            f"{side}: " + " ".join(f"{k}={v}" for k, v in relay.get(side, {}).items()
                                   if k in ("received", "dropped", "corrupted", "duplicated", "held", "delayed") and v)
            for side in ("to-host", "to-guest"))
        nft_text = ", ".join(f"{chain} {dropped}/{seen}" for chain, (seen, dropped) in nft.items()) or "none"
        say(f"ok: {name}: {', '.join(results)}; SHA-256 equal both ways (zc on); the faults were injected "
            f"(nft dropped {nft_text}; relay {relay_text or 'clean'})")
        say(f"REPORT faults {rig.nic} {name}: {kib} KiB each way; {', '.join(results)}; "
            f"nft dropped {nft_text}; relay {relay_text}; guest "
            + format_delta({k: v for k, v in moved.items() if k in WATCHED}))
        rig.check_baseline(name)


def ping_ok(rig: Rig, count: int = 5) -> int:
    result = rig.ns.run(["ping", "-n", "-q", "-c", str(count), "-i", "0.1", "-W", "2", GUEST], timeout=60)
    summary = PING_SUMMARY.search(result.stdout)
    check(summary is not None, "ping printed no summary", result.stdout + result.stderr)
    return int(summary.group(2))


def hostside(rig: Rig, *arguments: str, timeout: float = 120) -> str:
    result = rig.ns.run([PYTHON, HOSTSIDE, *arguments], timeout=timeout)
    check(result.returncode == 0, f"hostside {arguments[0]} failed", result.stdout + result.stderr)
    return result.stdout


def tap_mac(rig: Rig) -> str:
    return rig.ns.run(["cat", f"/sys/class/net/{TAP}/address"]).stdout.strip().lower()


def arp_entry(rig: Rig) -> str | None:
    output = rig.guest.command("arp", timeout=20)
    match = re.search(r"^10\.0\.2\.2\s+(\S+)\s+\S+\s+reachable", output, re.M)
    return match.group(1) if match else None


def print_counters(title: str, counters: dict) -> None:
    say(f"{title}: " + " ".join(f"{k}={v}" for k, v in counters.items()))


def case_badinput(args, rig: Rig) -> None:
    rig.transfer(args.ttcp, "in", 64)
    rig.take_baseline()
    mac = tap_mac(rig)
    check(arp_entry(rig) == mac, "10.0.2.2 is not in the guest's ARP cache at the tap's MAC", rig.guest.command("arp"))
    before = rig.stats()
    ifconfig_before = rig.guest.command("ifconfig")
    print_counters("stats before", before)
    print(ifconfig_before, flush=True)
    out = hostside(rig, "corpus", TAP, MAC, str(args.seed), timeout=300)
    say(out.strip())
    sent = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out.splitlines()[-1])}
    out = hostside(rig, "outside-window", TAP, MAC, GUEST, str(args.seed), timeout=120)
    say(out.strip())
    rig.guest.send_line("")
    rig.guest.expect_prompt(timeout=20)
    after = rig.stats()
    moved = delta(before, after)
    print_counters("stats after", after)
    say("counter changes: " + format_delta(moved))
    print(rig.guest.command("ifconfig"), flush=True)
    # What each category must have left behind in the guest's counters. (Runts shorter than an
    # Ethernet header never reach the guest: QEMU's NIC models pad every frame to 60 bytes.)
    expected = ["ip_drop_version", "ip_drop_bad_ihl", "ip_drop_bad_length", "ip_drop_checksum",
                "ip_options_seen", "ip_drop_bad_source", "reasm_overlaps", "reasm_duplicates", "reasm_too_big", "reasm_no_slot",
                "icmp_drop_checksum", "icmp_drop_malformed", "udp_drop_malformed", "udp_drop_checksum",
                "tcp_drop_malformed", "tcp_drop_checksum", "arp_drop_malformed", "arp_unsolicited_replies",
                "arp_conflicts_ignored", "tcp_challenge_acks"]
    missing = [name for name in expected if moved.get(name, 0) <= 0]
    check(not missing, "these counters did not move, so those frames were not seen or not counted: "
          + ", ".join(missing), format_delta(moved))
    check(arp_entry(rig) == mac, "a forged ARP reply replaced the gateway's MAC", rig.guest.command("arp"))
    say(f"ok: 10.0.2.2 still at {mac}; forged claims ignored: {moved['arp_conflicts_ignored']}, "
        f"unsolicited replies: {moved['arp_unsolicited_replies']}")
    received = ping_ok(rig)
    check(received == 5, f"after the corpus the guest answered {received}/5 pings")
    count, seconds = rig.transfer(args.ttcp, "in", 1024)
    say(f"ok: after the corpus: ping 5/5, host->guest {count} bytes checked in {seconds:.1f} s")
    total = sum(sent.values())
    say(f"REPORT badinput {rig.nic}: {total} malformed frames ({format_delta(sent)}); guest counters "
        f"{format_delta(moved)}")
    # The endless fragments hold the 4 reassembly buffers (large_pool) until their 30 s timeout.
    rig.check_baseline("the malformed corpus (after the reassembly timeout)", wait=40)


def count_half_open(netstat: str) -> dict:
    ports: dict = {}
    for match in re.finditer(r"^tcp\s+\S+:(\d+)\s+\S+\s+SYN-RECEIVED", netstat, re.M):
        ports[match.group(1)] = ports.get(match.group(1), 0) + 1
    return ports


def case_floods(args, rig: Rig) -> None:
    ttcp = args.ttcp
    rig.transfer(ttcp, "in", 64)
    rig.take_baseline()
    before = rig.stats()

    # 1. SYN flood while a transfer runs: the flood starts first, the transfer 0.3 s after its
    #    first SYN, and the flood must still be running when the transfer starts (or the test says
    #    they did not overlap, rather than pass without having tried). A transfer the flood slows
    #    down may well outlast it: that is the flood's effect, not a failure.
    kib = args.kib * 4
    flood_process = rig.ns.popen([PYTHON, HOSTSIDE, "synflood", TAP, MAC, GUEST, "7,9,5001", str(args.syn_count),
                                  str(args.flood_seconds), str(args.seed)], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        first = flood_process.stdout.readline()
        check(first.strip() == "flooding", "the SYN flood helper did not start", first)
        time.sleep(0.3)
        overlapped = flood_process.poll() is None
        count, seconds = rig.transfer(ttcp, "in", kib, seed=77)
        still_flooding = flood_process.poll() is None
        flood = flood_process.communicate(timeout=args.flood_seconds + 60)[0]
    finally:
        if flood_process.poll() is None:
            flood_process.kill()  # our own child, by its PID
            flood_process.wait()
    check(flood_process.returncode == 0, "the SYN flood helper failed", flood)
    check(overlapped, "the SYN flood ended before the transfer started: they did not overlap", flood)
    say(f"ok: SYN flood ({flood.strip()}) during a host->guest transfer: {count} bytes, SHA-256 equal, "
        f"{seconds:.1f} s, the flood {'still running' if still_flooding else 'over'} when it ended")
    # A second flood, and the table looked at right after: half-open connections per listener
    # within its backlog (the services listen with 32), and echo answers at once.
    hostside(rig, "synflood", TAP, MAC, GUEST, "7", "300", "3", str(args.seed + 1), timeout=60)
    half_open = count_half_open(rig.guest.command("netstat", timeout=20))
    check(all(v <= BACKLOG for v in half_open.values()), f"half-open connections beyond the backlog: {half_open}")
    started = time.monotonic()
    echo = hostside(rig, "echo-clients", GUEST, "1", "4096", "30", timeout=60)
    say(f"ok: half-open per port right after a 300-SYN flood: {half_open or 'none'} (backlog {BACKLOG}); "
        f"echo connection served {time.monotonic() - started:.1f} s later ({echo.strip()})")
    mid = rig.stats()
    say(f"REPORT floods {rig.nic} SYN flood: {flood.strip()}; transfer {count} B in {seconds:.1f} s, SHA-256 equal; "
        f"half-open after a second flood {half_open}; guest {format_delta({k: v for k, v in delta(before, mid).items() if k.startswith('tcp_') or k.startswith('arp_')})}")
    rig.check_baseline("the SYN flood", wait=20)

    # 2. Ping flood: bounded by count and deadline.
    before = rig.stats()
    out = rig.ns.run(["ping", "-n", "-q", "-f", "-c", str(args.ping_count), "-w", str(int(args.flood_seconds) + 10),
                      "-s", "56", GUEST], timeout=args.flood_seconds + 30)
    summary = PING_SUMMARY.search(out.stdout)
    check(summary is not None, "ping -f printed no summary", out.stdout + out.stderr)
    received = ping_ok(rig)
    check(received == 5, f"after the ping flood the guest answered {received}/5 pings")
    moved = delta(before, rig.stats())
    say(f"ok: ping flood: {summary.group(2)}/{summary.group(1)} echoes answered; then 5/5")
    say(f"REPORT floods {rig.nic} ping flood: ping -f -c {args.ping_count}: {summary.group(2)}/{summary.group(1)} "
        f"answered; guest {format_delta(moved)}")
    rig.check_baseline("the ping flood")

    # 3. UDP flood to a closed port: ICMP port unreachable rate limited.
    before = rig.stats()
    out = hostside(rig, "udpflood", GUEST, "9999", str(args.udp_count), str(args.flood_seconds), timeout=120)
    host_unreachables = int(re.search(r"unreachable=(\d+)", out).group(1))
    moved = delta(before, rig.stats())
    check(moved.get("udp_no_port", 0) > 0, "the guest counted no datagrams to a closed port", format_delta(moved))
    check(moved.get("icmp_rate_limited", 0) > 0, "ICMP port unreachable was not rate limited", format_delta(moved))
    check(host_unreachables <= moved.get("icmp_unreachable_sent", 0) and host_unreachables < args.udp_count / 2,
          f"the host saw {host_unreachables} unreachables", format_delta(moved))
    check(ping_ok(rig) == 5, "after the UDP flood the guest does not answer ping")
    say(f"ok: UDP flood: {out.strip()}; guest {format_delta(moved)}")
    say(f"REPORT floods {rig.nic} UDP flood to a closed port: {out.strip()}; guest {format_delta(moved)}")
    rig.check_baseline("the UDP flood")

    # 4. 200 concurrent connections to the echo service.
    before = rig.stats()
    started = time.monotonic()
    out = hostside(rig, "echo-clients", GUEST, str(args.connections), "2048", "240", timeout=300)
    elapsed = time.monotonic() - started
    moved = delta(before, rig.stats())
    say(f"ok: {out.strip()} in {elapsed:.1f} s")
    say(f"REPORT floods {rig.nic} echo: {out.strip()} in {elapsed:.1f} s; guest "
        f"{format_delta({k: v for k, v in moved.items() if k.startswith('tcp_')})}")
    rig.check_baseline(f"{args.connections} echo connections", wait=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=("faults", "badinput", "floods"))
    parser.add_argument("nic", nargs="?", default="e1000", choices=("e1000", "ne2k-pci", "ne2k"))
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--relay", required=True)
    parser.add_argument("--ttcp", required=True)
    parser.add_argument("--kib", type=int, default=256, help="KiB per transfer (default 256; the full "
                                                               "size is 51200: see run-long)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--flood-seconds", type=float, default=8.0)
    parser.add_argument("--syn-count", type=int, default=2000)
    parser.add_argument("--ping-count", type=int, default=2000)
    parser.add_argument("--udp-count", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    problem = root_problem()
    name = f"net.reliability.{args.case}" + (f"_{args.nic}" if args.case == "faults" else "")
    if problem:
        print(f"SKIP: {name}: {problem}", flush=True)
        return SKIP
    started = time.monotonic()
    try:
        with Rig(nic=args.nic, kernel=args.kernel, relay=args.relay, name=name, seed=args.seed) as rig:
            {"faults": case_faults, "badinput": case_badinput, "floods": case_floods}[args.case](args, rig)
            rig.guest.send_line("poweroff 0")
            check(rig.guest.wait_exit(timeout=20) == 1, "poweroff 0 did not exit QEMU with status 1")
    except (CheckFailed, GuestError, subprocess.TimeoutExpired) as failure:
        print(f"FAIL {name}: {failure}", flush=True)
        return 1
    print(f"PASS {name} ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

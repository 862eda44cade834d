#!/usr/bin/python3
"""Linux's own TCP against the host tap runner, inside a namespace.

Phases (one namespace each, chosen with --phase):
  echo50     nc sends 50 MiB of random bytes to the echo service (port 7); the bytes that come
             back must have the same SHA-256.
  iperf      iperf 2 (`iperf -c`) runs 10 s against the sink (port 5001) and reports a rate.
  nftloss    20 MiB echo with nftables dropping 5% of frames at random in both directions on
             the tap (this kernel has no netem); each chain must have dropped about 5% of what
             it saw.
  faults     20 MiB echo with the runner's own fault injector reordering and duplicating
             (and dropping 1%) in both directions; each fault's counter must have moved both
             ways.
"""
import argparse
import hashlib
import math
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

MIB = 1 << 20


def echo(size, timeout):
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "in.bin")
        sink = os.path.join(directory, "out.bin")
        with open(source, "wb") as f:
            f.write(os.urandom(size))
        with open(source, "rb") as stdin, open(sink, "wb") as stdout:
            # -N: shut the connection down for writing at end of input, then read to the end.
            result = subprocess.run(["nc", "-N", netns.STACK_IP, "7"], stdin=stdin, stdout=stdout,
                                    stderr=subprocess.PIPE, timeout=timeout)
        digests = []
        for path in (source, sink):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(MIB), b""):
                    h.update(block)
            digests.append(h.hexdigest())
        got = os.path.getsize(sink)
    if result.returncode != 0:
        netns.fail(f"nc exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    if digests[0] != digests[1]:
        netns.fail(f"echo of {size} bytes: got {got} bytes back, SHA-256 {digests[1]} != {digests[0]}")
    print(f"echo {size} bytes: identical, SHA-256 {digests[0]}", flush=True)


def iperf():
    result = subprocess.run(["iperf", "-c", netns.STACK_IP, "-p", "5001", "-t", "10", "-f", "m"],
                            capture_output=True, text=True, timeout=60)
    print(result.stdout, flush=True)
    rates = re.findall(r"([\d.]+) Mbits/sec", result.stdout)
    if result.returncode != 0 or not rates:
        netns.fail(f"iperf failed: {result.stderr}")
    rate = float(rates[-1])
    if rate <= 0:
        netns.fail("iperf reported no throughput")
    print(f"IPERF_RATE_MBITS {rate}", flush=True)


def nft_loss(percent):
    """Drops `percent`% of the frames both ways on the tap; each chain counts what it saw and what
    it dropped."""
    rules = f"""
table inet skiff_loss {{
    chain input {{ type filter hook input priority 0; iifname "{netns.TAP}" counter; iifname "{netns.TAP}" numgen random mod 100 < {percent} counter drop; }}
    chain output {{ type filter hook output priority 0; oifname "{netns.TAP}" counter; oifname "{netns.TAP}" numgen random mod 100 < {percent} counter drop; }}
}}
"""
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)


def check_nft_loss(percent):
    """Each chain's numgen rule dropped frames, about `percent`% of those it saw: the loss the
    echo survived was really injected."""
    listing = subprocess.run(["nft", "list", "table", "inet", "skiff_loss"], capture_output=True, text=True,
                             check=True).stdout
    for chain, body in re.findall(r"chain (\w+) \{(.*?)\n\s*\}", listing, re.S):
        seen = sum(int(n) for n, drop in re.findall(r"counter packets (\d+) bytes \d+( drop)?", body) if not drop)
        dropped = sum(int(n) for n, drop in re.findall(r"counter packets (\d+) bytes \d+( drop)?", body) if drop)
        mean = seen * percent / 100
        if dropped == 0:
            netns.fail(f"nft chain {chain} dropped nothing of {seen} frames: no loss was injected")
        if abs(dropped - mean) > 6 * math.sqrt(mean * (1 - percent / 100)) + 1:
            netns.fail(f"nft chain {chain} dropped {dropped} of {seen} frames, not about {percent}%")
        print(f"nft chain {chain}: dropped {dropped} of {seen} frames ({100 * dropped / seen:.1f}%)", flush=True)


def check_runner_faults(counters):
    """The runner's own fault injector dropped, duplicated and reordered frames both ways."""
    match = re.search(r"faults rx drop/dup/reorder (\d+)/(\d+)/(\d+) tx (\d+)/(\d+)/(\d+)", counters)
    if not match:
        netns.fail("the runner printed no fault counters: no fault was injected")
    names = ["rx drop", "rx dup", "rx reorder", "tx drop", "tx dup", "tx reorder"]
    idle = [name for name, value in zip(names, match.groups()) if int(value) == 0]
    if idle:
        netns.fail(f"these faults were never injected: {', '.join(idle)} ({match.group(0)})")
    print(f"faults injected: {match.group(0)}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True)
    parser.add_argument("--phase", required=True, choices=["echo50", "iperf", "nftloss", "faults"])
    args = parser.parse_args()
    tools = {"echo50": ["nc"], "iperf": ["iperf"], "nftloss": ["nc", "nft"], "faults": ["nc"]}[args.phase]
    netns.enter_namespace(tools)
    extra = []
    if args.phase == "faults":
        extra = ["--loss", "1", "--dup", "3", "--reorder", "5", "--seed", "7"]
    with netns.Runner(args.runner, extra_args=extra, max_seconds=280) as runner:
        if args.phase == "echo50":
            echo(50 * MIB, timeout=240)
        elif args.phase == "iperf":
            iperf()
        elif args.phase == "nftloss":
            nft_loss(5)
            echo(20 * MIB, timeout=240)
            check_nft_loss(5)
        else:
            echo(20 * MIB, timeout=240)
    if args.phase == "faults":
        check_runner_faults(runner.counters)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

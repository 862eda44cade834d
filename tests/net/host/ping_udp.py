#!/usr/bin/python3
"""Linux ping and UDP against the host tap runner, inside a namespace.

- ping sends 20 echoes of 56 bytes, 20 of 1400 and 5 of 4000 (fragmented both ways); every
  reply must come back, none duplicated, none with wrong data.
- UDP datagrams from socat and nc -u round-trip through the runner's UDP echo (port 7) and
  the bytes are compared.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402


def ping(count, size):
    result = subprocess.run(
        ["ping", "-n", "-c", str(count), "-s", str(size), "-i", "0.05", "-W", "2", netns.STACK_IP],
        capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    replies = set()
    for line in out.splitlines():
        m = re.search(r"icmp_seq=(\d+)", line)
        if m and "bytes from" in line:
            if "DUP" in line or "wrong" in line:
                netns.fail(f"bad reply: {line}")
            replies.add(int(m.group(1)))
        if "wrong data byte" in line:
            netns.fail(f"ping saw corrupted data: {line}")
    expected = set(range(1, count + 1))
    if replies != expected:
        print(out)
        netns.fail(f"ping -s {size}: replies for {sorted(replies)}, missing {sorted(expected - replies)}")
    if f"{count} received" not in out:
        print(out)
        netns.fail(f"ping -s {size}: summary does not say {count} received")
    print(f"ping -s {size}: {count}/{count} replies, data verified by ping", flush=True)


def udp_socat(payload):
    # One read of stdin becomes one datagram; -b allows the large ones; -T ends after the echo.
    result = subprocess.run(
        ["socat", "-b", "65536", "-T", "2", "-", f"UDP:{netns.STACK_IP}:7"],
        input=payload, capture_output=True, timeout=20)
    if result.stdout != payload:
        netns.fail(f"socat UDP echo of {len(payload)} bytes came back as {len(result.stdout)} bytes, differing")
    print(f"socat UDP echo: {len(payload)} bytes identical", flush=True)


def udp_nc(payload):
    result = subprocess.run(["nc", "-u", "-w", "2", netns.STACK_IP, "7"], input=payload, capture_output=True,
                            timeout=20)
    if result.stdout != payload:
        netns.fail(f"nc -u echo of {len(payload)} bytes came back as {len(result.stdout)} bytes, differing")
    print(f"nc -u UDP echo: {len(payload)} bytes identical", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True)
    args = parser.parse_args()
    netns.enter_namespace(["ping", "socat", "nc"])
    with netns.Runner(args.runner, max_seconds=200):
        ping(20, 56)
        ping(20, 1400)
        ping(5, 4000)
        for size in (1, 100, 1472, 1473, 4000, 8000):
            udp_socat(os.urandom(size))
        udp_nc(os.urandom(512))
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

"""Shared pieces of the guest reliability scenarios: a network namespace with a tap, the
fault relay between QEMU and the tap (both inside the namespace), the guest booted on it, and the
accounting every scenario ends with.

    with Rig(nic="e1000", kernel=..., relay=..., name="x") as rig:
        rig.guest, rig.ns, rig.set_faults([...]), rig.set_nft_loss(5), rig.resources(), rig.stats()

Nothing leaves the namespace: QEMU and the relay talk over the namespace's own loopback, and the
tap lives in it. Processes are ours and stopped by PID; the namespace is deleted at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))
sys.path.insert(0, os.path.join(ROOT, "tests", "net", "relay"))
sys.path.insert(0, os.path.join(ROOT, "tests", "net", "ttcp"))

from faultrelay import FaultRelay, parse_counters  # noqa: E402
from skiffqemu import Guest, GuestError, NetNamespace  # noqa: E402
import ttcp_guest  # noqa: E402  (host_to_guest / guest_to_host: SHA-256 checked transfers)

GUEST = "10.0.2.15"
HOST = "10.0.2.2"
TAP = "skifftap"
MAC = "52:54:00:12:34:56"
HOSTSIDE = os.path.join(HERE, "hostside.py")
# Debian's python3: the one with python3-scapy (hostside.py crafts frames with it)
PYTHON = "/usr/bin/python3"
SKIP = 77
DEVICES = {"e1000": "e1000", "ne2k-pci": "ne2k_pci", "ne2k": "ne2k_isa"}


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(message + ("\n" + detail if detail else ""))


def say(message: str) -> None:
    print(message, flush=True)


class NsRelay(FaultRelay):
    """FaultRelay started inside the namespace (`ip netns exec`), so its loopback socket and the
    tap are both the namespace's."""

    def __init__(self, ns: NetNamespace, *args, **kwargs):
        self.ns = ns
        super().__init__(*args, **kwargs)

    def start(self):
        import tempfile
        self.workdir = tempfile.mkdtemp(prefix="skiff-rel9-relay-")
        self.socket_path = os.path.join(self.workdir, "relay.sock")
        command = [self.binary, "--tap", self.tap, "--seed", str(self.seed), "--duration", str(self.duration)]
        if self.log:
            command += ["--log", self.log]
        self.process = self.ns.popen(command + self.endpoint_args() + self.faults, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.banner = self.process.stdout.readline()
        if not self.banner.startswith("faultrelay: tap"):
            self.process.kill()
            rest = self.process.communicate()[0]
            raise RuntimeError(f"faultrelay did not start: {self.banner}{rest}")
        return self


RESOURCES = re.compile(r"^resources: (.*)$", re.M)


class Rig:
    def __init__(self, nic: str, kernel: str, relay: str, name: str, seed: int = 9, log_dir: str | None = None,
                 mem: str = "32M"):
        self.nic, self.kernel, self.relay_binary, self.name, self.seed = nic, kernel, relay, name, seed
        self.log_dir = log_dir or os.path.join(os.path.dirname(os.path.abspath(kernel)), "test-logs")
        self.mem = mem
        self.ns = None
        self.guest = None
        self.relay = None
        self.relay_ports = None
        self.nft_loss = 0
        self.baseline = None

    # -- set-up --------------------------------------------------------------------------------

    def __enter__(self) -> "Rig":
        self.ns = NetNamespace(tap=TAP).__enter__()
        try:
            self.set_faults([])
            device = f"{DEVICES[self.nic]},netdev=n0,mac={MAC}"
            if self.nic == "ne2k":
                device += ",iobase=0x300,irq=10"
            else:
                device += ",romfile="
            append = "panic=exit" + (" ne2k_irq=10" if self.nic == "ne2k" else "")
            self.guest = Guest(name=self.name, netns=self.ns, nic="none", kernel=self.kernel, append=append,
                               log_dir=self.log_dir, mem=self.mem,
                               extra=["-netdev", self.relay.netdev("n0"), "-device", device]).__enter__()
            say(f"{self.name}: namespace {self.ns.name}, QEMU PID {self.guest.process.pid}, relay PID "
                f"{self.relay.process.pid}, accel {self.guest.accel}, {self.nic}")
            self.guest.expect_prompt(timeout=90)
            self.wait_reachable(30)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.guest is not None:
            self.guest.__exit__(exc_type, exc, traceback)
        if self.relay is not None:
            self.relay.stop()
        if self.ns is not None:
            self.ns.delete()

    def set_faults(self, faults: list[str], seed: int | None = None) -> dict:
        """Restarts the relay with these faults on the same ports (QEMU's dgram netdev does not
        notice). Returns the stopped relay's counters."""
        counters = {}
        if self.relay is not None:
            counters = self.relay.stop()
        ports = self.relay_ports or {}
        self.relay = NsRelay(self.ns, self.relay_binary, tap=TAP, faults=faults,
                             seed=self.seed if seed is None else seed, **ports)
        self.relay.start()
        self.relay_ports = {"relay_port": self.relay.relay_port, "qemu_port": self.relay.qemu_port}
        return counters

    def set_nft_loss(self, percent: int) -> None:
        """Random loss of TCP segments both ways on the tap, by nftables inside the namespace
        (`numgen random mod 100 < N drop`); 0 removes the table. Each chain counts what it saw
        and what it dropped (nft_counts())."""
        self.ns.run(["nft", "delete", "table", "inet", "skiffloss"])
        self.nft_loss = percent
        if not percent:
            return
        rules = (f"table inet skiffloss {{\n"
                 f" chain in {{ type filter hook input priority 0; iifname \"{TAP}\" meta l4proto tcp counter; "
                 f"iifname \"{TAP}\" meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n"
                 f" chain out {{ type filter hook output priority 0; oifname \"{TAP}\" meta l4proto tcp counter; "
                 f"oifname \"{TAP}\" meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n}}\n")
        result = self.ns.run(["nft", "-f", "-"], input=rules)
        check(result.returncode == 0, "nft rules not accepted", result.stderr)

    def nft_counts(self) -> dict:
        """{'in': (seen, dropped), 'out': (seen, dropped)}: TCP segments the loss table's chains saw
        on the tap (in: from the guest, out: to the guest) and the ones their numgen rule dropped."""
        return nft_chain_counts(self.ns.run(["nft", "list", "table", "inet", "skiffloss"]).stdout)

    def check_nft_loss(self, name: str) -> dict:
        """The loss rule really dropped segments in each direction, at about the rate it claims."""
        counts = self.nft_counts()
        for chain in ("in", "out"):
            seen, dropped = counts.get(chain, (0, 0))
            check(dropped > 0, f"{name}: the nft rule on chain {chain} dropped nothing ({seen} TCP segments seen): "
                  f"no fault was injected", str(counts))
            check(binomial_plausible(dropped, seen, self.nft_loss / 100),
                  f"{name}: chain {chain} dropped {dropped} of {seen}, not about {self.nft_loss}%", str(counts))
        return counts

    # -- the guest -----------------------------------------------------------------------------

    def wait_reachable(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.ns.run(["ping", "-n", "-c", "1", "-W", "1", GUEST], timeout=10).returncode == 0:
                return
        raise CheckFailed(f"the guest did not answer ping within {seconds:.0f} s")

    def resources(self) -> dict:
        out = self.guest.command("resources", timeout=30)
        match = RESOURCES.search(out)
        check(match is not None, "`resources` printed no line", out)
        return {k: int(v) for k, v in (p.split("=", 1) for p in match.group(1).split())}

    def stats(self) -> dict:
        out = self.guest.command("stats", timeout=30)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out)}

    def take_baseline(self) -> dict:
        self.baseline = self.resources()
        say(f"baseline: {format_resources(self.baseline)}")
        return self.baseline

    def check_baseline(self, after: str, wait: float = 8.0) -> dict:
        """Frames, heap, pinned pages, zero-copy bytes, pools and live TCP sockets back where the
        baseline was (TIME-WAIT sockets hold no buffers and are left out: they last 60 s; so are
        half-open ones, up to MAX_HALF_OPEN)."""
        end = time.monotonic() + wait
        while True:
            now = self.resources()
            check(now.get("tcp_half_open", 0) <= MAX_HALF_OPEN,
                  f"after {after}: {now.get('tcp_half_open')} half-open connections, more than the backlogs allow")
            if comparable(now) == comparable(self.baseline):
                half_open = now.get("tcp_half_open", 0)
                say(f"ok: resources back to the baseline after {after}"
                    + (f" ({half_open} half-open connections left by the flood, within the backlogs)" if half_open
                       else ""))
                return now
            if time.monotonic() > end:
                raise CheckFailed(f"after {after}: not back to the baseline:\n  now      {format_resources(now)}\n"
                                  f"  baseline {format_resources(self.baseline)}")
            time.sleep(0.5)

    # -- transfers (SHA-256 checked, copy elimination on) ---------------------------------------

    def transfer(self, ttcp: str, direction: str, kib: int, zc: str = "on", seed: int = 4242):
        count = max(1, kib * 1024 // 1460)
        started = time.monotonic()
        if direction == "in":
            received = ttcp_guest.host_to_guest(self.ns, self.guest, ttcp, zc, count, seed=seed)
        else:
            received = ttcp_guest.guest_to_host(self.ns, self.guest, ttcp, zc, count)
        return int(received.group("bytes")), time.monotonic() - started


# Half-open children (SYN-RECEIVED) of the three service listeners, at most a backlog (32) each,
# hold no data buffers; after a SYN flood from addresses that never answer they stay until their
# SYN-ACK retransmissions run out (about two minutes). check_baseline() leaves them out of the
# comparison but never accepts more than this.
MAX_HALF_OPEN = 3 * 32


def comparable(resources: dict) -> dict:
    # The heap keeps up to one empty slab page per size class (heap_cached): counted with the free
    # frames, since a frame moving between the two is held by nothing.
    result = {k: v for k, v in resources.items()
              if k not in ("tcp_sockets", "tcp_timewait", "tcp_half_open", "heap_cached")}
    result["frames_free"] = resources.get("frames_free", 0) + resources.get("heap_cached", 0)
    result["tcp_live"] = (resources.get("tcp_sockets", 0) - resources.get("tcp_timewait", 0)
                          - resources.get("tcp_half_open", 0))
    return result


def format_resources(resources: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in resources.items())


def delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(before) | set(after))
            if after.get(k, 0) != before.get(k, 0)}


def format_delta(d: dict) -> str:
    return " ".join(f"{k}+{v}" for k, v in d.items()) or "(none)"


NFT_CHAIN = re.compile(r"chain (\w+) \{(.*?)\n\s*\}", re.S)
NFT_COUNTER = re.compile(r"counter packets (\d+) bytes \d+( drop)?")


def nft_chain_counts(listing: str) -> dict:
    """From `nft list table` of a loss table whose chains hold a plain counter and a counter drop:
    {chain: (packets counted, packets dropped)}."""
    counts = {}
    for chain, body in NFT_CHAIN.findall(listing):
        seen = dropped = 0
        for packets, drop in NFT_COUNTER.findall(body):
            if drop:
                dropped += int(packets)
            else:
                seen += int(packets)
        counts[chain] = (seen, dropped)
    return counts


def binomial_plausible(k: int, n: int, p: float, sigmas: float = 6.0) -> bool:
    """k events out of n trials is within `sigmas` standard deviations of n*p (plus one, for
    small n): a fault injector doing about what it claims, not 0% nor 100%."""
    mean = n * p
    return abs(k - mean) <= sigmas * (n * p * (1 - p)) ** 0.5 + 1


def root_problem() -> str | None:
    return NetNamespace.problem()

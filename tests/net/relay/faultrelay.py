"""Run tools/faultrelay from a Python test: start it, give QEMU the matching -netdev, stop it
and read its counters. For the guest reliability scenarios (transfers through a lossy, reordering,
corrupting link) and for this directory's own tests.

    from faultrelay import FaultRelay
    with FaultRelay(relay_binary, tap="skiff0", faults=["--drop", "5", "--reorder", "2"], seed=7,
                    log="/tmp/relay.log") as relay:
        qemu_args = ["-netdev", relay.netdev("n0"), "-device", "e1000,netdev=n0"]
        ...
    print(relay.counters["to-host"]["dropped"])

The caller owns the network namespace and the tap in it (the relay runs in the caller's
namespace; `ip netns exec` or `unshare --net` the whole test, as tests/net does). The relay is
stopped with SIGTERM by PID, and killed if it does not exit within 10 s.
"""
import os
import signal
import socket
import subprocess
import tempfile


def parse_counters(text):
    """{'to-host': {'received': N, ...}, 'to-guest': {...}} from the relay's output."""
    counters = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] == "faultrelay:" and parts[1] in ("to-host", "to-guest"):
            counters[parts[1]] = {k: int(v) for k, v in (p.split("=", 1) for p in parts[2:])}
    return counters


def free_udp_port():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class FaultRelay:
    def __init__(self, binary, tap, faults=(), seed=1, log=None, mode="dgram", duration=3600,
                 relay_port=None, qemu_port=None):
        """mode: "dgram" (QEMU -netdev dgram over loopback UDP) or "stream" (a unix socket)."""
        self.binary = binary
        self.tap = tap
        self.faults = list(faults)
        self.seed = seed
        self.log = log
        self.mode = mode
        self.duration = duration
        self.relay_port = relay_port or free_udp_port()
        self.qemu_port = qemu_port or free_udp_port()
        self.workdir = None
        self.process = None
        self.output = ""
        self.counters = {}

    def endpoint_args(self):
        if self.mode == "dgram":
            return ["--udp", f"{self.relay_port}:{self.qemu_port}"]
        return ["--stream-listen", f"unix:{self.socket_path}"]

    def netdev(self, netdev_id="n0"):
        """The -netdev value that connects QEMU 7.2 to this relay."""
        if self.mode == "dgram":
            return (f"dgram,id={netdev_id},local.type=inet,local.host=127.0.0.1,local.port={self.qemu_port},"
                    f"remote.type=inet,remote.host=127.0.0.1,remote.port={self.relay_port}")
        return f"stream,id={netdev_id},server=off,addr.type=unix,addr.path={self.socket_path}"

    def start(self):
        self.workdir = tempfile.mkdtemp(prefix="skiff-faultrelay-")
        self.socket_path = os.path.join(self.workdir, "relay.sock")
        command = [self.binary, "--tap", self.tap, "--seed", str(self.seed), "--duration", str(self.duration)]
        if self.log:
            command += ["--log", self.log]
        self.process = subprocess.Popen(command + self.endpoint_args() + self.faults, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        # The banner is printed once the tap is open: from then on frames flow.
        self.banner = self.process.stdout.readline()
        if not self.banner.startswith("faultrelay: tap"):
            self.process.kill()
            rest = self.process.communicate()[0]
            raise RuntimeError(f"faultrelay did not start: {self.banner}{rest}")
        return self

    def stop(self):
        """Stops the relay (SIGTERM by PID) and returns its counters."""
        if self.process is None:
            return self.counters
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.exit_code = self.process.returncode
        self.output = self.banner + rest
        self.counters = parse_counters(self.output)
        self.process = None
        if self.workdir:
            for name in os.listdir(self.workdir):
                os.unlink(os.path.join(self.workdir, name))
            os.rmdir(self.workdir)
            self.workdir = None
        return self.counters

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

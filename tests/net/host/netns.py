"""Shared plumbing for the tap-runner namespace tests.

The network rule: the tap and all traffic live only inside a network namespace this script
creates (`unshare --net`, which disappears with the last process in it); the machine's own
interfaces are never touched; every load is bounded in count and time; only processes this
script started are killed, by PID.
"""
import os
import shutil
import subprocess
import sys
import time

SKIP = 77
TAP = "skiff0"
HOST_IP = "10.0.2.2"
STACK_IP = "10.0.2.15"


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def fail(reason):
    print(f"FAIL: {reason}", flush=True)
    sys.exit(1)


def enter_namespace(tools):
    """Re-executes this script inside a fresh network namespace unless already inside one."""
    if os.environ.get("SKIFF_NETNS_INSIDE") == "1":
        return
    if os.geteuid() != 0:
        skip("needs root to create a network namespace and a tap device")
    for tool in ["unshare", "ip"] + tools:
        if shutil.which(tool) is None:
            skip(f"tool '{tool}' is not installed")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is missing")
    env = dict(os.environ, SKIFF_NETNS_INSIDE="1")
    result = subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env)
    sys.exit(result.returncode)


def run(cmd, check=True, **kwargs):
    return subprocess.run(cmd, check=check, **kwargs)


class Runner:
    """The tap runner inside the namespace, with the tap configured as the host end 10.0.2.2."""

    def __init__(self, runner_path, extra_args=(), max_seconds=300):
        self.counters = None
        run(["ip", "link", "set", "lo", "up"])
        run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"])
        run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP])
        run(["ip", "link", "set", TAP, "up"])
        self.stderr_path = f"/tmp/skiff-tap-runner.{os.getpid()}.log"
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen(
            [runner_path, "--tap", TAP, "--cmdline", f"ip={STACK_IP}/24 gw={HOST_IP}",
             "--max-seconds", str(max_seconds)] + list(extra_args),
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.stop()
            fail(f"runner did not start (said {line!r})")

    def stop(self):
        """Stops the runner and returns what it printed at exit (its counters); also kept in
        self.counters."""
        if self.counters is not None:
            return self.counters
        if self.process.poll() is None:
            self.process.terminate()  # by PID: only the process we started
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        with open(self.stderr_path) as f:
            counters = f.read()
        os.unlink(self.stderr_path)
        run(["ip", "link", "del", TAP], check=False)
        print("runner counters:\n" + counters, flush=True)
        self.counters = counters
        return counters

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

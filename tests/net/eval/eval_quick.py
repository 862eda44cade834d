#!/usr/bin/env python3
"""net.eval.quick: `tools/eval/eval --quick` works. Runs it into a temporary directory (e1000, the
send and receive workloads with copy elimination off and on, the copy-versus-remap crossover) and
checks what it wrote: results.json holds both modes of both workloads with non-zero driver,
protocol and socket figures, every byte arrived, the crossover has its rows, and README.md has the
paper-form tables. No timing thresholds: the figures only have to be there and be sane.

Usage: eval_quick.py --kernel ELF --ttcp HOST_TTCP   (exit 77 without root, as the eval itself)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
EVAL = os.path.join(ROOT, "tools", "eval", "eval")


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--ttcp", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="skiff-eval-") as out:
        # Debian's python3 (matplotlib for the plots); the eval itself says so if it is missing.
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        result = subprocess.run([python, EVAL, "--quick", "--no-build", "--no-size", "--kernel", args.kernel, "--ttcp",
                                 args.ttcp, "--out", out], capture_output=True, text=True, timeout=110)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode == 77:
            return 77
        if result.returncode != 0:
            fail(f"tools/eval/eval --quick exited {result.returncode}")
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(out, "README.md")) as f:
            report = f.read()
        e1000 = results["nics"].get("e1000")
        if not e1000:
            fail("no e1000 results")
        for direction, prefix in (("send", "tx"), ("receive", "rx")):
            modes = {run["zc"]: run for run in e1000[direction]}
            if set(modes) != {"off", "on"}:
                fail(f"{direction}: modes {sorted(modes)}, want off and on")
            for zc, run in modes.items():
                want = run["length"] * run["count"]
                if run["throughput"]["bytes"] != want or run["throughput"]["kb_per_s"] <= 0:
                    fail(f"{direction} -z {zc}: {run['throughput']} (want {want} bytes at a non-zero rate)")
                stages = run["prof"]["stages"]
                for stage in ("driver", "protocol", "socket"):
                    s = stages[f"{prefix} {stage}"]
                    if s["cycles"] <= 0 or s["events"] <= 0:
                        fail(f"{direction} -z {zc}: {prefix} {stage} has {s}")
                # Sanity: the socket stage saw every byte the application moved.
                if stages[f"{prefix} socket"]["bytes"] != want:
                    fail(f"{direction} -z {zc}: {prefix} socket counted {stages[prefix + ' socket']['bytes']} bytes, "
                         f"want {want}")
        rows = results.get("crossover", {}).get("rows", [])
        if len(rows) < 5 or any(r["copy_cycles"] <= 0 or r["remap_cycles"] <= 0 for r in rows):
            fail(f"crossover rows missing or zero: {rows}")
        for heading in ("## Sending data, DMA NIC (e1000)", "## Receiving data, DMA NIC (e1000)",
                        "## Summary beside the paper", "| **protocol+socket** |", "## Copy versus remap"):
            if heading not in report:
                fail(f"README.md lacks {heading!r}")
        for png in ("fig5_send.png", "fig6_receive.png"):
            path = os.path.join(out, png)
            if os.path.exists("/usr/lib/python3/dist-packages/matplotlib") and not os.path.getsize(path) > 1000:
                fail(f"{png} missing or empty")
    print("PASS: tools/eval/eval --quick wrote the tables, both modes, non-zero stage figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The part of tests/run after the set-up: run CTest, then say plainly what was skipped and why,
what failed, and how it all ended.

tests/run (bash) installs packages and builds through qemu/lib.sh, then execs this. Standard
library only.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DIR = os.path.join(ROOT, "build", "x86_64")
LOG_DIR = os.path.join(BUILD_DIR, "test-logs")


def say(message: str) -> None:
    print(f"tests/run: {message}", flush=True)


# A test that cannot run prints `SKIP: reason` (a script may put its own name first,
# `run-fuzz: SKIP: ...`); one that ran but left part of its claim unchecked prints
# `SKIPPED PART: reason` and passes.
SKIP_LINE = re.compile(r"^(?:[\w./-]+:\s*)?SKIP(?:PED)?\s*[:-]\s*(.+)$", re.IGNORECASE)
SKIPPED_PART_LINE = re.compile(r"^(?:[\w./-]+:\s*)?SKIPPED PART\s*:\s*(.+)$")


def strict_about_skips(environment: dict) -> bool:
    """Under CI (CI=true, as CI runs: root, a fresh clone) nothing may skip: a skipped test or a
    skipped part of one fails the run. Elsewhere a skip is reported loudly but does not fail."""
    return environment.get("CI", "").lower() in ("true", "1", "yes")


def skipped_parts(output: str) -> list[str]:
    """The reasons of every `SKIPPED PART:` line a (passing) test printed."""
    return [match.group(1).strip() for match in
            (SKIPPED_PART_LINE.match(line.strip()) for line in output.splitlines()) if match]


def skip_reason(output: str, message: str) -> str:
    """The line a skipping test printed to say why (tests print `SKIP: reason`; GoogleTest prints
    `...: Skipped` followed by the reason)."""
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if SKIPPED_PART_LINE.match(line):
            continue
        match = SKIP_LINE.match(line)
        if match:
            return match.group(1)
        if line.endswith("Skipped") and "[  SKIPPED ]" not in line:
            rest = [l for l in lines[index + 1:] if l and not l.startswith("[")]
            if rest:
                return rest[0]
    return f"no reason printed ({message})" if message else "no reason printed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/run",
        description="Install what is missing (as root), build, and run every test through CTest "
                    "(labels: unit, style, boot, net, fuzz, sanitize). Exit status is non-zero if any test "
                    "failed or did not run, and under CI=true if anything was skipped.",
        epilog="Examples: tests/run -L unit;  tests/run -L 'unit|style';  tests/run -R boot.crash -V. "
               "Anything after -- goes to ctest unchanged. Serial logs of QEMU tests: build/x86_64/test-logs/.")
    parser.add_argument("-L", "--label", action="append", default=[], metavar="REGEX",
                        help="only tests with a label matching REGEX (repeat to require several)")
    parser.add_argument("-LE", "--label-exclude", action="append", default=[], metavar="REGEX",
                        help="leave out tests with a label matching REGEX")
    parser.add_argument("-R", "--regex", metavar="REGEX", help="only tests whose name matches")
    parser.add_argument("-E", "--exclude", metavar="REGEX", help="leave out tests whose name matches")
    parser.add_argument("-j", "--parallel", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="tests run at once (default: CPUs); QEMU timing tests run alone anyway")
    parser.add_argument("-V", "--verbose", action="store_true", help="show every test's output")
    parser.add_argument("-N", "--list", action="store_true", help="list the tests, run nothing")
    parser.add_argument("--no-skips", action="store_true",
                        help="a skipped test or a SKIPPED PART fails the run (always so under CI=true)")
    parser.add_argument("--no-build", action="store_true", help="(handled by tests/run) do not build first")
    parser.add_argument("--no-install", action="store_true",
                        help="(handled by tests/run) do not install Debian packages")
    parser.add_argument("ctest_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if not os.path.exists(os.path.join(BUILD_DIR, "CTestTestfile.cmake")):
        say("build/x86_64 is not configured (run tests/run without --no-build)")
        return 1

    os.makedirs(LOG_DIR, exist_ok=True)
    junit = os.path.join(LOG_DIR, "ctest-junit.xml")
    if os.path.exists(junit):
        os.remove(junit)
    command = ["ctest", "--test-dir", BUILD_DIR, "--output-on-failure", "--no-tests=error",
               "--timeout", "600", "-j", str(args.parallel), "--output-junit", junit,
               # Keep whole outputs in the results: the summary below reads them.
               "--test-output-size-passed", "262144", "--test-output-size-failed", "1048576"]
    for label in args.label:
        command += ["-L", label]
    for label in args.label_exclude:
        command += ["-LE", label]
    if args.regex:
        command += ["-R", args.regex]
    if args.exclude:
        command += ["-E", args.exclude]
    if args.verbose:
        command += ["-V"]
    if args.list:
        command += ["-N"]
    command += args.ctest_args

    selection = " and ".join(args.label) if args.label else "all labels"
    say(f"running tests ({selection}): {' '.join(command)}")
    started = time.monotonic()
    environment = dict(os.environ, SKIFF_TEST_LOG_DIR=LOG_DIR)
    status = subprocess.run(command, env=environment).returncode
    elapsed = time.monotonic() - started
    if args.list:
        return status

    try:
        cases = ElementTree.parse(junit).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError) as error:
        say(f"FAILED: ctest wrote no readable results ({error}); ctest exit status {status}")
        return status or 1

    ci = strict_about_skips(os.environ)
    why = " (counts as a failure: CI=true)" if ci else " (counts as a failure: --no-skips)" if args.no_skips else ""
    return judge(cases, status, ci or args.no_skips, elapsed, selection, why)


def judge(cases, status: int, strict: bool, elapsed: float, selection: str, why: str = "") -> int:
    """Prints the summary of CTest's results (JUnit `testcase` elements) and returns the exit
    status: non-zero if a test failed or did not run, if CTest failed, if nothing ran, and when
    `strict`, if a test or a part of one was skipped."""
    passed, failed, skipped, not_run, reports, parts = [], [], [], [], [], []
    for case in cases:
        name = case.get("name")
        output = case.findtext("system-out") or ""
        # Tests print measurements as `REPORT ...` lines (time to prompt, accelerator, ...).
        reports += [(name, line[len("REPORT "):].strip()) for line in output.splitlines() if line.startswith("REPORT ")]
        skip = case.find("skipped")
        if case.get("status") == "run":
            passed.append(name)
            parts += [(name, reason) for reason in skipped_parts(output)]
        elif case.get("status") == "notrun" and skip is not None and "SKIP_" in (skip.get("message") or ""):
            skipped.append((name, skip_reason(output, skip.get("message") or "")))
        elif case.get("status") == "notrun":
            not_run.append((name, (skip.get("message") if skip is not None else "") or "not run"))
        else:
            failed.append(name)

    print()
    for name, line in reports:
        say(f"{name}: {line}")
    for name, reason in skipped:
        say(f"SKIPPED{why} {name}: {reason}")
    for name, reason in parts:
        say(f"SKIPPED PART{why} {name}: {reason}")
    for name, reason in not_run:
        say(f"NOT RUN (counts as a failure) {name}: {reason}")
    for name in failed:
        say(f"FAILED {name}")
    total = len(passed) + len(failed) + len(skipped) + len(not_run)
    if total == 0:
        say("no test matched the selection (see tests/run -N for the list)")
    bad = len(failed) + len(not_run) + (len(skipped) + len(parts) if strict else 0)
    verdict = "FAIL" if bad or status else "PASS"
    loud = ""
    if skipped or parts:
        # Outside CI a skip does not fail the run, but the closing line says it was not all checked.
        loud = f" -- NOT EVERYTHING WAS CHECKED: {len(skipped)} skipped, {len(parts)} skipped parts (see above)"
    part_count = f", {len(parts)} skipped parts" if parts else ""
    say(f"{verdict}: {len(passed)} passed, {len(failed)} failed, {len(not_run)} not run, "
        f"{len(skipped)} skipped{part_count}, of {total} tests ({selection}) in {elapsed:.1f} s{loud}")
    if bad or status or total == 0:
        return status or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

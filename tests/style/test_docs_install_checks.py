#!/usr/bin/env python3
"""check_install_list.py and check_docs.py catch what they are for: each runs over small trees made
here, one clean and several broken, and must pass the first and fail, naming the problem, the rest."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

LIB_SH = """SKIFF_PACKAGES_BUILD=(
    python3
    iputils-ping # ping
)
SKIFF_PACKAGES_EXTRA=(python3-scapy tcpdump)
"""

BASE = {
    "qemu/lib.sh": LIB_SH,
    "tests/net/t.py": "import subprocess\nimport scapy.all as s\nsubprocess.run(['ping', '-c', '1'])\n"
                      "s.AsyncSniffer(iface='x', filter='tcp')\n",
    "tests/run.sh": "#!/bin/sh\nset -u\nsay() { echo \"$*\"; }\nsay hello | grep -q h && ping -c1 x\n",
    "README.md": "# r\n\n[docs](docs/README.md), [a section](docs/a.md#first-part)\n",
    "docs/README.md": "# docs\n\n[a](a.md)\n",
    "docs/a.md": "# A\n\n## First part\n\nSee [the top](../README.md).\n",
}

BROKEN = {
    "install: a program from a package not in the list": ("install", {"tests/u.py": "import subprocess\n"
                                                                      "subprocess.run(['nft', 'list', 'ruleset'])\n"},
                                                          "nftables"),
    "install: a program nobody knows": ("install", {"tests/u.sh": "#!/bin/bash\nfrobnicate --now\n"}, "frobnicate"),
    "install: a module outside the standard library": ("install", {"tools/v.py": "import yaml\n"}, "yaml"),
    "install: scapy filters without libpcap": ("install", {"qemu/lib.sh": LIB_SH.replace(" tcpdump", "")}, "tcpdump"),
    "docs: a broken link": ("docs", {"docs/b.md": "# B\n\n[gone](missing.md)\n",
                                     "docs/README.md": "# docs\n\n[a](a.md) [b](b.md)\n"}, "missing.md"),
    "docs: a broken anchor": ("docs", {"README.md": "# r\n\n[docs](docs/README.md#nowhere)\n"}, "nowhere"),
    "docs: a page the index leaves out": ("docs", {"docs/c.md": "# C\n"}, "docs/c.md"),
    "docs: an issue number": ("docs", {"tools/w.py": "# see is" + "sue 12\n"}, "issue"),
    "docs: notes outside the repository": ("docs", {"docs/a.md": "# A\n\n## First part\n\nas ../" + "shared/x says\n"},
                                           "shared"),
}


def make_tree(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)


def run(checker, root):
    script = {"install": "check_install_list.py", "docs": "check_docs.py"}[checker]
    return subprocess.run([sys.executable, os.path.join(HERE, script), root], capture_output=True, text=True)


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as root:
        make_tree(root, BASE)
        for checker in ("install", "docs"):
            result = run(checker, root)
            if result.returncode != 0:
                print(f"FAIL: {checker} rejects the clean tree:\n{result.stdout}")
                failures += 1
            else:
                print(f"ok: {checker} accepts the clean tree")
    for name, (checker, files, named) in BROKEN.items():
        with tempfile.TemporaryDirectory() as root:
            make_tree(root, BASE)
            make_tree(root, files)
            result = run(checker, root)
            if result.returncode == 0 or named not in result.stdout:
                print(f"FAIL: {name}: exit {result.returncode}, output does not name {named!r}:\n{result.stdout}")
                failures += 1
            else:
                print(f"ok: {name}: caught ({result.stdout.splitlines()[0][:120]})")
    print(f"{len(BROKEN) + 2 - failures} of {len(BROKEN) + 2} cases as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

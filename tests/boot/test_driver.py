#!/usr/bin/env python3
"""Host tests of the QEMU tooling itself, no boot: the command line qemu/run and the driver build,
the exit-status translation, the parsers the boot test judges the console with, and what tests/run
makes of CTest's results (skips).
CTest: boot.driver_unit (label unit)."""

import contextlib
import io
import os
import sys
import unittest
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "qemu"))
sys.path.insert(0, HERE)

import boot_test  # noqa: E402
import skiffqemu  # noqa: E402
import testrun  # noqa: E402
from skiffqemu import Options, OptionError, qemu_command  # noqa: E402

ELF = os.path.abspath(__file__)  # any existing file stands in for the image


def build(**options):
    options.setdefault("kernel", ELF)
    options.setdefault("accel", "tcg")
    argv, accel = qemu_command(Options(**options), "stdio")
    return argv, accel


def value_after(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


class QemuCommand(unittest.TestCase):
    def test_every_boot_has_debug_exit_no_reboot_and_the_kernel(self):
        argv, _ = build()
        self.assertIn("isa-debug-exit,iobase=0xf4,iosize=0x04", value_after(argv, "-device"))
        self.assertIn("-no-reboot", argv)
        self.assertEqual(value_after(argv, "-kernel"), [ELF])
        self.assertEqual(value_after(argv, "-append"), ["ip=10.0.2.15/24 gw=10.0.2.2"])
        self.assertEqual(value_after(argv, "-m"), ["32M"])
        self.assertEqual(value_after(argv, "-machine"), ["pc"])

    def test_aarch64_boots_virt_with_semihosting_and_no_isa(self):
        argv, accel = build(arch="aarch64")
        self.assertEqual(argv[0], "qemu-system-aarch64")
        self.assertEqual(value_after(argv, "-machine"), ["virt,gic-version=2"])
        self.assertEqual(value_after(argv, "-cpu"), ["cortex-a72"])
        self.assertEqual(value_after(argv, "-semihosting-config"), ["enable=on,target=native"])
        self.assertFalse(any("isa-debug-exit" in d for d in value_after(argv, "-device")))
        self.assertEqual(accel, "tcg")
        argv, _ = build(arch="aarch64", gic=3, nic="ne2k-pci")
        self.assertEqual(value_after(argv, "-machine"), ["virt,gic-version=3"])
        self.assertTrue(any(d.startswith("ne2k_pci,") for d in value_after(argv, "-device")))
        with self.assertRaises(OptionError):
            build(arch="aarch64", nic="ne2k")  # no ISA bus on virt
        with self.assertRaises(OptionError):
            build(arch="aarch64", machine="pc")
        with self.assertRaises(OptionError):
            build(arch="aarch64", iso=True)
        with self.assertRaises(OptionError):
            build(arch="aarch64", accel="kvm")
        self.assertTrue(Options(arch="aarch64").kernel.endswith("build/aarch64/skiff.img"))
        self.assertEqual(Options(arch="aarch64").machine, "virt")

    def test_terminal_and_stdio_consoles(self):
        terminal, _ = qemu_command(Options(kernel=ELF, accel="tcg"), "terminal")
        self.assertIn("-nographic", terminal)
        stdio, _ = build()
        self.assertEqual(value_after(stdio, "-serial"), ["stdio"])
        self.assertEqual(value_after(stdio, "-display"), ["none"])

    def test_ne2k_uses_irq_10_by_default_and_tells_the_kernel(self):
        argv, _ = build(nic="ne2k")
        device = [d for d in value_after(argv, "-device") if d.startswith("ne2k_isa")][0]
        self.assertIn("iobase=0x300", device)
        self.assertIn("irq=10", device)
        self.assertIn("ne2k_irq=10", value_after(argv, "-append")[0])
        argv, _ = build(nic="ne2k", ne2k_irq=5)
        self.assertIn("irq=5", [d for d in value_after(argv, "-device") if d.startswith("ne2k_isa")][0])
        self.assertIn("ne2k_irq=5", value_after(argv, "-append")[0])
        # 0: QEMU's default line, and the kernel is told nothing (it probes).
        argv, _ = build(nic="ne2k", ne2k_irq=0)
        self.assertNotIn("irq=", [d for d in value_after(argv, "-device") if d.startswith("ne2k_isa")][0])
        self.assertNotIn("ne2k_irq", value_after(argv, "-append")[0])

    def test_append_adds_and_overrides_defaults(self):
        argv, _ = build(append="panic=exit ip=192.168.7.2/24")
        line = value_after(argv, "-append")[0].split()
        self.assertIn("panic=exit", line)
        self.assertIn("ip=192.168.7.2/24", line)
        self.assertNotIn("ip=10.0.2.15/24", line)
        self.assertIn("gw=10.0.2.2", line)

    def test_nics(self):
        self.assertEqual(value_after(build(nic="none")[0], "-nic"), ["none"])
        self.assertTrue(any(d.startswith("ne2k_pci,") for d in value_after(build(nic="ne2k-pci")[0], "-device")))
        e1000 = [d for d in value_after(build(mitigation="off")[0], "-device") if d.startswith("e1000,")]
        self.assertIn("mitigation=off", e1000[0])
        with self.assertRaises(OptionError):
            build(nic="ne2k", mitigation="off")
        with self.assertRaises(OptionError):
            build(nic="rtl8139")

    def test_pcap_gdb_and_extra_arguments(self):
        argv, _ = build(pcap="/tmp/x.pcap", gdb=True, extra=["-d", "int"])
        self.assertIn("filter-dump,id=dump0,netdev=net0,file=/tmp/x.pcap", value_after(argv, "-object"))
        self.assertIn("-s", argv)
        self.assertIn("-S", argv)
        self.assertEqual(argv[-2:], ["-d", "int"])
        with self.assertRaises(OptionError):
            build(nic="none", pcap="/tmp/x.pcap")

    def test_user_networking_forwards_tcp_and_udp(self):
        argv, _ = build(forwards="45001:5001")
        netdev = value_after(argv, "-netdev")[0]
        self.assertIn("hostfwd=tcp:127.0.0.1:45001-10.0.2.15:5001", netdev)
        self.assertIn("hostfwd=udp:127.0.0.1:45001-10.0.2.15:5001", netdev)
        self.assertNotIn("hostfwd", value_after(build(forwards="none")[0], "-netdev")[0])
        self.assertEqual(skiffqemu.parse_forwards("5001,7,9"), [(5001, 5001), (7, 7), (9, 9)])
        with self.assertRaises(OptionError):
            skiffqemu.parse_forwards("ttcp")

    def test_the_web_server_port_is_forwarded_over_tcp_only(self):
        self.assertIn("8080:80/tcp", skiffqemu.DEFAULT_FORWARDS)
        self.assertEqual(skiffqemu.parse_forward_rules("18080:80/tcp,5001"),
                         [(18080, 80, ("tcp",)), (5001, 5001, ("tcp", "udp"))])
        netdev = value_after(build(forwards="18080:80/tcp")[0], "-netdev")[0]
        self.assertIn("hostfwd=tcp:127.0.0.1:18080-10.0.2.15:80", netdev)
        self.assertNotIn("hostfwd=udp", netdev)
        with self.assertRaises(OptionError):
            skiffqemu.parse_forward_rules("80/sctp")

    def test_the_archive_beside_the_kernel_is_the_default_initrd(self):
        import tempfile
        with tempfile.TemporaryDirectory() as directory:
            kernel = os.path.join(directory, "skiff.elf")
            open(kernel, "wb").close()
            warnings = []
            argv, _ = qemu_command(Options(kernel=kernel, accel="tcg"), "stdio", warn=warnings.append)
            self.assertEqual(value_after(argv, "-initrd"), [])
            self.assertTrue(any("www.tar" in w for w in warnings), warnings)
            archive = os.path.join(directory, "www.tar")
            open(archive, "wb").close()
            argv, _ = build(kernel=kernel)
            self.assertEqual(value_after(argv, "-initrd"), [archive])
            self.assertEqual(value_after(build(kernel=kernel, initrd="none")[0], "-initrd"), [])
            self.assertEqual(value_after(build(kernel=kernel, initrd=kernel)[0], "-initrd"), [kernel])
            with self.assertRaises(OptionError):
                build(kernel=kernel, initrd=os.path.join(directory, "missing.tar"))

    def test_tap_needs_an_existing_interface(self):
        with self.assertRaises(OptionError):
            build(net="tap")
        with self.assertRaises(OptionError):
            build(net="tap", tap_if="skiff-no-such-tap")

    def test_kvm_gets_the_host_cpu(self):
        argv, accel = build(accel="kvm")
        self.assertEqual(accel, "kvm")
        self.assertEqual(value_after(argv, "-cpu"), ["host"])

    def test_accelerator_choice_is_kvm_only_with_vmx_or_svm(self):
        accel, why = skiffqemu.choose_accel()
        with open("/proc/cpuinfo") as cpuinfo:
            virtualization = any(flag in line.split() for line in cpuinfo if line.startswith("flags")
                                 for flag in ("vmx", "svm"))
        if not virtualization:
            self.assertEqual(accel, "tcg", why)
        self.assertIn(accel, ("kvm", "tcg"))


class ExitStatus(unittest.TestCase):
    def test_odd_status_is_the_poweroff_code(self):
        self.assertEqual(skiffqemu.describe_status(1)[0], 0)
        self.assertEqual(skiffqemu.describe_status(7)[0], 3)
        code, text = skiffqemu.describe_status(255)
        self.assertEqual(code, 127)
        self.assertIn("panic", text)

    def test_qemu_failures_and_signals(self):
        self.assertEqual(skiffqemu.describe_status(1, qemu_failed=True), (1, skiffqemu.describe_status(1, True)[1]))
        self.assertIn("failed", skiffqemu.describe_status(1, qemu_failed=True)[1])
        self.assertEqual(skiffqemu.describe_status(-9)[0], 137)
        self.assertEqual(skiffqemu.describe_status(0)[0], 0)
        self.assertTrue(skiffqemu.qemu_error_line("qemu-system-x86_64: -bogus: invalid option\n"))
        self.assertFalse(skiffqemu.qemu_error_line("qemu-system-x86_64: warning: TCG doesn't support\n"))


class ConsoleParsers(unittest.TestCase):
    def test_clean_text_applies_backspaces_and_drops_escapes(self):
        self.assertEqual(skiffqemu.clean_text("hx\b \bel\x1b[Kp"), "help")

    def test_help_lines(self):
        commands = boot_test.parse_help("  help             list the commands\n"
                                        "  poweroff [code]  power off\n")
        self.assertEqual(commands, {"help": "list the commands", "poweroff": "power off"})
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.parse_help("  help\n")  # no description
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.parse_help("  help list the commands\n")  # one space is not a column

    def test_uptime_forms(self):
        self.assertAlmostEqual(boot_test.parse_uptime("up 0:00:01.006  (983 ticks at 1000 Hz)"), 1.006)
        self.assertAlmostEqual(boot_test.parse_uptime("up 1 day, 1:00:00"), 90000)
        self.assertAlmostEqual(boot_test.parse_uptime("uptime 2.5 s"), 2.5)
        self.assertAlmostEqual(boot_test.parse_uptime("1500 ms"), 1.5)
        self.assertIsNone(boot_test.parse_uptime("a while"))


class SelftestJudgement(unittest.TestCase):
    """boot.selftest compares the kernel's run with the tests the source registers."""

    NAMES = ["mm.a", "mm.b", "sched.c"]

    @staticmethod
    def run_output(registered, passes, failed=0):
        lines = [f"selftest: {registered} tests registered"] + [f"KTEST PASS {n}" for n in passes]
        lines.append(f"selftest: {len(passes)} passed, {failed} failed (12 ms)")
        return "\n".join(lines) + "\n"

    def test_every_registered_test_passed_by_name(self):
        self.assertEqual(boot_test.check_selftest_output(self.run_output(3, self.NAMES), self.NAMES), self.NAMES)

    def test_a_dropped_suite_fails_even_when_the_kernel_agrees_with_itself(self):
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.check_selftest_output(self.run_output(2, ["mm.a", "mm.b"]), self.NAMES)
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.check_selftest_output(self.run_output(3, ["mm.a", "mm.b"]), self.NAMES)

    def test_repeats_unknown_names_and_a_missing_count_fail(self):
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.check_selftest_output(self.run_output(3, ["mm.a", "mm.a", "sched.c"]), self.NAMES)
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.check_selftest_output(self.run_output(3, ["mm.a", "mm.b", "mm.z"]), self.NAMES)
        with self.assertRaises(boot_test.CheckFailed):
            boot_test.check_selftest_output(self.run_output(3, self.NAMES).split("\n", 1)[1], self.NAMES)

    def test_the_source_registers_the_suites(self):
        names = boot_test.registered_ktests()
        self.assertIn("mm.frame_refcounts", names)
        self.assertIn("sync.wait_queue_timeout", names)
        self.assertEqual(len(names), len(set(names)), "a test name is registered twice")


def junit_case(name, status, output="", skip_message=None):
    case = ElementTree.Element("testcase", name=name, status=status)
    ElementTree.SubElement(case, "system-out").text = output
    if skip_message is not None:
        ElementTree.SubElement(case, "skipped", message=skip_message)
    return case


class TestRunSummary(unittest.TestCase):
    """qemu/testrun.py: what tests/run makes of CTest's results."""

    def judge(self, cases, strict, status=0):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = testrun.judge(cases, status, strict, 1.0, "all labels")
        return code, out.getvalue()

    def test_skips_fail_only_when_strict_and_always_say_why(self):
        cases = [junit_case("a", "run"),
                 junit_case("net.x", "notrun", "SKIP: needs root for the namespace\n", "SKIP_RETURN_CODE=77"),
                 junit_case("fuzz.short", "notrun", "run-fuzz: SKIP: clang not found\n", "SKIP_RETURN_CODE=77")]
        code, text = self.judge(cases, strict=False)
        self.assertEqual(code, 0)
        self.assertIn("SKIPPED net.x: needs root for the namespace", text)
        self.assertIn("SKIPPED fuzz.short: clang not found", text)
        self.assertRegex(text, r"PASS: 1 passed, .* 2 skipped, .*NOT EVERYTHING WAS CHECKED")
        code, text = self.judge(cases, strict=True)
        self.assertNotEqual(code, 0)
        self.assertRegex(text, r"FAIL: 1 passed")

    def test_a_skipped_part_of_a_passing_test_is_a_skip(self):
        cases = [junit_case("net.ttcp", "run", "ok\nSKIPPED PART: iperf is not installed: not checked\n")]
        code, text = self.judge(cases, strict=False)
        self.assertEqual(code, 0)
        self.assertIn("SKIPPED PART net.ttcp: iperf is not installed: not checked", text)
        self.assertIn("1 skipped parts", text)
        code, _ = self.judge(cases, strict=True)
        self.assertNotEqual(code, 0)

    def test_failures_and_nothing_run(self):
        self.assertNotEqual(self.judge([junit_case("a", "fail")], strict=False)[0], 0)
        self.assertNotEqual(self.judge([junit_case("a", "notrun", "", "Disabled")], strict=False)[0], 0)
        self.assertNotEqual(self.judge([], strict=False)[0], 0)
        self.assertEqual(self.judge([junit_case("a", "run")], strict=True)[0], 0)

    def test_ci_means_strict(self):
        self.assertTrue(testrun.strict_about_skips({"CI": "true"}))
        self.assertFalse(testrun.strict_about_skips({}))
        self.assertFalse(testrun.strict_about_skips({"CI": "false"}))


if __name__ == "__main__":
    unittest.main(verbosity=2)

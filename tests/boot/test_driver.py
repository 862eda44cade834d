#!/usr/bin/env python3
"""Host tests of the QEMU tooling itself, no boot: the command line qemu/run and the driver build,
the exit-status translation, and the parsers the boot test judges the console with.
CTest: boot.driver_unit (label unit)."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "qemu"))
sys.path.insert(0, HERE)

import boot_test  # noqa: E402
import skiffqemu  # noqa: E402
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


if __name__ == "__main__":
    unittest.main(verbosity=2)

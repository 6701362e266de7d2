#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Judge a vireo test-guest serial log (see README.md for the line format).

The log is split into boots at each "vireo-guest: start" line; text before the first one
(firmware noise) is ignored. The last boot must end with "N passed, M failed" whose counts
agree with its CHECK lines, N > 0 and M == 0. Any CHECK ... FAIL anywhere fails the run.
More than one boot is only allowed with --reboot, which also demands "reboot_request PASS"
in the first boot and "reboot PASS" in the last.

The PCI checks (pci_*) are required unless the guest's command line, as echoed in its
"vireo-guest: cmdline" line, has pci=0 (or --no-pci / --no-default is given). The same
command line selects the virtio checks (virtio=rng,console), the hostile ones (hostile=1),
virtio_intx (intx=1), the virtio-blk checks of each disk in blk=SERIAL:rw|ro|rl:SECTORS:QUEUES
(an rl disk: bring-up and the reset check only) and the malformed requests (blkhostile=1); --console-out FILE also demands the guest's
virtio-console lines in the host-side output.

Exit status: 0 good, 1 bad, 2 usage or unreadable log.
"""
import argparse
import fnmatch
import re
import sys

# Searched anywhere in a line: firmware may leave a partial line before it.
BANNER = re.compile(r"vireo-guest: start\b")
CMDLINE = re.compile(r'^vireo-guest: cmdline "(.*)"$')
CHECK = re.compile(r"^CHECK (\S+) (PASS|FAIL)(?: (.*))?$")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[@-Z\\-_])")

# Printed on every run of guest.elf, whatever the command line.
DEFAULT_REQUIRED = ["memmap", "acpi_rsdp", "acpi_xsdt", "acpi_fadt", "acpi_madt",
                    "acpi_dsdt", "ram_low", "ram_high", "madt_cpus", "lapic_timer",
                    "debugport"]
# Printed unless the guest's command line says pci=0.
PCI_REQUIRED = ["pci_mcfg", "pci_cf8_probe", "pci_enum_agree", "pci_host_bridge",
                "pci_ecam_bounds", "pci_bar_sizing", "pci_bar_move"]
# Per device named in virtio=... (unless pci=0).
VIRTIO_REQUIRED = {
    "rng": ["virtio_rng_caps", "virtio_rng_features", "virtio_rng_init", "virtio_rng_entropy",
            "virtio_msix_mask", "virtio_msix_function_mask", "virtio_bar_move",
            "virtio_rng_reset"],
    "console": ["virtio_con_caps", "virtio_con_features", "virtio_con_init", "virtio_con_tx",
                "virtio_con_rx", "virtio_con_reset"],
}
# With vsock=CID (vsockcheck.c).
# With net=MAC (netcheck.c).
NET_REQUIRED = ["virtio_net_caps", "virtio_net_features", "virtio_net_init", "net_config",
                "net_ctrl_garbage", "net_tx_hostile", "net_rx_short_and_arp", "net_hostile_ring"]
VSOCK_REQUIRED = ["virtio_vsock_caps", "virtio_vsock_features", "virtio_vsock_init",
                  "vsock_config", "vsock_refused", "vsock_hostile_packets", "vsock_hostile_ring"]
# With hostile=1 (on virtio-rng).
HOSTILE_REQUIRED = ["hostile_features_no_version1", "hostile_features_unoffered",
                    "hostile_avail_jump", "hostile_head_range", "hostile_desc_loop",
                    "hostile_chain_long", "hostile_desc_outside_ram", "hostile_desc_straddle",
                    "hostile_desc_mmio_hole", "hostile_desc_wrap", "hostile_indirect_nested",
                    "hostile_indirect_len", "hostile_msix_table", "hostile_queue_select",
                    "hostile_vector_range", "cpuhp_hostile",
                    "hostile_hotplug_regs"]
# Per disk N of blk=SERIAL:MODE:SECTORS:QUEUES (blk.c), "{}" standing for blkN.
BLK_REQUIRED = ["blk_disks"]
BLK_DISK = ["virtio_{}_caps", "virtio_{}_features", "virtio_{}_init", "{}_config", "{}_read",
            "{}_seg_max", "{}_get_id"]
BLK_RW = ["{}_write_flush", "{}_discard", "{}_write_zeroes"]
BLK_RO = ["{}_readonly"]
BLK_MQ = ["{}_two_queues"]
# An rl disk (rate-limited by the runner) serves the reset check alone (blkreset.c).
BLK_RL = ["virtio_{}_caps", "virtio_{}_features", "virtio_{}_init", "{}_reset_inflight"]
# With blkhostile=1 (blkhostile.c), on the first writable disk.
BLK_HOSTILE = ["blkh_hdr_short", "blkh_hdr_writable", "blkh_hdr_missing", "blkh_status_readonly",
               "blkh_status_empty", "blkh_status_empty_out", "blkh_status_not_last",
               "blkh_dir_in", "blkh_dir_out", "blkh_dir_get_id", "blkh_dir_discard",
               "blkh_range_end", "blkh_range_cross", "blkh_range_wrap", "blkh_range_max",
               "blkh_dwz_range_wrap", "blkh_len_unaligned", "blkh_len_unaligned_out",
               "blkh_flush_data", "blkh_no_data_in", "blkh_no_data_out",
               "blkh_no_data_get_id", "blkh_unsupp_type", "blkh_unsupp_lifetime",
               "blkh_discard_unmap", "blkh_dwz_flags", "blkh_dwz_two_segs", "blkh_dwz_len",
               "blkh_dwz_too_big", "blkh_chain_long", "blkh_seg_size",
               "blkh_status_before_data", "blkh_avail_jump"]
# What the guest writes on virtio-console's transmitq0, in this order (vcheck.c).
CONSOLE_LINES = ["vireo-guest: virtio-console hello", "vireo-guest: virtio-console after reset"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="serial log file ('-' for stdin)")
    p.add_argument("--require", "-r", action="append", default=[], metavar="NAME",
                   help="check that must be present and PASS in the last boot "
                        "(shell pattern, e.g. 'ap_*'); repeatable")
    p.add_argument("--no-default", action="store_true",
                   help="do not require the checks every run prints: "
                        + ",".join(DEFAULT_REQUIRED))
    p.add_argument("--no-pci", action="store_true",
                   help="do not require the PCI checks (implied by pci=0 on the guest's "
                        "command line): " + ",".join(PCI_REQUIRED))
    p.add_argument("--cpus", type=int, metavar="N",
                   help="expect N CPUs: madt_cpus plus exactly N-1 ap_* checks")
    p.add_argument("--aps", type=int, metavar="N", help="expect exactly N ap_* checks")
    p.add_argument("--reboot", action="store_true",
                   help="expect the reboot=1 path: two boots, reboot_request then reboot")
    p.add_argument("--console-out", metavar="FILE",
                   help="host-side virtio-console output: must hold the guest's lines "
                        + " / ".join(repr(x) for x in CONSOLE_LINES) + " in order")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the verdict")
    return p.parse_args(argv)


def read_lines(path):
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    text = ANSI.sub("", data.decode("utf-8", errors="replace"))
    return [line.strip() for line in text.replace("\r", "\n").split("\n")]


def split_boots(lines):
    boots = []
    for line in lines:
        if BANNER.search(line):
            boots.append([])
        elif boots:
            boots[-1].append(line)
    return boots


def boot_checks(boot):
    """(checks before the summary, summary match or None, checks after the summary)"""
    before, after, summary = [], [], None
    for line in boot:
        m = CHECK.match(line)
        if m:
            (after if summary else before).append((m.group(1), m.group(2), m.group(3) or ""))
        elif summary is None:
            summary = SUMMARY.match(line)
    return before, summary, after


def boot_cmdline(boot):
    """The words of the guest's echoed command line (empty if it printed none)."""
    for line in boot:
        m = CMDLINE.match(line)
        if m:
            return m.group(1).split()
    return []


def virtio_required(words):
    """The virtio and hostile checks the guest's command line asks for."""
    req = []
    for w in words:
        if w.startswith("virtio="):
            for dev in w[len("virtio="):].split(","):
                req += VIRTIO_REQUIRED.get(dev, [])
    if "hostile=1" in words:
        req += HOSTILE_REQUIRED
    if "intx=1" in words:
        req.append("virtio_intx")
    if any(w.startswith("vsock=") for w in words):
        req += VSOCK_REQUIRED
    if any(w.startswith("net=") for w in words):
        req += NET_REQUIRED
    return req + blk_required(words)


def blk_required(words):
    """The virtio-blk checks blk=... and blkhostile=1 ask for (blkdurable= prints none)."""
    req = []
    for w in words:
        if not w.startswith("blk="):
            continue
        req += BLK_REQUIRED
        for n, spec in enumerate(w[len("blk="):].split(",")):
            parts = spec.split(":")
            if len(parts) != 4 or parts[1] not in ("rw", "ro", "rl") or not parts[3].isdigit():
                continue                 # the guest ignores it too (and blk_disks then fails)
            tag = f"blk{n}"
            if parts[1] == "rl":
                names = BLK_RL
            else:
                names = BLK_DISK + (BLK_RW if parts[1] == "rw" else BLK_RO)
                names += BLK_MQ if int(parts[3]) > 1 else []
            req += [x.format(tag) for x in names]
    if "blkhostile=1" in words and req:
        req += BLK_HOSTILE
    return req


def judge_console(path, errors):
    """The guest's virtio-console lines, in order, in the host-side output."""
    try:
        lines = read_lines(path)
    except OSError as e:
        errors.append(f"cannot read the console output {path}: {e}")
        return
    at = 0
    for want in CONSOLE_LINES:
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            errors.append(f"console output {path}: line '{want}' missing (in order)")
            return


def judge_last(boot, args, errors):
    before, summary, after = boot_checks(boot)
    if summary is None:
        errors.append("no 'N passed, M failed' summary in the last boot")
    else:
        npass, nfail = int(summary.group(1)), int(summary.group(2))
        cpass = sum(1 for c in before if c[1] == "PASS")
        cfail = len(before) - cpass
        if (npass, nfail) != (cpass, cfail):
            errors.append(f"summary says {npass} passed, {nfail} failed but the CHECK lines "
                          f"say {cpass} passed, {cfail} failed")
        if npass == 0:
            errors.append("summary reports 0 passed")
    checks = before + after
    names = {c[0]: c[1] for c in checks}
    required = list(args.require) + ([] if args.no_default else DEFAULT_REQUIRED)
    words = boot_cmdline(boot)
    if not (args.no_default or args.no_pci or "pci=0" in words):
        required += PCI_REQUIRED + virtio_required(words)
    if args.reboot:
        required.append("reboot")
    for pat in required:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pat)]
        if not hits:
            errors.append(f"required check '{pat}' missing")
    aps = sorted(n for n in names if n.startswith("ap_"))
    want_aps = args.aps if args.aps is not None else (
        args.cpus - 1 if args.cpus is not None else None)
    if want_aps is not None and len(aps) != want_aps:
        errors.append(f"expected {want_aps} ap_* checks, found {len(aps)}: {' '.join(aps)}")
    if args.cpus is not None and "madt_cpus" not in names:
        errors.append("madt_cpus missing")
    return checks


def judge(boots, args):
    errors = []
    if not boots:
        return ["no 'vireo-guest: start' line: the guest never ran"], []
    if len(boots) > 1 and not args.reboot:
        errors.append(f"{len(boots)} boots but no reboot was expected")
    if args.reboot:
        if len(boots) != 2:
            errors.append(f"reboot path: expected 2 boots, found {len(boots)}")
        first = boot_checks(boots[0])[0] if len(boots) > 1 else []
        if ("reboot_request", "PASS") not in [(c[0], c[1]) for c in first]:
            errors.append("reboot path: no 'reboot_request PASS' in the first boot")
    all_checks = []
    for i, boot in enumerate(boots[:-1]):
        all_checks += [(i + 1,) + c for c in boot_checks(boot)[0]]
    all_checks += [(len(boots),) + c for c in judge_last(boots[-1], args, errors)]
    for boot_no, name, verdict, detail in all_checks:
        if verdict == "FAIL":
            errors.append(f"boot {boot_no}: {name} FAIL {detail}".rstrip())
    return errors, all_checks


def main(argv):
    args = parse_args(argv)
    try:
        lines = read_lines(args.log)
    except OSError as e:
        print(f"check-report: cannot read {args.log}: {e}", file=sys.stderr)
        return 2
    errors, checks = judge(split_boots(lines), args)
    if args.console_out:
        judge_console(args.console_out, errors)
    if not args.quiet:
        for boot_no, name, verdict, detail in checks:
            print(f"  boot {boot_no}: {verdict} {name} {detail}".rstrip())
    if errors:
        for e in errors:
            print(f"check-report: FAIL: {e}")
        return 1
    print(f"check-report: OK: {len(checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

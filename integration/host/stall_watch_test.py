#!/usr/bin/env python3
"""stall-watch.py: its reading of QEMU's HMP answers, on answers captured from stalled hosts and
on the healthy states that share part of their look; then the same reading against a real QEMU
monitor (a paused TCG machine), so the watcher stays in step with the prompt."""
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time

spec = importlib.util.spec_from_file_location(
    "stall_watch", os.path.join(os.path.dirname(os.path.abspath(__file__)), "stall-watch.py"))
watch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(watch)

HALTED = ("CPU#0\nRAX=000000000001ad40 RBX=0000000000000000\n"
          "RIP=ffffffff81a592eb RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n(qemu) ")
IN_GUEST = HALTED.replace("RIP=ffffffff81a592eb", "RIP=ffffffff97c18e0d").replace("HLT=1",
                                                                                     "HLT=0")
LAPIC = ("LVTT\t 0x000000ec active-hi edge                 one-shot     Fixed  (vec 236)\n"
         "ISR\t (none)\nIRR\t {irr}\n\nAPR 0x00 TPR 0x{tpr:02x} DFR 0x0f LDR 0x01 PPR 0x{tpr:02x}\n"
         "(qemu) ")


def state(regs, irr="236 ", tpr=0x10):
    answers = {"info registers": regs, "info lapic": LAPIC.format(irr=irr, tpr=tpr)}
    return watch.stalled_state(lambda command: answers[command])


def live_monitor():
    """(name, good) checks against a paused QEMU's monitor, read the way the watcher reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "monitor")
        qemu = subprocess.Popen(["qemu-system-x86_64", "-S", "-nodefaults", "-display", "none",
                                 "-accel", "tcg", "-monitor", f"unix:{path},server=on,wait=off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path) and qemu.poll() is None and \
                    time.monotonic() < deadline:
                time.sleep(0.05)   # polling for the socket to exist, bounded by the deadline
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(30)
            sock.connect(path)
            watch.read_prompt(sock)
            asked = []

            def ask(command):
                asked.append(watch.hmp(sock, command))
                return asked[-1]
            first = watch.stalled_state(ask)
            regs = watch.hmp(sock, "info registers")
            lapic = watch.hmp(sock, "info lapic")
            sock.close()
        finally:
            qemu.kill()
            qemu.wait()
    return [
        ("live: a machine at reset is not stalled", first is None),
        ("live: 'info lapic' answers with the LAPIC state", "PPR" in lapic and "IRR" in lapic),
        ("live: 'info registers' answers with the registers", "IP=" in regs and "HLT=" in regs),
        ("live: each answer is its own command's", bool(asked) and "PPR" in asked[0]),
    ]


def main():
    cases = [
        ("halted, IF=1, timer vector pending: stalled", state(HALTED) is not None),
        ("the description names the vector and the CPU's state",
         "vector 236" in (state(HALTED) or "") and "halted" in (state(HALTED) or "")),
        ("running the nested guest with the vector pending: stalled",
         "running at ffffffff97c18e0d" in (state(IN_GUEST) or "")),
        ("nothing in IRR: not stalled", state(HALTED, irr="(none)") is None),
        ("pending vector below the priority: not stalled", state(HALTED, tpr=0xf0) is None),
        ("highest of several vectors counts", state(HALTED, irr="34 236 ", tpr=0x30)
         is not None),
    ] + live_monitor()
    for name, good in cases:
        print(("PASS " if good else "FAIL ") + name)
    return 0 if all(good for _, good in cases) else 1


if __name__ == "__main__":
    sys.exit(main())

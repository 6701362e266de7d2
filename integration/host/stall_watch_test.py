#!/usr/bin/env python3
"""stall-watch.py's reading of QEMU's HMP answers, on answers captured from real hosts: the
stalled one, and the healthy states that share part of its look."""
import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location(
    "stall_watch", os.path.join(os.path.dirname(os.path.abspath(__file__)), "stall-watch.py"))
watch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(watch)

HALTED_IF = ("CPU#0\nRAX=000000000001ad40 RBX=0000000000000000\n"
             "RIP=ffffffff81a592eb RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n(qemu) ")
RUNNING = HALTED_IF.replace("HLT=1", "HLT=0")
HALTED_NO_IF = HALTED_IF.replace("RFL=00000246", "RFL=00000046")
LAPIC = ("LVTT\t 0x000000ec active-hi edge                 one-shot     Fixed  (vec 236)\n"
         "ISR\t (none)\nIRR\t {irr}\n\nAPR 0x00 TPR 0x{tpr:02x} DFR 0x0f LDR 0x01 PPR 0x{tpr:02x}\n"
         "(qemu) ")


def state(regs, irr="236 ", tpr=0x10):
    answers = {"info registers": regs, "info lapic": LAPIC.format(irr=irr, tpr=tpr)}
    return watch.stalled_state(lambda command: answers[command])


def main():
    cases = [
        ("halted, IF=1, timer vector pending: stalled", state(HALTED_IF) is not None),
        ("the description names the vector", "vector 236" in (state(HALTED_IF) or "")),
        ("running: not stalled", state(RUNNING) is None),
        ("halted with IF=0: not stalled", state(HALTED_NO_IF) is None),
        ("nothing in IRR: not stalled", state(HALTED_IF, irr="(none)") is None),
        ("pending vector below the priority: not stalled", state(HALTED_IF, tpr=0xf0) is None),
        ("highest of several vectors counts", state(HALTED_IF, irr="34 236 ", tpr=0x30)
         is not None),
    ]
    failed = [name for name, good in cases if not good]
    for name, good in cases:
        print(("PASS " if good else "FAIL ") + name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

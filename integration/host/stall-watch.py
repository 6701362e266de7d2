#!/usr/bin/env python3
"""Watches a nested test host for the stall QEMU's TCG falls into now and then: the outer CPU
halted with interrupts enabled while a vector its LAPIC would deliver (above the processor
priority) waits in IRR. A healthy CPU leaves that state within microseconds; seen on three
samples five seconds apart, the host will never run again (docs/testing.md). Then it writes
RUN/stalled with what it saw and quits QEMU, and kvm-host reports the stall.

usage: stall-watch.py RUN_DIR   (the run directory holding QEMU's HMP socket, `monitor`)
"""
import os
import re
import socket
import sys
import time

INTERVAL = 5
SAMPLES = 3


def hmp(sock, command):
    """One HMP command's output, without the echo's escape sequences."""
    sock.sendall(command.encode() + b"\n")
    out = b""
    while not out.endswith(b"(qemu) "):
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("monitor closed")
        out += chunk
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))


def stalled_state(ask):
    """A description of the stall if the CPU is in it now, else None; ask(command) answers an
    HMP command."""
    regs = ask("info registers")
    halted = re.search(r"\bHLT=1\b", regs)
    rfl = re.search(r"\bRFL=([0-9a-f]+)", regs)
    if not halted or not rfl or not int(rfl.group(1), 16) & 0x200:
        return None
    lapic = ask("info lapic")
    irr = re.search(r"^IRR\s+([\d ]+)$", lapic, re.M)
    ppr = re.search(r"\bPPR 0x([0-9a-f]+)", lapic)
    if not irr or not ppr:
        return None
    vector = max(int(v) for v in irr.group(1).split())
    if vector >> 4 <= int(ppr.group(1), 16) >> 4:
        return None
    return f"CPU halted with IF=1 and vector {vector} pending above PPR 0x{ppr.group(1)}"


def main():
    run = sys.argv[1]
    path = os.path.join(run, "monitor")
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.2)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(path)
        hmp(sock, "")                      # the banner and first prompt
        seen = 0
        while True:
            state = stalled_state(lambda command: hmp(sock, command))
            seen = seen + 1 if state else 0
            if seen >= SAMPLES:
                with open(os.path.join(run, "stalled"), "w") as f:
                    f.write(f"{state}, on {SAMPLES} samples {INTERVAL} s apart\n")
                sock.sendall(b"quit\n")
                return 0
            time.sleep(INTERVAL)
    except OSError:                        # QEMU exited: nothing left to watch
        return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Watches a nested test host for the stall QEMU's TCG falls into now and then: an interrupt
the outer CPU's LAPIC would deliver (a vector above the processor priority in IRR) is never
taken, whether the CPU sits halted with interrupts enabled or runs the nested guest, whose exit
that interrupt should force. A healthy CPU takes such a vector within microseconds; still pending
on three samples five seconds apart, the host will never run again (docs/testing.md). Then this
writes RUN/stalled with what it saw and quits QEMU, and kvm-host reports the stall.

usage: stall-watch.py RUN_DIR   (the run directory holding QEMU's HMP socket, `monitor`)
"""
import os
import re
import socket
import sys
import time

INTERVAL = 5
SAMPLES = 3


def read_prompt(sock):
    """Everything up to and including the next "(qemu) " prompt."""
    out = b""
    while not out.endswith(b"(qemu) "):
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("monitor closed")
        out += chunk
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))


def hmp(sock, command):
    """One HMP command's output (after the banner has been read with read_prompt)."""
    sock.sendall(command.encode() + b"\n")
    return read_prompt(sock)


def stalled_state(ask):
    """A description of the stall if the CPU is in it now, else None; ask(command) answers an
    HMP command."""
    lapic = ask("info lapic")
    irr = re.search(r"^IRR\s+([\d ]+)$", lapic, re.M)
    ppr = re.search(r"\bPPR 0x([0-9a-f]+)", lapic)
    if not irr or not ppr:
        return None
    vector = max(int(v) for v in irr.group(1).split())
    if vector >> 4 <= int(ppr.group(1), 16) >> 4:
        return None
    regs = ask("info registers")
    halted = re.search(r"\bHLT=1\b", regs)
    rip = re.search(r"\b[RE]IP=([0-9a-f]+)", regs)
    return (f"vector {vector} pending above PPR 0x{ppr.group(1)}, CPU "
            f"{'halted' if halted else 'running'} at {rip.group(1) if rip else '?'}")


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
        read_prompt(sock)                  # the banner and first prompt
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

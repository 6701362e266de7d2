#!/usr/bin/env python3
"""Runs one vireo command and checks what an outsider sees: exit status, stdout, stderr.

usage: expect.py [--status N] [--stdout RE]... [--stderr RE]... [--no-stderr RE]...
                 [--stderr-lines N] [--timeout S] -- COMMAND...
Every --stdout/--stderr pattern must match somewhere (re.M); --no-stderr must not.
"""
import argparse
import os
import re
import signal
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", type=int, default=0)
    ap.add_argument("--stdout", action="append", default=[])
    ap.add_argument("--stderr", action="append", default=[])
    ap.add_argument("--no-stderr", action="append", default=[])
    ap.add_argument("--stderr-lines", type=int)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        print(f"FAIL: timed out after {a.timeout}s: {' '.join(cmd)}")
        sys.stdout.write(out.decode(errors="replace") + err.decode(errors="replace"))
        return 1
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    problems = []
    if proc.returncode != a.status:
        problems.append(f"exit status {proc.returncode}, expected {a.status}")
    problems += [f"stdout lacks /{p}/" for p in a.stdout if not re.search(p, out, re.M)]
    problems += [f"stderr lacks /{p}/" for p in a.stderr if not re.search(p, err, re.M)]
    problems += [f"stderr has /{p}/" for p in a.no_stderr if re.search(p, err, re.M)]
    lines = err.splitlines()
    if a.stderr_lines is not None and len(lines) != a.stderr_lines:
        problems.append(f"stderr has {len(lines)} lines, expected {a.stderr_lines}")
    print("command:", " ".join(cmd))
    print("--- stdout\n" + out + "--- stderr\n" + err + "---")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


sys.exit(main())

#!/usr/bin/env python3
"""Run a VMM, watch the guest console as it streams and check milestone lines.

Used by run-linux.sh.  Usage:

  console-watch.py [--timeout S] [--expect-file F]... [--var NAME=VALUE]...
                   [--console-log F] [--report F] [--quiet] -- COMMAND ARGS...

COMMAND runs in its own process group with stdin from /dev/null.  Its stdout
is the guest console: milestones are matched there.  Its stderr (the VMM's own
messages) is logged and checked against the fatal patterns only.

Expectation files (general format, one entry per line, '#' comments):

  name<TAB>regex     milestone: must appear on the console
  ?name<TAB>regex    optional milestone: reported, not required
  !name<TAB>regex    fatal: if it ever appears (console or VMM stderr) the
                     run stops and fails

Regexes are Python `re` syntax, searched anywhere in a line.  ${NAME} in a
regex is replaced by the value given with --var NAME=VALUE (e.g. ${CPUS}).

The run stops as soon as every required milestone has been seen, or on a
fatal line, on timeout, or when the VMM exits.  The process group is then
killed (SIGTERM, then SIGKILL).  The report gives, for each milestone, the
seconds since the VMM process was started at which it first appeared.

Exit status: 0 iff all required milestones were seen and no fatal line;
1 otherwise; 2 on usage errors.
"""

import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time


class Entry:
    def __init__(self, kind, name, pattern, source):
        self.kind = kind  # 'required', 'optional' or 'fatal'
        self.name = name
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.source = source
        self.time = None
        self.line = None


def load_expectations(paths, variables):
    entries = []
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if "\t" not in line:
                    raise SystemExit(f"{path}:{lineno}: expected 'name<TAB>regex'")
                name, pattern = line.split("\t", 1)
                name = name.strip()
                kind = "required"
                if name.startswith("!"):
                    kind, name = "fatal", name[1:]
                elif name.startswith("?"):
                    kind, name = "optional", name[1:]

                def subst(m):
                    key = m.group(1)
                    if key not in variables:
                        raise SystemExit(f"{path}:{lineno}: no value for ${{{key}}} (use --var)")
                    return re.escape(variables[key])

                pattern = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", subst, pattern)
                if name in names:
                    raise SystemExit(f"{path}:{lineno}: duplicate name {name}")
                names.add(name)
                try:
                    entries.append(Entry(kind, name, pattern, f"{path}:{lineno}"))
                except re.error as e:
                    raise SystemExit(f"{path}:{lineno}: bad regex: {e}")
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--expect-file", action="append", default=[])
    ap.add_argument("--var", action="append", default=[])
    ap.add_argument("--console-log")
    ap.add_argument("--report")
    ap.add_argument("--label", default="")
    ap.add_argument("--quiet", action="store_true", help="do not echo console lines")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        ap.error("no command")
    if not args.expect_file:
        ap.error("no --expect-file")
    variables = {}
    for v in args.var:
        k, _, val = v.partition("=")
        variables[k] = val
    entries = load_expectations(args.expect_file, variables)
    required = [e for e in entries if e.kind == "required"]
    milestones = [e for e in entries if e.kind != "fatal"]
    fatals = [e for e in entries if e.kind == "fatal"]

    console_log = open(args.console_log, "w", encoding="utf-8") if args.console_log else None
    out = sys.stdout

    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)

    def kill_group():
        if proc.poll() is not None:
            # The VMM is gone, but helpers in its group may not be.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def on_signal(signum, _frame):
        kill_group()
        out.write(f"console-watch: killed by signal {signum}\n")
        sys.exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "console")
    sel.register(proc.stderr, selectors.EVENT_READ, "vmm")
    partial = {"console": b"", "vmm": b""}
    state = {"fatal": None, "reason": None}
    nlines = 0

    def handle_line(stream, raw):
        nonlocal nlines
        now = time.monotonic() - t0
        text = raw.decode("utf-8", "replace").rstrip("\r")
        tag = "" if stream == "console" else "vmm: "
        if console_log:
            console_log.write(f"[{now:9.3f}] {tag}{text}\n")
            console_log.flush()
        if not args.quiet:
            out.write(f"[{now:9.3f}] {tag}{text}\n")
            out.flush()
        nlines += stream == "console"
        for e in fatals:
            if e.regex.search(text):
                state["fatal"] = (e, now, f"{tag}{text}")
                state["reason"] = f"fatal pattern '{e.name}'"
                return
        if stream != "console":
            return
        for e in milestones:
            if e.time is None and e.regex.search(text):
                e.time = now
                e.line = text

    deadline = t0 + args.timeout
    open_streams = 2
    while True:
        if state["fatal"]:
            break
        if all(e.time is not None for e in required):
            state["reason"] = "all required milestones seen"
            break
        if open_streams == 0:
            try:
                rc = proc.wait(timeout=5)
                state["reason"] = f"VMM exited with status {rc}"
            except subprocess.TimeoutExpired:
                state["reason"] = "VMM closed its output"
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            state["reason"] = f"timeout after {args.timeout:g} s"
            break
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            stream = key.data
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                if partial[stream]:
                    handle_line(stream, partial[stream])
                    partial[stream] = b""
                continue
            buf = partial[stream] + data
            *lines, partial[stream] = buf.split(b"\n")
            for ln in lines:
                handle_line(stream, ln)
                if state["fatal"]:
                    break
            if state["fatal"]:
                break
    # A partial last line can still hold a milestone (no newline yet).
    for stream in ("console", "vmm"):
        if partial[stream] and not state["fatal"]:
            handle_line(stream, partial[stream])
    stopped = time.monotonic() - t0
    kill_group()
    vmm_rc = proc.returncode

    ok = state["fatal"] is None and all(e.time is not None for e in required)
    label = f" {args.label}" if args.label else ""
    lines = []
    lines.append(f"== milestones{label}: {'PASS' if ok else 'FAIL'} ({state['reason']}; "
                 f"stopped at {stopped:.1f} s; {nlines} console lines; VMM status {vmm_rc})")
    width = max([len(e.name) for e in milestones] + [9])
    for e in milestones:
        t = f"{e.time:9.2f}" if e.time is not None else "        -"
        flag = "" if e.kind == "required" else " (optional)"
        shown = (e.line or "NOT SEEN")[:110]
        lines.append(f"  {e.name:<{width}} {t} s  {shown}{flag}")
    if state["fatal"]:
        e, t, text = state["fatal"]
        lines.append(f"  FATAL {e.name} at {t:.2f} s: {text[:200]}")
    report = "\n".join(lines) + "\n"
    out.write(report)
    out.flush()
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(report)
            f.write("# tsv: name\tkind\tseconds\n")
            for e in milestones:
                f.write(f"{e.name}\t{e.kind}\t{'' if e.time is None else f'{e.time:.3f}'}\n")
    if console_log:
        console_log.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

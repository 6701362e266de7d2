#!/usr/bin/env python3
"""Run a VMM, watch the guest console as it streams and check milestone lines.

Used by run-linux.sh.  Usage:

  console-watch.py [--timeout S] [--expect-file F]... [--var NAME=VALUE]...
                   [--skip-file F]... [--skip-reason TEXT]
                   [--stream NAME=PATH]... [--api-socket PATH] [--wait-exit]
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

Two other sources than the console, chosen by an "@source " prefix:

  name<TAB>@hvc0 regex            a line of the file given by --stream hvc0=PATH
                                  (a file the VMM writes, e.g. virtio-console
                                  output; tailed while the VMM runs)
  name<TAB>@counters DEV.NAME OP N
                                  vireo's GET /api/v1/vm.counters through
                                  --api-socket, polled every second: counter
                                  NAME of device DEV (or of any device: '*')
                                  compared with integer N (OP: > >= == <= <);
                                  the time is when the condition first held.
                                  A fatal counter entry fails the run once its
                                  condition holds.

An entry whose source this run does not have (no such --stream, or no
--api-socket, e.g. counters under QEMU) is reported as n/a and not required.
The milestones of a --skip-file are not looked for (its fatal entries are
ignored): the report lists each as "skipped: TEXT" (--skip-reason), for what
this run cannot check at all (e.g. user space on kvm-pvm).

The run stops as soon as every required milestone has been seen (and, with
--wait-exit, the VMM has exited by itself with status 0), or on a fatal line,
on timeout, or when the VMM exits.  The process group is then killed (SIGTERM,
then SIGKILL).  The report gives, for each milestone, the seconds since the
VMM process was started at which it first appeared.

Exit status: 0 iff all required milestones were seen and no fatal line (and,
with --wait-exit, the VMM exited with status 0); 1 otherwise; 2 on usage errors.
"""

import argparse
import http.client
import json
import operator
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time

COUNTER_OPS = {">": operator.gt, ">=": operator.ge, "==": operator.eq,
               "<=": operator.le, "<": operator.lt}
COUNTER_RE = re.compile(r"^(\S+)\.(\w+)\s*(>=|<=|==|>|<)\s*(\d+)$")


class Entry:
    def __init__(self, kind, name, pattern, where):
        self.kind = kind  # 'required', 'optional' or 'fatal'
        self.name = name
        self.where = where
        self.time = None
        self.line = None
        self.stream = "console"  # 'console', a --stream name, or 'counters'
        self.counter = None      # (device, counter, op, value) for 'counters'
        m = re.match(r"@(\w+) (.*)$", pattern)
        if m:
            self.stream, pattern = m.group(1), m.group(2)
        self.pattern = pattern
        if self.stream == "counters":
            c = COUNTER_RE.match(pattern)
            if not c:
                raise ValueError(f"counter condition '{pattern}' is not 'DEV.NAME OP N'")
            self.counter = (c.group(1), c.group(2), c.group(3), int(c.group(4)))
            self.regex = None
        else:
            self.regex = re.compile(pattern)

    def counter_holds(self, counters):
        """(holds, what was read); device '*' holds if any device's counter does."""
        dev, name, op, value = self.counter
        devs = sorted(counters) if dev == "*" else [dev]
        seen = []
        for d in devs:
            have = counters.get(d, {}).get(name) if isinstance(counters.get(d), dict) else None
            seen.append(f"{d}.{name}={have}")
            if isinstance(have, int) and COUNTER_OPS[op](have, value):
                return True, seen[-1]
        return False, ", ".join(seen)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def read_counters(path):
    """vireo's vm.counters as a dict, or None while the API is not there yet."""
    conn = UnixHTTPConnection(path, timeout=5)
    try:
        conn.request("GET", "/api/v1/vm.counters")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return None
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


class FileStream:
    """Tails a file the VMM writes (created by the VMM, maybe later)."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.f = None
        self.partial = b""

    def read_lines(self, final=False):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return []
        data = self.f.read()
        if not data and not final:
            return []
        *lines, self.partial = (self.partial + data).split(b"\n")
        if final and self.partial:
            lines.append(self.partial)
            self.partial = b""
        return lines


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
                except ValueError as e:
                    raise SystemExit(f"{path}:{lineno}: {e}")
    return entries


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--expect-file", action="append", default=[])
    ap.add_argument("--var", action="append", default=[])
    ap.add_argument("--skip-file", action="append", default=[],
                    help="milestones this run cannot check, reported as skipped")
    ap.add_argument("--skip-reason", default="not checked in this run")
    ap.add_argument("--stream", action="append", default=[], metavar="NAME=PATH",
                    help="a file the VMM writes, matched by '@NAME regex' entries")
    ap.add_argument("--api-socket", help="vireo's API socket, for '@counters' entries")
    ap.add_argument("--wait-exit", action="store_true",
                    help="after the milestones, wait for the VMM to exit by itself with status 0")
    ap.add_argument("--console-log")
    ap.add_argument("--report")
    ap.add_argument("--label", default="")
    ap.add_argument("--quiet", action="store_true", help="do not echo console lines")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        ap.error("no command")
    if not args.expect_file:
        ap.error("no --expect-file")
    return args


def main():
    args = parse_args()
    cmd = args.command
    variables = {}
    for v in args.var:
        k, _, val = v.partition("=")
        variables[k] = val
    streams = {}
    for v in args.stream:
        k, _, path = v.partition("=")
        if not k or not path or k in ("console", "counters"):
            raise SystemExit(f"console-watch: bad --stream {v}")
        streams[k] = FileStream(k, path)
    entries = load_expectations(args.expect_file, variables)
    skipped = [e for e in load_expectations(args.skip_file, variables) if e.kind != "fatal"]
    for e in skipped:
        e.kind = "skipped"
    sources = {"console"} | set(streams) | ({"counters"} if args.api_socket else set())
    for e in entries:
        if e.stream not in sources and e.kind == "required":
            e.kind = "n/a"
    required = [e for e in entries if e.kind == "required"]
    milestones = [e for e in entries if e.kind != "fatal"]
    fatals = [e for e in entries if e.kind == "fatal" and e.stream in sources]
    counter_entries = [e for e in entries
                       if e.stream == "counters" and e.stream in sources and e.kind != "n/a"]

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
    state = {"fatal": None, "reason": None, "exit": None, "counters": None}
    nlines = 0

    def log_line(now, tag, text):
        if console_log:
            console_log.write(f"[{now:9.3f}] {tag}{text}\n")
            console_log.flush()
        if not args.quiet:
            out.write(f"[{now:9.3f}] {tag}{text}\n")
            out.flush()

    def handle_line(stream, raw):
        nonlocal nlines
        now = time.monotonic() - t0
        text = raw.decode("utf-8", "replace").rstrip("\r")
        tag = "" if stream == "console" else f"{stream}: "
        log_line(now, tag, text)
        nlines += stream == "console"
        source = "console" if stream == "vmm" else stream
        for e in fatals:
            if e.regex is not None and e.stream == source and e.regex.search(text):
                state["fatal"] = (e, now, f"{tag}{text}")
                state["reason"] = f"fatal pattern '{e.name}'"
                return
        if stream == "vmm":
            return
        for e in milestones:
            if e.time is None and e.stream == stream and e.regex.search(text):
                e.time = now
                e.line = text

    def poll_streams(final=False):
        for st in streams.values():
            for ln in st.read_lines(final):
                handle_line(st.name, ln)

    last_poll = [0.0]

    def poll_counters(force=False):
        if not counter_entries or proc.poll() is not None:
            return
        now = time.monotonic() - t0
        if not force and now - last_poll[0] < 1.0:
            return
        last_poll[0] = now
        counters = read_counters(args.api_socket)
        if counters is None:
            return
        state["counters"] = counters
        for e in counter_entries:
            holds, have = e.counter_holds(counters)
            if not holds:
                continue
            if e.kind == "fatal":
                state["fatal"] = (e, now, f"counters: {e.pattern} ({have})")
                state["reason"] = f"fatal counter '{e.name}'"
                return
            if e.time is None:
                e.time = now
                e.line = f"{e.pattern} ({have})"
                log_line(now, "counters: ", f"{e.name}: {e.line}")

    def finished():
        if state["exit"] is None and proc.poll() is not None:
            state["exit"] = time.monotonic() - t0
        if not all(e.time is not None for e in required):
            return False
        return not args.wait_exit or state["exit"] is not None

    deadline = t0 + args.timeout
    open_streams = 2
    tick = 0.25 if (streams or counter_entries) else 1.0
    while True:
        poll_streams()
        poll_counters()
        if state["fatal"]:
            break
        if finished():
            state["reason"] = "all required milestones seen"
            if args.wait_exit:
                state["reason"] += f", VMM exited with status {proc.returncode}"
            break
        if open_streams == 0:
            try:
                rc = proc.wait(timeout=5)
                state["reason"] = f"VMM exited with status {rc}"
                if state["exit"] is None:
                    state["exit"] = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                state["reason"] = "VMM closed its output"
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            state["reason"] = f"timeout after {args.timeout:g} s"
            break
        for key, _ in sel.select(timeout=min(remaining, tick)):
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
    if not state["fatal"]:
        poll_counters(force=True)
    stopped = time.monotonic() - t0
    kill_group()
    vmm_rc = proc.returncode
    if not state["fatal"]:
        poll_streams(final=True)

    ok = state["fatal"] is None and all(e.time is not None for e in required)
    if args.wait_exit and vmm_rc != 0:
        ok = False
    write_report(args, state, milestones + skipped, ok, stopped, nlines, vmm_rc, out)
    if console_log:
        console_log.close()
    return 0 if ok else 1


def write_report(args, state, milestones, ok, stopped, nlines, vmm_rc, out):
    label = f" {args.label}" if args.label else ""
    lines = []
    lines.append(f"== milestones{label}: {'PASS' if ok else 'FAIL'} ({state['reason']}; "
                 f"stopped at {stopped:.1f} s; {nlines} console lines; VMM status {vmm_rc})")
    width = max([len(e.name) for e in milestones] + [9])
    for e in milestones:
        t = f"{e.time:9.2f}" if e.time is not None else "        -"
        flag = {"required": "", "optional": " (optional)", "n/a": "", "skipped": ""}[e.kind]
        src = "" if e.stream == "console" else f"[{e.stream}] "
        shown = (e.line or "NOT SEEN")[:110]
        if e.kind == "n/a":
            shown = f"n/a: no {e.stream} source for this VMM"
        elif e.kind == "skipped":
            shown = f"skipped: {args.skip_reason}"
        lines.append(f"  {e.name:<{width}} {t} s  {src}{shown}{flag}")
    if args.wait_exit:
        t = f"{state['exit']:9.2f}" if state["exit"] is not None else "        -"
        lines.append(f"  {'vmm-exit':<{width}} {t} s  VMM status {vmm_rc} (must be 0)")
    if state["fatal"]:
        e, t, text = state["fatal"]
        lines.append(f"  FATAL {e.name} at {t:.2f} s: {text[:200]}")
    if state["counters"] is not None:
        lines.append("  vm.counters at the end: " + json.dumps(state["counters"], sort_keys=True))
    report = "\n".join(lines) + "\n"
    out.write(report)
    out.flush()
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(report)
            f.write("# tsv: name\tkind\tseconds\n")
            for e in milestones:
                f.write(f"{e.name}\t{e.kind}\t{'' if e.time is None else f'{e.time:.3f}'}\n")
            if args.wait_exit:
                t_exit = "" if state["exit"] is None else f"{state['exit']:.3f}"
                f.write(f"vmm-exit\trequired\t{t_exit}\n")


if __name__ == "__main__":
    sys.exit(main())

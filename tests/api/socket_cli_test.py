#!/usr/bin/env python3
"""vireo's --api-socket as a launcher sees it (suite cli, no KVM needed).

usage: socket_cli_test.py path/to/vireo
- under umask 000 the socket is 0600 (and mode=0660 widens it); vireo serves vmm.ping,
  started as Kata starts it without its own seccomp (--seccomp false);
- fd=N of a TCP socket: exit 1 with one line;
- a path another process listens on: exit 1 with one line, and that socket stays.
Waits are bounded polls on the socket file, never sleeps used as synchronisation.
"""
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

VIREO = sys.argv[1]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def ping(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return s.recv(4096).split(b"\r\n", 1)[0]


def wait_listening(proc, path, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        try:
            ping(path)
            return True
        except OSError:
            time.sleep(0.02)   # polling an observable state, bounded by limit
    return False


def serve_and_stat(tmp, spec, want_mode, extra=()):
    path = os.path.join(tmp, "api.sock")
    old = os.umask(0)
    try:
        proc = subprocess.Popen([VIREO, "--api-socket", spec % path, *extra],
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finally:
        os.umask(old)
    try:
        listening = wait_listening(proc, path)
        check(listening, " ".join([spec % "P", *extra]) + ": vireo listens")
        if listening:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            check(mode == want_mode, f"mode {mode:04o} under umask 000 (want {want_mode:04o})")
            check(ping(path) == b"HTTP/1.1 200 OK", "vmm.ping answers 200")
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=20)[1].decode(errors="replace")
    if not listening:
        print(err, end="")
    check(not os.path.exists(path), "socket removed at exit")
    for leftover in (path, path + ".lock"):
        if os.path.lexists(leftover):
            os.unlink(leftover)


def refused(args, pattern, pass_fds=()):
    try:
        proc = subprocess.run([VIREO, *args], stdin=subprocess.DEVNULL, capture_output=True,
                              pass_fds=pass_fds, timeout=20)
    except subprocess.TimeoutExpired:
        check(False, f"{' '.join(args)}: still serving after 20 s instead of refusing")
        return
    lines = proc.stderr.decode(errors="replace").splitlines()
    ok = proc.returncode == 1 and len(lines) == 1 and pattern in lines[0]
    check(ok, f"{' '.join(args)}: exit {proc.returncode}, stderr {lines}")


def main():
    with tempfile.TemporaryDirectory(prefix="vireo-sockcli-") as tmp:
        serve_and_stat(tmp, "path=%s", 0o600)
        serve_and_stat(tmp, "path=%s", 0o600, ("--seccomp", "false"))
        serve_and_stat(tmp, "path=%s,mode=0660", 0o660)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            fd = tcp.fileno()
            refused(["--api-socket", f"fd={fd}"], "is not a Unix stream socket", (fd,))
        path = os.path.join(tmp, "other.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
            other.bind(path)
            other.listen(4)
            refused(["--api-socket", path], "accepts connections from another process")
            check(stat.S_ISSOCK(os.lstat(path).st_mode), "the other process's socket stays")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                check(c.connect_ex(path) == 0, "and a client still reaches it")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


sys.exit(main())

#!/usr/bin/env python3
"""Slow-client benchmark (not a test): vmm.ping latency while slow or idle clients hold
connections to vireo's API socket, as in issue 17's slowloris finding.

Three phases of --seconds each, one after the other on one vireo (no VM, so no KVM needed):
  none:  pings alone;
  slow:  --clients connections each sending a request head one byte every --interval seconds
         (7 s in the issue), reconnecting at once whenever vireo cuts one off;
  idle:  --clients connections that send nothing, reconnecting likewise.
The pinger opens a new connection per vmm.ping (as curl and ch-remote do) with a 5 s timeout,
back to back or every --pace seconds, and counts failures by kind. Prints p50/p99/max in ms,
the failures, and how often vireo closed an attacking client.

usage: api_slowloris.py --vireo build/vireo [--clients 64] [--interval 7] [--seconds 30]
                        [--pace 0.01]
"""
import argparse
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HEAD = b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\nX-Slow: "


class Loris(threading.Thread):
    """Keeps @n connections open on @path; @interval > 0 trickles a byte, else stays idle."""

    def __init__(self, path, n, interval):
        super().__init__(daemon=True)
        self.path, self.n, self.interval = path, n, interval
        self.stop, self.cuts, self.socks = threading.Event(), 0, []

    def open_one(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
            if self.interval:
                s.send(HEAD)
        except OSError:
            pass                       # cut at once: found readable next round
        return s

    def run(self):
        self.socks = [self.open_one() for _ in range(self.n)]
        next_byte = time.monotonic() + self.interval
        while not self.stop.is_set():
            # a socket that turns readable has been answered or closed by vireo: replace it
            ready = select.select(self.socks, [], [], 0.2)[0]
            for s in ready:
                self.socks.remove(s)
                s.close()
                self.cuts += 1
                self.socks.append(self.open_one())
            if self.interval and time.monotonic() >= next_byte:
                for s in self.socks:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass           # cut meanwhile: found readable next round
                next_byte += self.interval
        for s in self.socks:
            s.close()


def ping(path):
    t0 = time.perf_counter_ns()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
        if not s.recv(4096).startswith(b"HTTP/1.1 200"):
            raise OSError("not 200")
    return (time.perf_counter_ns() - t0) / 1e6


def phase(path, seconds, pace):
    samples, failures = [], {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            samples.append(ping(path))
        except OSError as e:
            why = e.strerror or str(e)
            failures[why] = failures.get(why, 0) + 1
        time.sleep(pace)               # the pinger's pace (a health check's period), if any
    return samples, failures


def report(name, samples, failures, cuts):
    s = sorted(samples) or [float("nan")]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    print(f"{name:6} pings {len(samples):6}  p50 {statistics.median(s):7.3f}  p99 {p99:7.3f}  "
          f"max {s[-1]:8.3f} ms  failed {sum(failures.values()):4} {failures or ''}  "
          f"clients cut {cuts}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--interval", type=float, default=7)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--pace", type=float, default=0, help="seconds between pings (0: flood)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vireo-loris-") as work:
        path = os.path.join(work, "api.sock")
        proc = subprocess.Popen([a.vireo, "--api-socket", path], stdin=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path):
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("vireo did not create its socket")
                time.sleep(0.02)   # waiting for vireo to come up, not a measurement
            report("none", *phase(path, a.seconds, a.pace), 0)
            for name, interval in (("slow", a.interval), ("idle", 0)):
                loris = Loris(path, a.clients, interval)
                loris.start()
                samples, failures = phase(path, a.seconds, a.pace)
                loris.stop.set()
                loris.join()
                report(name, samples, failures, loris.cuts)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


sys.exit(main())

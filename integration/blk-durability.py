#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""virtio-blk durability across kill -9 of vireo.

The test guest (blkdurable=flush|writethrough) writes 256 sectors of a new pattern on disk 0
in four requests over the disk's queues, then FLUSHes (flush) or has negotiated no FLUSH, so
every write is stable when acknowledged (writethrough, 5.2.6.2), prints
"durable: flushed|written lba=L sectors=N seed=S features=F" on COM1 and halts. This script
reads vireo's serial output (stdout) until that line, reads vm.counters through the API
socket, sends SIGKILL to vireo and checks the image: the region holds the guest's pattern,
every other sector the one the image was made with.

  blk-durability.py VIREO GUEST_ELF --mode flush|writethrough [--direct] [--timeout S]

Exit status: 0 good, 1 bad.
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = os.path.join(HERE, "guest", "blk-image.py")
SECTORS = 8192
DURABLE_SEED = 0xD000            # the guest's region seed: disk seed + this (blk.c)
LINE = re.compile(r"durable: (flushed|written) lba=(\d+) sectors=(\d+) seed=(0x[0-9a-f]+)")


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def counters(sock):
    c = UnixHTTP(sock)
    c.request("GET", "/api/v1/vm.counters")
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"vm.counters: HTTP {r.status} {body!r}")
    return json.loads(body)


def wait_line(proc, timeout, log):
    """The durable line from vireo's stdout, or None (EOF, FAILED line or timeout)."""
    found = {}

    def reader():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log.append(line)
            m = LINE.search(line)
            if m or "durable: FAILED" in line:
                found["m"] = m
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    return found.get("m")


def check_counters(c, mode, errors):
    disk = c.get("_disk0")
    if not isinstance(disk, dict):
        errors.append(f"vm.counters has no _disk0: {sorted(c)}")
        return
    want = {"write_ops": 4, "write_bytes": 256 * 512, "flush_ops": 1 if mode == "flush" else 0,
            "rejected_requests": 0, "io_errors": 0}
    for key, value in want.items():
        if disk.get(key) != value:
            errors.append(f"vm.counters _disk0.{key} = {disk.get(key)}, want {value}")
    print("blk-durability: _disk0 counters: " +
          ", ".join(f"{k}={disk[k]}" for k in sorted(disk)))


def run(args, work):
    img = os.path.join(work, "disk.img")
    sock = os.path.join(work, "api.sock")
    vlog = os.path.join(work, "vireo.log")
    seed = random.getrandbits(48) | 1
    subprocess.run([sys.executable, IMAGE, "make", img, str(SECTORS), hex(seed)], check=True)
    disk = f"path={img},serial=vireo-durable,num_queues=2" + (",direct=on" if args.direct else "")
    cmdline = (f"cpus=1 mem=256 blk=vireo-durable:rw:{SECTORS}:2 blkseed={seed:#x} "
               f"blkdurable={args.mode}")
    cmd = [args.vireo, "--kernel", args.guest, "--cpus", "boot=1", "--memory", "size=256M",
           "--cmdline", cmdline, "--serial", "tty", "--console", "off", "--disk", disk,
           "--api-socket", f"path={sock}", "-v", "--log-file", vlog]
    print("blk-durability: " + " ".join(cmd))
    log, errors = [], []
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        m = wait_line(proc, args.timeout, log)
        if not m:
            errors.append("no 'durable: flushed|written' line: "
                          + (f"vireo exited with {proc.poll()}" if proc.poll() is not None
                             else f"not within {args.timeout} s"))
        elif proc.poll() is not None:
            errors.append(f"vireo exited ({proc.returncode}) before it was killed")
        else:
            want_word = "flushed" if args.mode == "flush" else "written"
            lba, n, gseed = int(m.group(2)), int(m.group(3)), int(m.group(4), 16)
            if m.group(1) != want_word or gseed != seed + DURABLE_SEED or n < 1:
                errors.append(f"guest line '{m.group(0)}': want '{want_word}', seed "
                              f"{seed + DURABLE_SEED:#x}")
            try:
                check_counters(counters(sock), args.mode, errors)
            except (OSError, RuntimeError, ValueError) as e:
                errors.append(f"vm.counters: {e}")
    finally:
        alive = proc.poll() is None
        if alive:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    print("--- serial (vireo stdout)")
    print("\n".join(log))
    print("--- vireo log")
    print(open(vlog).read() if os.path.exists(vlog) else "(none)")
    if alive and proc.returncode != -signal.SIGKILL:
        errors.append(f"vireo ended with {proc.returncode} after SIGKILL")
    if m and not errors:
        v = subprocess.run([sys.executable, IMAGE, "verify", img, hex(seed), "--region",
                            f"{lba}:{n}:{gseed:#x}"])
        if v.returncode:
            errors.append("the image does not hold what the guest saw acknowledged")
    return errors


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("vireo")
    p.add_argument("guest")
    p.add_argument("--mode", choices=["flush", "writethrough"], required=True)
    p.add_argument("--direct", action="store_true", help="the disk with direct=on (O_DIRECT)")
    p.add_argument("--timeout", type=int, default=300)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vireo-blk-durable.") as work:
        errors = run(args, work)
    for e in errors:
        print(f"blk-durability: FAIL: {e}")
    if not errors:
        print(f"blk-durability: OK: {args.mode}{' direct' if args.direct else ''}: the region the "
              "guest saw acknowledged survived SIGKILL; the rest of the image is intact")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

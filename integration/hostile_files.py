#!/usr/bin/env python3
"""Hostile paths: what vireo opens may be a FIFO (whose open(2) would wait forever), a symlink
or a file another user planted. Each case must end in a one-line refusal, quickly, with the
VMM still answering; files vireo writes are its own, mode 0600.

usage: hostile_files.py VIREO GUEST_ELF SPIN_GUEST
  GUEST_ELF: any bootable kernel (the loader's checks); SPIN_GUEST: a guest that runs until
  stopped (for the snapshot case). Needs KVM (disks and snapshots come after /dev/kvm) and root
  (a file owned by another user).
"""
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot"))
from vireo_proc import fix_checksum  # noqa: E402

TIMEOUT = 20          # far beyond a refusal; a hang on a FIFO never ends
NOBODY = 65534
failures = []


def report(ok, what, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(what)


def cli(vireo, what, args, pattern):
    """vireo must exit 1 with exactly one stderr line matching @pattern."""
    try:
        p = subprocess.run([vireo, *args], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        report(False, what, f"still running after {TIMEOUT} s (blocked on the path?)")
        return
    lines = p.stderr.strip().splitlines()
    ok = p.returncode == 1 and len(lines) == 1 and re.search(pattern, lines[0]) is not None
    report(ok, what, f"status {p.returncode}, stderr {lines!r}")


def http(sock_path, method, name, body=None):
    """One request on a fresh connection: (status, body text)."""
    data = b"" if body is None else json.dumps(body).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(sock_path)
    s.sendall(f"{method} /api/v1/{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
              .encode() + data)
    chunks = []
    try:
        while (c := s.recv(65536)):
            chunks.append(c)
    except socket.timeout:
        return 0, f"no answer within {TIMEOUT} s"
    finally:
        s.close()
    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), rest.decode(errors="replace")


class Vmm:
    def __init__(self, vireo, work):
        self.sock = os.path.join(work, "api.sock")
        self.proc = subprocess.Popen([vireo, "--api-socket", self.sock, "--log-file",
                                      os.path.join(work, "vireo.log")],
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.sock) and time.monotonic() < deadline:
            time.sleep(0.02)   # polling for the socket file, with a deadline

    def call(self, what, method, name, body, status, pattern=None):
        got = http(self.sock, method, name, body)
        ok = got[0] == status and (pattern is None or re.search(pattern, got[1]))
        report(bool(ok), what, f"{got[0]} {got[1][:200]}")
        return got

    def terminate(self, what):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=TIMEOUT)
            # README: 128 + the signal, and the socket file removed.
            ok = self.proc.returncode == 128 + 15 and not os.path.exists(self.sock)
            report(ok, what, f"exit status {self.proc.returncode}")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            report(False, what, f"SIGTERM ignored for {TIMEOUT} s")


def vm_config(kernel, serial):
    return {"payload": {"kernel": kernel}, "cpus": {"boot_vcpus": 1},
            "memory": {"size": 128 << 20}, "serial": {"mode": "File", "file": serial},
            "console": {"mode": "Off"}}


def cli_cases(vireo, guest, w):
    fifo = os.path.join(w, "path.fifo")
    os.mkfifo(fifo)
    base = ["--kernel", guest, "--memory", "size=128M", "--console", "off"]
    cli(vireo, "kernel is a FIFO", ["--kernel", fifo], r"kernel '.*' is a FIFO, not a regular")
    cli(vireo, "initramfs is a FIFO", base + ["--initramfs", fifo],
        r"initramfs '.*' is a FIFO, not a regular file")
    cli(vireo, "disk is a FIFO", base + ["--disk", f"path={fifo}"],
        r"disk '.*' is a FIFO, not a regular file or a block device")
    cli(vireo, "serial file is a FIFO nobody reads", base + ["--serial", f"file={fifo}"],
        r"serial output file '.*': nobody reads that FIFO")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)   # now opening it to write succeeds
    try:
        cli(vireo, "serial file is a FIFO someone reads", base + ["--serial", f"file={fifo}"],
            r"serial output file '.*' is a FIFO, not a regular file")
        cli(vireo, "console file is a FIFO someone reads",
            ["--kernel", guest, "--memory", "size=128M", "--console", f"file={fifo}"],
            r"console output file '.*' is a FIFO")
    finally:
        os.close(reader)
    target, link = os.path.join(w, "target"), os.path.join(w, "link")
    open(target, "w").close()
    os.symlink(target, link)
    cli(vireo, "serial file is a symlink", base + ["--serial", f"file={link}"],
        r"serial output file '.*' is a symbolic link")
    # A boot refused for a bad disk leaves the last run's output as it was.
    old = os.path.join(w, "serial.old")
    with open(old, "w") as f:
        f.write("the last run's output\n")
    cli(vireo, "refused boot (missing disk)", base + ["--serial", f"file={old}", "--disk",
                                                     f"path={w}/missing.img"],
        r"disk '.*missing.img': .*No such file")
    with open(old) as f:
        report(f.read() == "the last run's output\n", "serial output kept after a refused boot")
    new = os.path.join(w, "serial.new")
    cli(vireo, "refused boot, new serial file", base + ["--serial", f"file={new}", "--disk",
                                                        f"path={w}/missing.img"], r"disk")
    mode = stat.S_IMODE(os.stat(new).st_mode) if os.path.exists(new) else None
    report(mode == 0o600, "serial output file created 0600", oct(mode or 0))


def api_cases(vireo, guest, w):
    fifo = os.path.join(w, "api.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    v = Vmm(vireo, w)
    try:
        v.call("vm.create, serial File on a FIFO", "PUT", "vm.create", vm_config(guest, fifo),
               204)
        v.call("vm.boot refuses the FIFO", "PUT", "vm.boot", None, 500, r"is a FIFO")
        v.call("vmm.ping after it", "GET", "vmm.ping", None, 200)
        v.call("vm.delete", "PUT", "vm.delete", None, 204)
        snap = os.path.join(w, "snap")
        os.mkdir(snap)
        os.mkfifo(os.path.join(snap, "config.json"))
        v.call("vm.restore, config.json a FIFO", "PUT", "vm.restore",
               {"source_url": f"file://{snap}"}, 400, r"config.json.*is a FIFO")
        os.unlink(os.path.join(snap, "config.json"))
        with open(os.path.join(snap, "config.json"), "w") as f:
            f.write("{}")
        os.chown(os.path.join(snap, "config.json"), NOBODY, NOBODY)
        v.call("vm.restore, config.json another user's", "PUT", "vm.restore",
               {"source_url": f"file://{snap}"}, 400, rf"config.json: owned by uid {NOBODY}")
    finally:
        os.close(reader)
        v.terminate("SIGTERM ends vireo")


def planted_snapshot(vireo, spin, w):
    """A temporary planted in the destination by another user is never written into."""
    dest = os.path.join(w, "dest")
    os.mkdir(dest)
    planted = os.path.join(dest, ".state.json.tmp")
    with open(planted, "w") as f:
        f.write("planted")
    os.chmod(planted, 0o666)
    os.chown(planted, NOBODY, NOBODY)
    os.mkdir(os.path.join(w, "vmm2"))
    v = Vmm(vireo, os.path.join(w, "vmm2"))
    try:
        v.call("vm.create", "PUT", "vm.create", vm_config(spin, os.path.join(w, "spin.out")),
               204)
        v.call("vm.boot", "PUT", "vm.boot", None, 204)
        v.call("vm.pause", "PUT", "vm.pause", None, 204)
        v.call("vm.snapshot over a planted temporary", "PUT", "vm.snapshot",
               {"destination_url": f"file://{dest}"}, 204)
    finally:
        v.terminate("SIGTERM ends vireo (paused VM)")
    for name in ("state.json", "config.json", "config.json.crc32c", "memory-ranges"):
        p = os.path.join(dest, name)
        st = os.lstat(p) if os.path.exists(p) else None
        ok = st is not None and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o600
        report(ok, f"snapshot {name} is ours, 0600",
               f"uid {st.st_uid}, mode {oct(stat.S_IMODE(st.st_mode))}" if st else "missing")
    with open(os.path.join(dest, "state.json")) as f:
        report(f.read() != "planted", "state.json is not the planted file")
    return dest


def write_config(snap, cfg, fix):
    with open(os.path.join(snap, "config.json"), "w") as f:
        json.dump(cfg, f)
    if fix:
        fix_checksum(snap, "config.json")


def edited_config(vireo, snap, w):
    """config.json is untrusted: an edit its checksum does not cover is refused before any
    path in it is opened, and paths in a config.json with a matching checksum are checked as
    at vm.create/vm.boot (a FIFO, a symlink)."""
    with open(os.path.join(snap, "config.json")) as f:
        cfg = json.load(f)
    victim = os.path.join(w, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    fifo, link = os.path.join(w, "restore.fifo"), os.path.join(w, "restore.link")
    os.mkfifo(fifo)
    os.symlink(victim, link)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.mkdir(os.path.join(w, "vmm3"))
    v = Vmm(vireo, os.path.join(w, "vmm3"))
    url = {"source_url": f"file://{snap}"}
    try:
        cfg["serial"] = {"mode": "File", "file": victim}
        write_config(snap, cfg, False)
        v.call("vm.restore, config.json edited (serial file), checksum stale", "PUT",
               "vm.restore", url, 400,
               r"config.json: (checksum mismatch|\d+ bytes, config.json.crc32c says)")
        with open(victim) as f:
            report(f.read() == "precious\n", "the file the edit named is untouched")
        cfg["serial"]["file"] = fifo
        write_config(snap, cfg, True)
        v.call("vm.restore, config.json's serial file a FIFO", "PUT", "vm.restore", url, 400,
               r"serial output file '.*' is a FIFO")
        cfg["serial"]["file"] = link
        write_config(snap, cfg, True)
        v.call("vm.restore, config.json's serial file a symlink", "PUT", "vm.restore", url, 400,
               r"serial output file '.*' is a symbolic link")
        with open(victim) as f:
            report(f.read() == "precious\n", "the file behind the symlink is untouched")
        v.call("vmm.ping after them", "GET", "vmm.ping", None, 200)
    finally:
        os.close(reader)
        v.terminate("SIGTERM ends vireo (after refused restores)")


def main():
    vireo, guest, spin = sys.argv[1:4]
    if os.geteuid() != 0:
        print("FAIL: needs root (a file owned by another user)")
        return 1
    with tempfile.TemporaryDirectory(prefix="hostile-files-") as w:
        os.chmod(w, 0o755)
        cli_cases(vireo, guest, w)
        api_cases(vireo, guest, w)
        snap = planted_snapshot(vireo, spin, w)
        edited_config(vireo, snap, w)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

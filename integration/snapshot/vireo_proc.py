"""A vireo process driven through its REST API socket, for the snapshot integration tests and
the snapshot benchmark: start, API calls, the guest's serial and virtio-console, events, kill;
and the tests' outcome lines. No sleeps as synchronization: every wait polls an outside
condition against a deadline."""
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api_call(sock, method, name, body=None):
    """(status, text) of one request; body: a dict (JSON) or raw bytes."""
    conn = UnixConnection(sock)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, "/api/v1/" + name, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, text


def read(path, binary=False):
    try:
        with open(path, "rb" if binary else "r", **({} if binary else
                                                    {"encoding": "utf-8", "errors": "replace"})) as f:
            return f.read()
    except FileNotFoundError:
        return b"" if binary else ""


def size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def wait_for(predicate, timeout, poll=0.01):
    """True once predicate() holds, False at the deadline (polling an outside condition)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)


class Vireo:
    """One vireo process: API socket, event monitor, log, console on stdin (pipe) / stdout
    (file). `extra`: more command-line arguments (e.g. --restore ...)."""

    def __init__(self, vireo, work, name, extra=(), api=True):
        self.name, self.work = name, work
        self.sock = os.path.join(work, name + ".sock")
        self.events = os.path.join(work, name + ".events")
        self.log = os.path.join(work, name + ".log")
        self.console_out = os.path.join(work, name + ".console")
        for p in (self.sock, self.sock + ".lock", self.events):
            if os.path.exists(p):
                os.unlink(p)
        args = [vireo, "-v", "--log-file", self.log, "--event-monitor", f"path={self.events}"]
        if api:
            args += ["--api-socket", self.sock]
        self.out = open(self.console_out, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args + list(extra), stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        if api and not wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None,
                                30):
            raise RuntimeError(f"{name}: no API socket within 30 s")

    def call(self, method, name, body=None):
        try:
            return api_call(self.sock, method, name, body)
        except OSError as e:     # vireo gone: an answer the caller's check will reject
            return 0, f"no answer from {self.name}: {e}"

    def send(self, line):
        """A line on the guest's virtio-console input."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.close()

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if self.proc.poll() is not None:
                self.close()

    def close(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.out.close()

    def event_names(self):
        names = []
        for chunk in read(self.events).split("\n\n"):
            if chunk.strip():
                try:
                    e = json.loads(chunk)
                except ValueError:
                    continue
                names.append(f"{e.get('source')}:{e.get('event')}")
        return names


def disk_locked(path):
    """Whether some open file description holds an OFD lock on the image (vireo's disk lock,
    virtio/blk.c), seen with F_OFD_GETLK as another process would."""
    fl = struct.pack("hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    with open(path, "rb") as f:
        got = fcntl.fcntl(f.fileno(), fcntl.F_OFD_GETLK, fl)
    return struct.unpack("hh4xqqi4x", got)[0] != fcntl.F_UNLCK


# --- CRC32C (Castagnoli, reflected 0x82F63B78), as snapshot/state.c computes it ---

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def fix_checksum(path, name):
    """Rewrites NAME.crc32c beside NAME (state.json, config.json) to match NAME."""
    with open(os.path.join(path, name), "rb") as f:
        text = f.read()
    with open(os.path.join(path, name + ".crc32c"), "w") as f:
        f.write(f"crc32c 0x{crc32c(text):08x} size {len(text)}\n")


def write_config(path, cfg):
    """config.json and its checksum, as an operator edits a snapshot on purpose."""
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    fix_checksum(path, "config.json")


def snapshot_config(path):
    with open(os.path.join(path, "config.json")) as f:
        return json.load(f)


def edit_config(path, serial=None, disk=None):
    """config.json is editable between snapshot and restore (with its checksum): new serial
    file, disk path."""
    cfg = snapshot_config(path)
    if serial is not None:
        cfg["serial"]["file"] = serial
    if disk is not None:
        cfg["disks"][0]["path"] = disk
    write_config(path, cfg)


def copy_snapshot(src, dst):
    """The directory, holes kept (cp --sparse=always), as an operator would copy it."""
    subprocess.run(["cp", "-a", "--sparse=always", src, dst], check=True)


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


# --- outcome lines and the exit status of a test script ---

failures = []


def ok(what, cond, detail=""):
    detail = str(detail)
    print(f"{'ok  ' if cond else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)
    if not cond:
        failures.append(f"{what}: {detail}")
    return cond


def threads(v):
    """What each thread of a live vireo is doing, from /proc (root): name, state, wait channel
    and kernel stack. Printed when a wait fails, so a hang says where it is."""
    base = f"/proc/{v.proc.pid}/task"
    out = [f"--- {v.name} (pid {v.proc.pid}) threads"]
    try:
        tids = sorted(os.listdir(base), key=int)
    except OSError as e:
        return out + [f"  gone: {e}"]
    for tid in tids:
        def get(name):
            try:
                with open(f"{base}/{tid}/{name}", errors="replace") as f:
                    return f.read().strip()
            except OSError:
                return "?"
        state = get("stat").rsplit(")", 1)[-1].split()[:1]
        stack = " <- ".join(l.split()[-1] for l in get("stack").splitlines()[:6])
        out.append(f"  {tid} {get('comm')} {state[0] if state else '?'} wchan {get('wchan')}"
                   f" {stack}")
    return out


def conclude(run, vms, work, keep=False):
    """Runs the test body; whatever happens, kills the vireos left, shows their logs' errors,
    removes the work directory unless something failed (or keep), and returns the exit
    status."""
    try:
        run()
    except Exception as e:   # the runner's own crash is a failure with its reason
        ok("runner", False, f"{type(e).__name__}: {e}")
    finally:
        for v in vms:
            if failures and v.alive():
                print("\n".join(threads(v)))
            if v.alive():
                v.kill9()
        for v in vms:
            lines = [l for l in read(v.log).splitlines() if "error" in l or "warn" in l]
            print(f"--- {v.name}.log (errors and warnings, last 8)\n" + "\n".join(lines[-8:]))
        if failures or keep:
            print("work directory kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0

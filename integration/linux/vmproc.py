"""VMM processes for the stock-Linux suite: vireo and QEMU started the same way, their serial
console and virtio-console read line by line as they arrive (with the time each came), written
to, paused, resumed, snapshotted and restored. Every wait is for a line or an exit, against a
deadline; nothing sleeps to synchronize."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time


class Stream:
    """Lines read from a pipe by a thread, each with its arrival time (time.monotonic())."""

    def __init__(self, pipe, name, log_path):
        self.name, self.lines, self.partial = name, [], b""
        self.cond = threading.Condition()
        self.closed = False
        self.log = open(log_path, "ab")
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        while True:
            data = os.read(pipe.fileno(), 65536)
            if not data:
                break
            self.log.write(data)
            self.log.flush()
            now = time.monotonic()
            with self.cond:
                *done, self.partial = (self.partial + data).split(b"\n")
                self.lines += [(now, ln.decode(errors="replace").rstrip("\r")) for ln in done]
                self.cond.notify_all()
        with self.cond:
            if self.partial:
                self.lines.append((time.monotonic(), self.partial.decode(errors="replace")))
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, pattern, timeout, start=0):
        """(index, time, match) of the first line from index `start` matching `pattern`; None at
        the deadline or when the stream ended without one."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][1])
                    if m:
                        return i, self.lines[i][0], m
                    i += 1
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(ln for _, ln in self.lines)

    def close(self):
        self.thread.join(timeout=30)
        self.log.close()


class FileLines:
    """A console kept in a file, read once the VMM has exited: the same view as a Stream."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        self.lines = [(0.0, ln.rstrip("\r")) for ln in text.splitlines()]

    def text(self):
        return "\n".join(ln for _, ln in self.lines)

    def close(self):
        pass


class VM:
    """Common to both VMMs. `serial` and `console` are "pipe" (this process reads the guest's
    output as it comes and writes its input) or "file" (kept in the work directory)."""

    def __init__(self, work, name):
        self.work, self.name = work, name
        self.proc, self.streams, self.started = None, {}, None

    def path(self, suffix):
        return os.path.join(self.work, f"{self.name}.{suffix}")

    def spawn(self, argv, pipe_name, netns=None):
        if netns:   # the VMM and its tap live in the test's own network namespace
            argv = ["ip", "netns", "exec", netns] + argv
        with open(self.path("cmdline"), "w") as f:
            f.write(" ".join(argv) + "\n")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.path("stderr"), "wb"),
                                     start_new_session=True)
        self.streams[pipe_name] = Stream(self.proc.stdout, pipe_name, self.path(pipe_name))

    def stream(self, name):
        """A pipe's Stream, or once the VMM has exited, the file that console went to."""
        if name not in self.streams and self.proc.poll() is not None:
            self.streams[name] = FileLines(self.path(name))
        return self.streams[name]

    def type_line(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def finish(self):
        self.kill()
        for s in self.streams.values():
            s.close()

    def stderr(self):
        with open(self.path("stderr"), errors="replace") as f:
            return f.read()


class Vireo(VM):
    def __init__(self, binary, work, name):
        super().__init__(work, name)
        self.binary = binary
        self.sock = self.path("sock")

    def start(self, boot, serial, console, restore=None, netns=None):
        """boot: dict(kernel, initramfs, cmdline, cpus, mem_mib, disks=[dict(path, readonly,
        queues, serial)]); restore: a snapshot directory to start from instead (--restore)."""
        argv = [self.binary, "-v", "--log-file", self.path("log"), "--api-socket",
                f"path={self.sock}"]
        if restore:
            argv += ["--restore", f"source_url=file://{restore}"]
        else:
            argv += ["--kernel", boot["kernel"], "--initramfs", boot["initramfs"],
                     "--cmdline", boot["cmdline"],
                     "--cpus", f"boot={boot['cpus']},max={boot.get('max_cpus', boot['cpus'])}",
                     "--memory", f"size={boot['mem_mib']}M"
                     + (",shared=on" if boot.get("shared_memory") else "")]
            argv += ["--serial", "tty" if serial == "pipe" else f"file={self.path('serial')}",
                     "--console", "tty" if console == "pipe" else f"file={self.path('console')}"]
            for d in boot.get("disks", []):
                if d.get("vhost_socket"):   # vhost-user-blk: the backend has the image
                    argv += ["--disk", f"vhost_user=on,socket={d['vhost_socket']}"]
                    continue
                spec = f"path={d['path']},serial={d['serial']}"
                spec += ",readonly=on" if d.get("readonly") else ""
                spec += f",num_queues={d['queues']}" if d.get("queues") else ""
                argv += ["--disk", spec]
            for n in boot.get("nets", []):
                if n.get("vhost_socket"):   # vhost-user-net: the backend moves the packets
                    argv += ["--net", f"vhost_user=on,socket={n['vhost_socket']},"
                             f"vhost_mode=client,mac={n['mac']}"]
                    continue
                argv += ["--net", f"tap={n['tap']},ip={n['ip']},mask={n['mask']},"
                         f"mac={n['mac']},host_mac={n['host_mac']},mtu={n['mtu']},"
                         f"num_queues={2 * n['pairs']}"]
            if boot.get("segments"):
                argv += ["--platform", f"num_pci_segments={boot['segments']}"]
            if boot.get("vsock"):
                argv += ["--vsock", f"cid={boot['vsock']['cid']},socket={boot['vsock']['socket']}"]
            if boot.get("fs"):
                argv += ["--fs", f"tag={boot['fs']['tag']},socket={boot['fs']['socket']},id=fs0"]
        self.spawn(argv, "serial" if serial == "pipe" else "console",
                   netns or (boot.get("netns") if boot else None))

    def start_api_only(self, netns=None):
        self.spawn([self.binary, "-v", "--log-file", self.path("log"), "--api-socket",
                    f"path={self.sock}"], "console", netns)

    def api(self, endpoint, body=None, method="PUT"):
        """(HTTP status, body) of one call through curl, as an orchestrator's script would."""
        argv = ["curl", "--silent", "--show-error", "--max-time", "120", "--unix-socket",
                self.sock, "-X", method, "-w", "\n%{http_code}",
                f"http://localhost/api/v1/{endpoint}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        out = subprocess.run(argv, stdout=subprocess.PIPE, check=False).stdout.decode()
        text, _, code = out.rpartition("\n")
        return int(code or 0), text

    def wait_socket(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                return True
            except OSError:
                time.sleep(0.02)   # polling for the socket to exist, bounded by the deadline
        return False


class Qemu(VM):
    """QEMU q35 with KVM and the same devices: the reference the checks are judged against."""

    def __init__(self, work, name):
        super().__init__(work, name)
        self.qmp_path = self.path("qmp")
        self.qmp_sock, self.qmp_file = None, None

    def start(self, boot, serial, console, incoming=None, reboot=False):
        argv = ["qemu-system-x86_64", "-M", "q35", "-accel", "kvm", "-cpu", "host",
                "-m", f"{boot['mem_mib']}M", "-smp", str(boot["cpus"]), "-nodefaults",
                "-no-user-config", "-display", "none", "-kernel", boot["kernel"],
                "-initrd", boot["initramfs"], "-append", boot["cmdline"],
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        argv += [] if reboot else ["-no-reboot"]
        argv += ["-chardev", "stdio,id=ser,signal=off" if serial == "pipe" else
                 f"file,id=ser,path={self.path('serial')}", "-serial", "chardev:ser"]
        argv += ["-chardev", "stdio,id=hvc,signal=off" if console == "pipe" else
                 f"file,id=hvc,path={self.path('console')}",
                 # port 0 and the control queues, one vector each, plus config
                 "-device", "virtio-serial-pci,disable-legacy=on,max_ports=1,vectors=5",
                 "-device", "virtconsole,chardev=hvc",
                 "-device", "virtio-rng-pci,disable-legacy=on"]
        for i, d in enumerate(boot.get("disks", [])):
            if d.get("vhost_socket"):
                argv += ["-chardev", f"socket,id=vub{i},path={d['vhost_socket']}",
                         "-device", f"vhost-user-blk-pci,chardev=vub{i}"]
                continue
            ro = ",readonly=on" if d.get("readonly") else ""
            argv += ["-drive", f"if=none,id=d{i},file={d['path']},format=raw{ro}",
                     "-device", f"virtio-blk-pci,drive=d{i},disable-legacy=on,"
                     f"serial={d['serial']},num-queues={d.get('queues', 1)}"]
        for i, n in enumerate(boot.get("nets", [])):
            if n.get("vhost_socket"):   # QEMU's vhost-user netdev on the same backend
                argv += ["-chardev", f"socket,id=vun{i},path={n['vhost_socket']}",
                         "-netdev", f"vhost-user,id=n{i},chardev=vun{i}",
                         "-device", f"virtio-net-pci,netdev=n{i},disable-legacy=on,"
                         f"mac={n['mac']}"]
                continue
            # The tap exists (the test made it, multi_queue); vhost off like vireo's backend
            # unless asked (the benchmark's third contestant).
            vhost = "on" if n.get("vhost") else "off"
            argv += ["-netdev", f"tap,id=n{i},ifname={n['tap']},script=no,downscript=no,"
                     f"vhost={vhost},queues={n['pairs']}",
                     "-device", f"virtio-net-pci,netdev=n{i},disable-legacy=on,mac={n['mac']},"
                     f"host_mtu={n['mtu']},mq=on,vectors={2 * n['pairs'] + 2}"]
        if boot.get("vsock"):   # the kernel's vhost-vsock: the host side is AF_VSOCK itself
            argv += ["-device", f"vhost-vsock-pci,guest-cid={boot['vsock']['cid']},"
                     "disable-legacy=on"]
        if boot.get("shared_memory"):   # QEMU too needs RAM a vhost-user backend can map
            argv += ["-object", f"memory-backend-memfd,id=mem,size={boot['mem_mib']}M,share=on",
                     "-machine", "memory-backend=mem"]
        if boot.get("fs"):       # the same virtiofsd
            argv += ["-chardev", f"socket,id=fs,path={boot['fs']['socket']}",
                     "-device", f"vhost-user-fs-pci,chardev=fs,tag={boot['fs']['tag']}"]
        if incoming:
            argv += ["-incoming", f"exec:cat {incoming}"]
        self.spawn(argv, "serial" if serial == "pipe" else "console", boot.get("netns"))

    def qmp(self, command, **args):
        if self.qmp_sock is None:
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.qmp_sock = socket.socket(socket.AF_UNIX)
                    self.qmp_sock.connect(self.qmp_path)
                    break
                except OSError:
                    self.qmp_sock.close()
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)   # polling for the socket to exist, bounded
            self.qmp_file = self.qmp_sock.makefile("rw")
            self.qmp_file.readline()   # greeting
            self.qmp("qmp_capabilities")
        self.qmp_file.write(json.dumps({"execute": command, "arguments": args}) + "\n")
        self.qmp_file.flush()
        while True:
            reply = json.loads(self.qmp_file.readline())
            if "return" in reply or "error" in reply:
                return reply

    def finish(self):
        if self.qmp_sock:
            self.qmp_sock.close()
        super().finish()

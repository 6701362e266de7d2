#!/usr/bin/env python3
"""A small Cloud Hypervisor API client, written for the clh-replay scenario from CH's OpenAPI
file (cloud-hypervisor/cloud-hypervisor vmm/src/api/openapi/cloud-hypervisor.yaml): one method
per operation Kata Containers' clh driver calls, each with the method and path the file gives,
HTTP/1.1 on the API's Unix socket, JSON bodies, and the tap fds of vm.add-net sent with
SCM_RIGHTS on the request, as Kata's hand-written add-net does. Standard library only.

  ch_client.py add-net API_SOCKET JSON TAP PAIRS
      open the tap once per queue pair (inside the test's network namespace) and send
      vm.add-net with those fds; print "status CODE BODY"

kata_vm_config() builds the VmConfig the clh driver builds (src/runtime/virtcontainers/clh.go
with its generated client's constructors, which send every default the schema gives)."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_peer import open_tap  # noqa: E402

# The operations, by the name the OpenAPI paths give them: (HTTP method, path).
OPERATIONS = {
    "vmm.ping": ("GET", "/vmm.ping"),
    "vmm.shutdown": ("PUT", "/vmm.shutdown"),
    "vm.create": ("PUT", "/vm.create"),
    "vm.boot": ("PUT", "/vm.boot"),
    "vm.info": ("GET", "/vm.info"),
    "vm.counters": ("GET", "/vm.counters"),
    "vm.pause": ("PUT", "/vm.pause"),
    "vm.resume": ("PUT", "/vm.resume"),
    "vm.snapshot": ("PUT", "/vm.snapshot"),
    "vm.add-net": ("PUT", "/vm.add-net"),
    "vm.add-disk": ("PUT", "/vm.add-disk"),
    "vm.add-fs": ("PUT", "/vm.add-fs"),
    "vm.remove-device": ("PUT", "/vm.remove-device"),
    "vm.resize": ("PUT", "/vm.resize"),
    "vm.shutdown": ("PUT", "/vm.shutdown"),
    "vm.delete": ("PUT", "/vm.delete"),
}
BASE = "/api/v1"


class ChClient:
    def __init__(self, sock_path, timeout=300):
        self.sock_path, self.timeout = sock_path, timeout

    def call(self, op, body=None, fds=()):
        """(status, decoded JSON or text, or None) of one operation; a fresh connection each."""
        method, path = OPERATIONS[op]
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {BASE}{path} HTTP/1.1", "Host: localhost", "Accept: application/json"]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        req = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(self.timeout)
            s.connect(self.sock_path)
            if fds:
                socket.send_fds(s, [req], list(fds))   # the fds ride with the request
            else:
                s.sendall(req)
            return self._answer(s)

    @staticmethod
    def _answer(s):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"the connection closed mid-answer ({buf[:80]!r})")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        text = rest[:length].decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    # The clh driver's calls, one per operation.
    def vmm_ping(self): return self.call("vmm.ping")
    def vmm_shutdown(self): return self.call("vmm.shutdown")
    def vm_create(self, config): return self.call("vm.create", config)
    def vm_boot(self): return self.call("vm.boot")
    def vm_info(self): return self.call("vm.info")
    def vm_counters(self): return self.call("vm.counters")
    def vm_pause(self): return self.call("vm.pause")
    def vm_resume(self): return self.call("vm.resume")
    def vm_snapshot(self, url): return self.call("vm.snapshot", {"destination_url": url})
    def vm_add_net(self, net, fds): return self.call("vm.add-net", net, fds)
    def vm_add_disk(self, disk): return self.call("vm.add-disk", disk)
    def vm_add_fs(self, fs): return self.call("vm.add-fs", fs)
    def vm_remove_device(self, dev_id): return self.call("vm.remove-device", {"id": dev_id})
    def vm_resize(self, **kw): return self.call("vm.resize", kw)
    def vm_shutdown(self): return self.call("vm.shutdown")
    def vm_delete(self): return self.call("vm.delete")


def disk_config(path, **kw):
    """NewDiskConfig(): the generated constructor sends the schema's defaults."""
    d = {"path": path, "readonly": False, "direct": False, "iommu": False, "num_queues": 1,
         "queue_size": 128, "vhost_user": False}
    d.update(kw)
    return d


def fs_config(tag, sock, **kw):
    """NewFsConfig() as clh.go fills it: the schema's defaults, on PCI segment 1."""
    f = {"tag": tag, "socket": sock, "num_queues": 1, "queue_size": 1024, "pci_segment": 1}
    f.update(kw)
    return f


def kata_vm_config(kernel, initramfs, cmdline, boot_vcpus, max_vcpus, mem_bytes, disk,
                   vsock_socket, fs_socket=None):
    """clh.go's VmConfig. Left out, with the reason (see docs/hotplug-cpu.md, the replay):
    memory.hotplug_size (vireo has no memory hotplug: it refuses the field with 400).
    With @fs_socket (virtiofsd listening there) the driver's shared filesystem too:
    platform.num_pci_segments 2 and fs "kataShared" on segment 1 (Kata always sends them; the
    clh-replay scenario, which snapshots, goes without, as vireo refuses to snapshot an fs)."""
    cfg = {
        "payload": {"kernel": kernel, "initramfs": initramfs, "cmdline": cmdline},
        "cpus": {"boot_vcpus": boot_vcpus, "max_vcpus": max_vcpus, "kvm_hyperv": False,
                 "topology": {"threads_per_core": 1, "cores_per_die": max_vcpus,
                              "dies_per_package": 1, "packages": 1}},
        "memory": {"size": mem_bytes, "shared": True, "hugepages": False, "mergeable": False,
                   "hotplug_method": "Acpi", "prefault": False, "thp": True},
        "rng": {"src": "/dev/urandom", "iommu": False},
        "serial": {"mode": "Tty"},
        "console": {"mode": "Off", "iommu": False},
        "vsock": {"cid": 3, "socket": vsock_socket, "iommu": False},
        "disks": [disk],
        "iommu": False, "watchdog": False, "pvpanic": False,
    }
    if fs_socket:
        cfg["platform"] = {"num_pci_segments": 2}
        cfg["fs"] = [fs_config("kataShared", fs_socket)]
    return cfg


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "add-net":
        fds = open_tap(sys.argv[4], int(sys.argv[5]))
        try:
            status, body = ChClient(sys.argv[2]).vm_add_net(json.loads(sys.argv[3]), fds)
        finally:
            for fd in fds:
                os.close(fd)             # vireo holds its own copies now
        print(f"status {status} {json.dumps(body) if body is not None else ''}", flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

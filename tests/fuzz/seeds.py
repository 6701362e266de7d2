#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into DIR/<target>/ (docs/testing.md,
"Fuzzing"). scripts/fuzz.sh then minimizes seeds and findings into tests/fuzz/corpus."""
import json
import os
import struct
import sys

DESC, AVAIL, USED, DATA = 0x0, 0x100, 0x140, 0x200


def ring(chains, size=16, flags=3, indirect=None):
    """A RAM image: the chains (lists of (addr, len, write)) as descriptors, all published."""
    mem = bytearray(DATA + 0x900)
    idx = 0
    heads = []
    for chain in chains:
        heads.append(idx)
        for k, (addr, length, write) in enumerate(chain):
            f = (1 if k + 1 < len(chain) else 0) | (2 if write else 0)
            struct.pack_into("<QIHH", mem, DESC + 16 * idx, addr, length, f, idx + 1)
            idx += 1
    for i, h in enumerate(heads):
        struct.pack_into("<H", mem, AVAIL + 4 + 2 * i, h)
    struct.pack_into("<HH", mem, AVAIL, 0, len(heads))
    if indirect:
        struct.pack_into("<QIHH", mem, DESC + 16 * idx, DATA + 0x800, 16 * len(indirect), 4, 0)
        for k, (addr, length, write) in enumerate(indirect):
            f = (1 if k + 1 < len(indirect) else 0) | (2 if write else 0)
            struct.pack_into("<QIHH", mem, DATA + 0x800 + 16 * k, addr, length, f, k + 1)
        struct.pack_into("<H", mem, AVAIL + 4 + 2 * len(heads), idx)
        struct.pack_into("<H", mem, AVAIL + 2, len(heads) + 1)
    return bytes([size.bit_length() - 1, flags]) + bytes(mem)


def put(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def blk_hdr(t, sector):
    return struct.pack("<IIQ", t, 0, sector)


def main(out):
    t = os.path.join(out, "virtqueue")
    put(t, "one", ring([[(DATA, 64, False), (DATA + 64, 64, True)]]))
    put(t, "indirect", ring([[(DATA, 16, False)]], indirect=[(DATA + 16, 32, False),
                                                              (DATA + 48, 8, True)]))
    put(t, "hole", ring([[(0x10000 - 8, 16, False)], [(0x20000, 64, True)]]))
    put(t, "big", ring([[(DATA + 8 * k, 8, k > 3) for k in range(8)]], size=16, flags=1))
    put(t, "loop", ring([[(DATA, 8, False), (DATA, 8, False)]], flags=0)[:-1])
    # blk: capacity, seg_max, flags (1 ro, 2 discard, 4 write zeroes, 8 huge)
    b = os.path.join(out, "blk")
    hdr = struct.pack("<HBB", 2048, 126, 6)
    for name, typ, data_len, write in (("read", 0, 512, True), ("write", 1, 1024, False),
                                       ("flush", 4, 0, False), ("getid", 8, 20, True),
                                       ("discard", 11, 16, False), ("wzeroes", 13, 16, False)):
        chain = [(DATA, 16, False)]
        if data_len:
            chain.append((DATA + 0x100, data_len, write))
        chain.append((DATA + 0x800, 1, True))
        img = bytearray(ring([chain]))
        img[2 + DATA:2 + DATA + 16] = blk_hdr(typ, 7)
        if typ in (11, 13):
            img[2 + DATA + 0x100:2 + DATA + 0x110] = struct.pack("<QII", 3, 4, 0)
        put(b, name, hdr + bytes(img))
    # vsock: a TX packet from CID 3 to the host, and handshake lines
    v = os.path.join(out, "vsock")
    img = bytearray(ring([[(DATA, 44 + 5, False)]]))
    img[2 + DATA:2 + DATA + 44] = struct.pack("<QQIIIHHIII", 3, 2, 1024, 5000, 5, 1, 5, 0,
                                              65536, 0)
    put(v, "rw", bytes(img))
    put(v, "connect", b"CONNECT 1024\n" + bytes(img[13:]))
    # net: features, frame length, ring (a TX frame, a control MQ command, RX buffers)
    n = os.path.join(out, "net")
    feats = (1 << 32) | (1 << 15) | (1 << 17) | (1 << 22) | (1 << 2) | (1 << 0) | (1 << 11)
    img = bytearray(ring([[(DATA, 12 + 60, False)], [(DATA + 0x200, 4, False),
                                                      (DATA + 0x300, 1, True)],
                          [(DATA + 0x400, 1526, True)]]))
    img[2 + DATA + 0x200:2 + DATA + 0x204] = bytes([4, 0, 2, 0])
    put(n, "mixed", struct.pack("<QH", feats, 60) + bytes(img))
    # PCI: 8-byte steps (selector, 24-bit offset, 32-bit value)
    def step(sel, off, val):
        return struct.pack("<B", sel) + struct.pack("<I", off)[:3] + struct.pack("<I", val)
    bar = 0x10                      # 32-bit BAR0 low at 0x10
    cfg = (step(0x86, 0x4, 0x6) + step(0x86, bar, 0xffffffff) + step(0x82, bar, 0) +
           step(0x86, bar, 0xe1000000) + step(0x82, 0x34, 0) + step(0xc2, 0x100, 0))
    put(os.path.join(out, "pci_cfg"), "bar-move", cfg)
    common = b"".join(step(0x04 | 0, 20, s) for s in (0, 1, 3)) + \
        step(0x06, 0, 0) + step(0x06, 8, 1) + step(0x06, 4, 0) + step(0x06, 12, 1) + \
        step(0x04, 20, 11) + step(0x05, 22, 0) + step(0x05, 24, 16) + \
        step(0x06, 32, 0x10000) + step(0x06, 40, 0x11000) + step(0x06, 48, 0x12000) + \
        step(0x05, 28, 1) + step(0x04, 20, 15) + step(0x70, 0, 0) + step(0x04, 20, 0)
    put(os.path.join(out, "pci_common"), "bring-up", common)
    msix = step(0x16, 2, 0x8000) + step(0x06, 0, 0xfee00000) + step(0x06, 8, 0x30) + \
        step(0x06, 12, 1) + step(0x30, 0, 0) + step(0x06, 12, 0) + step(0x20, 1, 1) + \
        step(0x30, 1, 0) + step(0x02, 0x8000, 0)
    put(os.path.join(out, "msix"), "mask-pba", msix)
    # HTTP
    h = os.path.join(out, "http")
    vm = {"cpus": {"boot_vcpus": 1, "max_vcpus": 1}, "memory": {"size": 536870912},
          "payload": {"kernel": "/tmp/vmlinux"}, "serial": {"mode": "Null"},
          "disks": [{"path": "/tmp/disk.img", "readonly": True}],
          "net": [{"tap": "tap0", "mac": "52:54:00:01:02:03"}]}
    body = json.dumps(vm).encode()
    put(h, "ping", b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n")
    put(h, "create", b"PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    put(h, "chunked", b"PUT /api/v1/vm.resize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n")
    put(h, "info-pipelined", b"GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n"
        b"PUT /api/v1/vm.boot HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    # VmConfig JSON: selector (0 vm.create, 1 snapshot, 2 disk, 3 net, 4 vsock)
    c = os.path.join(out, "config_json")
    full = dict(vm, rng={"src": "/dev/urandom"}, vsock={"cid": 3, "socket": "/tmp/v.sock"},
                console={"mode": "Off"})
    put(c, "vm", b"\x00" + json.dumps(full).encode())
    put(c, "snapshot", b"\x01" + json.dumps(dict(vm, net=[{"fds": [-1, -1]}])).encode())
    put(c, "disk", b"\x02" + json.dumps({"path": "/tmp/d", "num_queues": 2,
                                          "rate_limiter_config": {
                                              "bandwidth": {"size": 1000,
                                                            "refill_time": 100}}}).encode())
    put(c, "net", b"\x03" + json.dumps({"tap": "t", "ip": "192.0.2.1",
                                         "mask": "255.255.255.0", "num_queues": 4}).encode())
    put(c, "vsock", b"\x04" + json.dumps({"cid": 3, "socket": "/tmp/v"}).encode())
    # CLI
    cl = os.path.join(out, "cli")
    for name, args in (("boot", ["--kernel", "/tmp/k", "--cpus", "boot=2", "--memory",
                                 "size=1G", "--serial", "tty", "--console", "off"]),
                       ("devices", ["--kernel", "/tmp/k", "--disk", "path=/tmp/a,readonly=on",
                                    "path=/tmp/b,num_queues=2", "--net",
                                    "tap=t0,mac=52:54:00:00:00:01,num_queues=4",
                                    "--vsock", "cid=3,socket=/tmp/v", "--rng",
                                    "src=/dev/urandom"]),
                       ("restore", ["--restore",
                                    "source_url=file:///tmp/s,resume=on,net_fds=[net1@[3,4]]",
                                    "--api-socket", "path=/tmp/a.sock", "--seccomp", "log",
                                    "-v", "-v"])):
        put(cl, name, "\0".join(args).encode())
    # snapshot: selector (even state.json, odd config.json)
    s = os.path.join(out, "snapshot")
    st = {"format": "vireo-snapshot", "version": 1, "vm": {}, "vcpus": [{"id": 0}],
          "memory": {}, "allocators": {"mmio32": {}, "gsis": {}},
          "devices": {"fuzz0": {"pci": {}, "msix": {}, "virtio": {}}}}
    put(s, "state", b"\x00" + json.dumps(st).encode())
    put(s, "config", b"\x01" + json.dumps(vm).encode())


if __name__ == "__main__":
    main(sys.argv[1])

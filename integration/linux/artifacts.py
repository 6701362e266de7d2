#!/usr/bin/env python3
"""The stock-Linux suite's inputs besides the kernel: the initramfs (busybox, the modules
prepare.sh chose, init.sh as /init) and a known disk image. Building them costs seconds at
native speed and a minute inside the nested test host, so prepare.sh builds them once into the
kernel's cache directory, under a key of everything they are made from; a test whose key finds
nothing there builds its own.

usage: artifacts.py KERNEL_DIR     # fill KERNEL_DIR/inputs-<key>/ (prepare.sh runs this)
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUSYBOX = "/bin/busybox"
VSOCK_TOOL = os.path.join(HERE, "vsock_tool.c")   # busybox has no AF_VSOCK
BENCH_TOOL = os.path.join(HERE, "bench_tool.c")   # the I/O benchmark's guest end
MIB = 1 << 20
APPLETS = ["sh", "mount", "insmod", "cat", "grep", "sed", "tr", "cut", "md5sum", "dd", "head",
           "ls", "wc", "seq", "taskset", "stty", "usleep", "sleep", "kill", "readlink",
           "basename", "poweroff", "reboot", "sync", "printf", "echo", "dmesg", "ip", "ping",
           "nc", "mkdir", "umount"]


def cpio_entry(name, mode, data=b"", target=None):
    """One newc entry (the format the kernel unpacks: Documentation/driver-api/early-userspace)."""
    body = target.encode() if target is not None else data
    name_b = name.encode() + b"\0"
    hdr = b"070701" + b"".join(b"%08X" % v for v in (
        0, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name_b), 0))
    pad = lambda n: b"\0" * (-n % 4)  # noqa: E731
    return hdr + name_b + pad(len(hdr) + len(name_b)) + body + pad(len(body))


def make_initramfs(kdir, out):
    """busybox with a link per applet /init uses, the modules, and init.sh as /init."""
    entries = [cpio_entry(d, 0o40755) for d in ("bin", "dev", "proc", "sys", "tmp",
                                                "lib", "lib/modules")]
    with open(BUSYBOX, "rb") as f:
        entries.append(cpio_entry("bin/busybox", 0o100755, f.read()))
    entries += [cpio_entry(f"bin/{a}", 0o120777, target="busybox") for a in APPLETS]
    entries.append(cpio_entry("bin/vsock_tool", 0o100755, build_tool(VSOCK_TOOL)))
    entries.append(cpio_entry("bin/bench_tool", 0o100755, build_tool(BENCH_TOOL)))
    mods = os.path.join(kdir, "modules")
    for name in sorted(os.listdir(mods)):
        with open(os.path.join(mods, name), "rb") as f:
            entries.append(cpio_entry(f"lib/modules/{name}", 0o100644, f.read()))
    with open(os.path.join(HERE, "init.sh"), "rb") as f:
        entries.append(cpio_entry("init", 0o100755, f.read()))
    entries.append(cpio_entry("TRAILER!!!", 0))
    with open(out, "wb") as f:
        f.write(b"".join(entries))


def build_tool(src, out=None):
    """One of the guest's C helpers, static for the guest (the initramfs has no libc); with
    @out, built there and its path returned (the benchmark's host end)."""
    if out:
        subprocess.run(["cc", "-O2", "-o", out, src], check=True)
        return out
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "tool")
        subprocess.run(["cc", "-static", "-O2", "-o", out, src], check=True)
        with open(out, "rb") as f:
            return f.read()


def stream_bytes(label, n):
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(b"%s %d" % (label, i)).digest()
        i += 1
    return bytes(out[:n])


def make_disk(path, mib=64):
    """An MBR disk with one partition from 1 MiB to the end, its first 4 MiB and last sector a
    known stream (a read at a wrong offset or of mixed-up blocks gives another MD5); sparse.
    Returns the partition's MD5."""
    start, sectors = 2048, mib * 2048
    head, tail = stream_bytes(b"vireo-linux-disk", 4 * MIB), stream_bytes(b"end", 512)
    part = (sectors - start) * 512
    md5 = hashlib.md5(head)
    zeros = bytes(MIB)
    left = part - len(head) - len(tail)
    while left:
        md5.update(zeros[:min(left, MIB)])
        left -= min(left, MIB)
    md5.update(tail)
    entry = struct.pack("<B3sB3sII", 0, bytes(3), 0x83, bytes(3), start, sectors - start)
    with open(path, "wb") as f:
        f.truncate(sectors * 512)
        f.seek(446)
        f.write(entry + bytes(48) + b"\x55\xaa")
        f.seek(start * 512)
        f.write(head)
        f.seek((sectors - 1) * 512)
        f.write(tail)
    return md5.hexdigest()


def make_blank(path, mib=8):
    with open(path, "wb") as f:
        f.truncate(mib * MIB)


def copy_sparse(src, dst):
    """Copies only src's data extents (SEEK_DATA), so the copy is as sparse and as cheap."""
    with open(src, "rb") as s, open(dst, "wb") as d:
        size = os.fstat(s.fileno()).st_size
        d.truncate(size)
        pos = 0
        while pos < size:
            try:
                pos = os.lseek(s.fileno(), pos, os.SEEK_DATA)
            except OSError:   # ENXIO: no data after pos
                break
            end = os.lseek(s.fileno(), pos, os.SEEK_HOLE)
            s.seek(pos)
            d.seek(pos)
            d.write(s.read(end - pos))
            pos = end


def key(kdir):
    h = hashlib.sha256()
    for p in (os.path.join(HERE, "init.sh"), os.path.abspath(__file__), BUSYBOX, VSOCK_TOOL, BENCH_TOOL,
              os.path.join(kdir, "modules", "order")):
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


def build(kdir, out):
    """initramfs.cpio, disk.img and disk.md5 in out."""
    os.makedirs(out, exist_ok=True)
    make_initramfs(kdir, os.path.join(out, "initramfs.cpio"))
    md5 = make_disk(os.path.join(out, "disk.img"))
    with open(os.path.join(out, "disk.md5"), "w") as f:
        f.write(md5 + "\n")


def test_inputs(kdir, work, disk):
    """(initramfs path, vda1 MD5) for one test, with its own copy of the disk at `disk`."""
    cached = os.path.join(kdir, f"inputs-{key(kdir)}")
    if not os.path.exists(os.path.join(cached, "disk.md5")):
        cached = os.path.join(work, "inputs")
        build(kdir, cached)
    copy_sparse(os.path.join(cached, "disk.img"), disk)
    with open(os.path.join(cached, "disk.md5")) as f:
        return os.path.join(cached, "initramfs.cpio"), f.read().strip()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    kdir = os.path.realpath(sys.argv[1])
    out = os.path.join(kdir, f"inputs-{key(kdir)}")
    if os.path.exists(os.path.join(out, "disk.md5")):
        return
    tmp = tempfile.mkdtemp(dir=kdir, prefix=".inputs.")
    build(kdir, tmp)
    os.chmod(tmp, 0o755)
    os.rename(tmp, out)


if __name__ == "__main__":
    main()

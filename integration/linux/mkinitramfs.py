#!/usr/bin/env python3
"""Build the slow Linux suite's initramfs from init.c.

  mkinitramfs.py [--cc CC] [--source FILE.c]... --out FILE

Compiles init.c and md5.c (or the --source files; freestanding, static, no
libc) into /init and writes an uncompressed
"newc" cpio archive holding /init, /dev/console (char 5:1, which the kernel
opens for init's stdin/stdout/stderr before devtmpfs is mounted), and empty
/dev, /proc and /sys.  No cpio tool and no root are needed: device nodes are
just archive headers.  Timestamps are 0, so the archive depends only on the
compiler output.
"""

import argparse
import os
import subprocess
import sys
import tempfile

CFLAGS = [
    "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
    "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pie", "-no-pie",
    "-fno-asynchronous-unwind-tables", "-fcf-protection=none",
    # General registers only: nothing for the kvm-pvm emulator to trip over.
    "-mgeneral-regs-only",
    "-nostdlib", "-static", "-s", "-Wl,--build-id=none", "-Wl,-e,_start",
]


def newc_entry(name, mode, data=b"", ino=1, rdev=(0, 0), nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name) + 1, 0]
    hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
    out = hdr + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--source", action="append",
                    help="C source of /init (repeatable; default init.c md5.c)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sources = args.source or [os.path.join(here, f) for f in ("init.c", "md5.c")]

    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "init")
        cmd = [args.cc, *CFLAGS, "-o", exe, *sources]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode:
            sys.stderr.write(res.stdout)
            sys.exit(f"mkinitramfs: {' '.join(cmd)} failed")
        with open(exe, "rb") as f:
            init = f.read()

    S_IFDIR, S_IFREG, S_IFCHR = 0o040000, 0o100000, 0o020000
    entries = [
        ("dev", S_IFDIR | 0o755, b"", (0, 0), 2),
        ("dev/console", S_IFCHR | 0o600, b"", (5, 1), 1),
        ("proc", S_IFDIR | 0o755, b"", (0, 0), 2),
        ("sys", S_IFDIR | 0o755, b"", (0, 0), 2),
        ("init", S_IFREG | 0o755, init, (0, 0), 1),
    ]
    archive = b"".join(newc_entry(n, m, d, ino=i + 1, rdev=r, nlink=l)
                       for i, (n, m, d, r, l) in enumerate(entries))
    archive += newc_entry("TRAILER!!!", 0, ino=0, nlink=1)
    archive += b"\0" * (-len(archive) % 512)
    tmp_out = args.out + ".tmp"
    with open(tmp_out, "wb") as f:
        f.write(archive)
    os.replace(tmp_out, args.out)
    print(f"mkinitramfs: {args.out} ({len(archive)} bytes, /init {len(init)} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Extracts the uncompressed ELF vmlinux from a bzImage, the way the kernel's own decompressor
finds it: the setup header (Linux Documentation/arch/x86/boot.rst, protocol 2.08+) gives the
payload's offset (0x248, from the start of the protected-mode code) and length (0x24c). Checks
that the result is an ELF with the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18, "Xen").

usage: extract-vmlinux.py BZIMAGE OUT
"""
import gzip
import lzma
import os
import struct
import subprocess
import sys
import tempfile


def payload(image):
    if image[0x202:0x206] != b"HdrS":
        sys.exit("extract-vmlinux: not a bzImage (no HdrS setup header)")
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        sys.exit(f"extract-vmlinux: boot protocol {version:#x} has no payload fields")
    setup_sects = image[0x1F1] or 4
    start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", image, 0x248)
    return image[start + offset:start + offset + length]


def run(cmd, data):
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout


def decompress(data):
    if data.startswith(b"\xfd7zXZ\x00"):
        # The kernel appends the uncompressed size after the stream: decode the first stream only.
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if data.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=__import__("io").BytesIO(data)).read()
    # lz4 and zstd payloads end in the 4-byte size the kernel's build appends (size_append).
    if data.startswith(b"\x02\x21\x4c\x18"):   # LZ4 legacy frame
        return run(["lz4", "-dc"], data[:-4])
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return run(["zstd", "-dc"], data[:-4])
    sys.exit(f"extract-vmlinux: unknown payload compression {data[:4].hex()}")


def has_pvh_note(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        sys.exit("extract-vmlinux: the payload is not a 64-bit ELF")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:   # PT_NOTE
            continue
        pos, end = off, off + filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py BZIMAGE OUT")
    with open(sys.argv[1], "rb") as f:
        elf = decompress(payload(f.read()))
    if not has_pvh_note(elf):
        sys.exit("extract-vmlinux: the vmlinux has no PVH entry note")
    out_dir = os.path.dirname(os.path.abspath(sys.argv[2]))
    with tempfile.NamedTemporaryFile(dir=out_dir, delete=False) as f:
        f.write(elf)
    os.chmod(f.name, 0o644)
    os.replace(f.name, sys.argv[2])


main()

#!/usr/bin/env python3
"""Write the slow Linux suite's virtio-blk disk image and print its partition's MD5.

  mkdisk.py --out FILE

A 64 MiB raw image with an MBR and one Linux partition (type 0x83) from sector
2048 to the end.  The partition's contents are fixed: 4 MiB of a SHA-256
counter stream ("vireo-linux-disk <n>"), zeros, and a last sector of another
stream, so a read that stops early, starts at the wrong offset or mixes up
blocks gives another MD5.  The zeros are a hole in a sparse file.

Prints one line: "VDA1_MD5=<hex> VDA1_BYTES=<n> VDA1_SECTORS=<n/512>", the
values run-linux.sh passes to console-watch.py for milestones-init.txt.
"""

import argparse
import hashlib
import os
import struct

SECTOR = 512
DISK_SECTORS = 64 << 11          # 64 MiB
PART_START = 2048                # 1 MiB, as fdisk aligns
PATTERN_BYTES = 4 << 20


def stream(label, nbytes):
    """nbytes of SHA-256(label + counter): pseudo-random, the same everywhere."""
    out = bytearray()
    i = 0
    while len(out) < nbytes:
        out += hashlib.sha256(b"%s %d" % (label, i)).digest()
        i += 1
    return bytes(out[:nbytes])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    part_sectors = DISK_SECTORS - PART_START
    part_bytes = part_sectors * SECTOR
    head = stream(b"vireo-linux-disk", PATTERN_BYTES)
    tail = stream(b"vireo-linux-disk-end", SECTOR)

    md5 = hashlib.md5(head)
    zeros = bytes(1 << 20)
    left = part_bytes - len(head) - len(tail)
    while left:
        n = min(left, len(zeros))
        md5.update(zeros[:n])
        left -= n
    md5.update(tail)

    # MBR (partition entry 1 at byte 446, signature 0x55 0xaa at 510): not
    # bootable, CHS unused (zeros), type 0x83, LBA start and sector count.
    entry = struct.pack("<B3sB3sII", 0, bytes(3), 0x83, bytes(3), PART_START, part_sectors)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.truncate(DISK_SECTORS * SECTOR)
        f.seek(446)
        f.write(entry + bytes(48) + b"\x55\xaa")
        f.seek(PART_START * SECTOR)
        f.write(head)
        f.seek((DISK_SECTORS - 1) * SECTOR)
        f.write(tail)
    os.replace(tmp, args.out)
    print(f"VDA1_MD5={md5.hexdigest()} VDA1_BYTES={part_bytes} VDA1_SECTORS={part_sectors}")


if __name__ == "__main__":
    main()

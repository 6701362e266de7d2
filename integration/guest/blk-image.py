#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Raw disk images for the test guest's virtio-blk checks (README.md "virtio-blk checks").

Each 512-byte sector holds 64 little-endian qwords: the LBA, the seed, then
mix64(seed + lba * C1) + k * C2 for k = 2..63 (the guest's blk_fill in blkio.c).

  blk-image.py make IMG SECTORS SEED
      write a fresh image of SECTORS sectors with the pattern of SEED
  blk-image.py verify IMG SEED [--log SERIAL --disk N] [--region LBA:COUNT:SEED|zero]...
      every sector must hold the pattern of SEED, except the regions given with --region
      and those the guest declared for disk N in its "blkimage: disk N lba L sectors C
      (seed S | zero)" lines (the last boot of SERIAL), which must hold that pattern or zeros

Exit status: 0 good, 1 the image differs, 2 usage or I/O error.
"""
import argparse
import re
import struct
import sys

MASK = (1 << 64) - 1
C1 = 0xD1B54A32D192ED03
C2 = 0x9E3779B97F4A7C15
SECTOR = 512
ZERO = bytes(SECTOR)
IMAGE_LINE = re.compile(
    r"^blkimage: disk (\d+) lba (\d+) sectors (\d+) (?:seed (0x[0-9a-f]+)|zero)$")
BANNER = re.compile(r"vireo-guest: start\b")


def mix64(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def sector(seed, lba):
    h = mix64((seed + lba * C1) & MASK)
    return struct.pack("<64Q", lba, seed, *[(h + k * C2) & MASK for k in range(2, 64)])


def number(text):
    return int(text, 0)


def region(text):
    """LBA:COUNT:SEED or LBA:COUNT:zero -> (lba, count, seed or 0)"""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' is not LBA:COUNT:SEED|zero")
    seed = 0 if parts[2] == "zero" else number(parts[2])
    return number(parts[0]), number(parts[1]), seed


def log_regions(path, disk):
    """The guest's blkimage lines for `disk` in the last boot of a serial log."""
    lines = open(path, "rb").read().decode("utf-8", "replace").replace("\r", "\n").split("\n")
    found = []
    for line in lines:
        if BANNER.search(line):
            found = []
        m = IMAGE_LINE.match(line.strip())
        if m and int(m.group(1)) == disk:
            seed = int(m.group(4), 16) if m.group(4) else 0
            found.append((int(m.group(2)), int(m.group(3)), seed))
    return found


def make(args):
    with open(args.image, "wb") as f:
        for lba in range(args.sectors):
            f.write(sector(args.seed, lba))
    return 0


def verify(args):
    regions = list(args.region)
    if args.log is not None:
        regions += log_regions(args.log, args.disk)
    want = {}
    for lba, count, seed in regions:
        for s in range(lba, lba + count):
            want[s] = seed
    data = open(args.image, "rb").read()
    if len(data) % SECTOR:
        print(f"blk-image: {args.image}: size {len(data)} is not a multiple of 512")
        return 1
    bad = []
    for lba in range(len(data) // SECTOR):
        seed = want.get(lba, args.seed)
        expect = sector(seed, lba) if seed else ZERO
        if data[lba * SECTOR:(lba + 1) * SECTOR] != expect:
            bad.append(lba)
    beyond = [s for s in want if s >= len(data) // SECTOR]
    desc = ", ".join(f"{lba}+{count} {'zero' if not seed else hex(seed)}"
                     for lba, count, seed in regions) or "none"
    if bad or beyond:
        print(f"blk-image: FAIL: {args.image}: {len(bad)} sectors differ (first: "
              f"{' '.join(map(str, bad[:8]))}){'; regions beyond the end' if beyond else ''}; "
              f"seed {args.seed:#x}, declared regions: {desc}")
        return 1
    print(f"blk-image: OK: {args.image}: {len(data) // SECTOR} sectors, pattern {args.seed:#x} "
          f"except the declared regions ({desc})")
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("image")
    m.add_argument("sectors", type=number)
    m.add_argument("seed", type=number)
    v = sub.add_parser("verify")
    v.add_argument("image")
    v.add_argument("seed", type=number)
    v.add_argument("--log", help="serial log with the guest's blkimage lines")
    v.add_argument("--disk", type=int, default=0)
    v.add_argument("--region", type=region, action="append", default=[])
    args = p.parse_args(argv)
    try:
        return make(args) if args.cmd == "make" else verify(args)
    except OSError as e:
        print(f"blk-image: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Guest-RAM snapshot/restore micro-benchmark (library level, no guest).

Runs build/tests/snapshot/snapshot_bench for 256 MiB, 1 GiB and 4 GiB guests with a little
memory touched, side by side with the dense peer (all RAM written and read back), and prints
medians and ratios as a Markdown table (docs/snapshot.md has the numbers and the command).

usage: snapshot_bench.py [--build DIR] [--dir TMPDIR] [--runs N] [--touch MIB] [SIZE_MIB...]
"""
import argparse
import json
import os
import subprocess
import sys


def run(binary, size, touch, runs, tmpdir):
    out = subprocess.run([binary, str(size), str(touch), str(runs), tmpdir],
                         check=True, capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="meson build directory")
    ap.add_argument("--dir", default="/var/tmp", help="where snapshots are written (real fs)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--touch", type=int, default=16, help="MiB of RAM touched")
    ap.add_argument("sizes", nargs="*", type=int, default=[256, 1024, 4096])
    args = ap.parse_args()
    binary = os.path.join(args.build, "tests", "snapshot", "snapshot_bench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"snapshot_bench.py: {binary} not built (ninja -C {args.build})")
    print(f"medians of {args.runs} runs, {args.touch} MiB touched in 64 KiB chunks, "
          f"snapshot dir {args.dir}, warm page cache\n")
    print("| guest | save | dense save | ratio | restore copy | restore lazy | dense restore "
          "| lazy/dense | lazy first touch | scan SEEK_DATA | scan mincore | scan pread |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        r = run(binary, size, args.touch, args.runs, args.dir)
        print(f"| {size} MiB | {r['save_ms']:.1f} ms | {r['dense_save_ms']:.0f} ms "
              f"| {r['save_ms'] / r['dense_save_ms']:.3f} | {r['restore_copy_ms']:.1f} ms "
              f"| {r['restore_lazy_ms']:.2f} ms | {r['dense_restore_ms']:.0f} ms "
              f"| {r['restore_lazy_ms'] / r['dense_restore_ms']:.5f} "
              f"| {r['lazy_first_touch_ms']:.2f} ms | {r['scan_seek_data_ms']:.2f} ms "
              f"| {r['scan_mincore_ms']:.2f} ms | {r['scan_pread_ms']:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()

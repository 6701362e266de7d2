#!/usr/bin/env python3
"""Counts meson test results: one 'passed failed skipped' triple per testlog.json, or with
--total sums such triples and prints the closing 'N passed, N failed, N skipped' line."""
import json
import sys


def count(path):
    passed = failed = skipped = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
    return passed, failed, skipped


def main():
    if sys.argv[1] == "--total":
        totals = [0, 0, 0]
        with open(sys.argv[2], encoding="utf-8") as f:
            for line in f:
                for i, v in enumerate(line.split()):
                    totals[i] += int(v)
        print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    else:
        print(*count(sys.argv[1]))


main()

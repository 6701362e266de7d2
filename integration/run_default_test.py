#!/usr/bin/env python3
"""The README's run command, second half (scripts/boot-default.sh): boots the default guest
through the API and ends with vireo's status, or, when something fails, ends with one line
naming what failed and a non-zero status, and leaves no process behind.

usage: run_default_test.py ok       # on a KVM host: the test guest's checks all pass, exit 0
       run_default_test.py no-kvm   # /dev/kvm unusable: vm.boot fails, exit 1, nothing left
"""
import os
import re
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "boot-default.sh")


def run(argv):
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        print("FAIL boot-default.sh did not end in 600 s")
    try:   # its session: vireo would still be in it
        os.killpg(p.pid, 0)
        left = True
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        left = False
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), left


def main():
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    if mode == "ok":
        status, out, err, left = run(["bash", SCRIPT])
        checks = [(status == 0, f"exit status 0 (got {status})"),
                  (re.search(r"^\d+ passed, 0 failed$", out, re.M) is not None,
                   "the default guest's checks all passed"),
                  (not left, "no process left behind")]
    elif mode == "no-kvm":
        argv = ["bash", SCRIPT]
        if os.path.exists("/dev/kvm"):   # hide it: a private mount namespace, a file over it
            empty = tempfile.NamedTemporaryFile()
            argv = ["unshare", "-m", "sh", "-c",
                    f"mount --bind {empty.name} /dev/kvm && exec bash {SCRIPT}"]
        status, out, err, left = run(argv)
        checks = [(status == 1, f"exit status 1 (got {status})"),
                  ("run.sh: vm.boot failed" in err, "one line says vm.boot failed"),
                  ("/dev/kvm" in err, "the API's answer names /dev/kvm"),
                  (not left, "no process left behind")]
    else:
        sys.exit(__doc__)
    for ok, what in checks:
        print(f"{'PASS' if ok else 'FAIL'} {what}")
    if not all(ok for ok, _ in checks):
        print(f"--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

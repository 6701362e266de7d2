"""The virtio-fs scenario of the stock-Linux suite (linux_test.py runs it as "fs"): Debian's own
virtiofsd (/usr/lib/qemu/virtiofsd, package qemu-system-common) serves a directory of the test;
the guest mounts it by tag, reads a file, writes one, lists a directory of many entries. Then,
under vireo, virtiofsd is killed while the guest is idle: vireo stays up and says the device is
broken (vm.counters, its log), vmm.ping answers, a snapshot is refused and writes nothing, and
the console and the disk keep working. QEMU's vhost-user-fs-pci with the same virtiofsd is the
reference for the first half. The same boot has a vhost-user-blk disk served by Debian's
qemu-storage-daemon: the guest reads it with the image's md5, after virtiofsd died."""
import hashlib
import json
import os
import subprocess
import time

from artifacts import copy_sparse

VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
MANY = 1000
TAG = "vtestfs"


def wait_listening(path, proc, timeout):
    """True once something accepts on the Unix socket @path (bounded; the backend is a child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path):
            return True
        time.sleep(0.05)   # polling for the socket to appear, bounded by the deadline
    return False


def start_virtiofsd(t, share, sock):
    log = open(os.path.join(t.work, "virtiofsd.log"), "wb")
    # chroot sandbox: the nested host runs the test chrooted, where pivot_root cannot work.
    p = subprocess.Popen([VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={share}",
                          "-o", "cache=none", "-o", "sandbox=chroot"],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    t.peers.append(p)
    return p


def start_storage_daemon(t, image, sock):
    """Debian's qemu-storage-daemon exporting @image as vhost-user-blk on @sock."""
    log = open(os.path.join(t.work, "qsd.log"), "wb")
    p = subprocess.Popen(["qemu-storage-daemon",
                          "--blockdev", f"driver=file,node-name=file,filename={image}",
                          "--blockdev", "driver=raw,node-name=raw,file=file",
                          "--export", "type=vhost-user-blk,id=exp,node-name=raw,addr.type=unix,"
                          f"addr.path={sock},writable=on"],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    t.peers.append(p)
    return p


def make_share(work):
    share = os.path.join(work, "share")
    os.makedirs(os.path.join(share, "many"))
    data = os.urandom(4 << 20)
    with open(os.path.join(share, "data.bin"), "wb") as f:
        f.write(data)
    for i in range(MANY):
        with open(os.path.join(share, "many", f"f{i:04d}"), "w") as f:
            f.write(str(i))
    return share, hashlib.md5(data).hexdigest()


def counters_of(v, dev):
    st, body = v.api("vm.counters", method="GET")
    return json.loads(body).get(dev, {}) if st == 200 else {}


def backend_dies(t, v, p, check):
    """vireo only: kill virtiofsd under an idle guest and look at everything but the fs."""
    p.kill()
    p.wait()
    deadline = time.monotonic() + 60
    while counters_of(v, "fs0").get("backend_broken") != 1 and time.monotonic() < deadline:
        time.sleep(0.1)   # polling vireo's own view, bounded by the deadline
    c = counters_of(v, "fs0")
    check(c.get("backend_broken") == 1, f"vm.counters says fs0's backend is broken ({c})")
    check(v.api("vmm.ping", method="GET")[0] == 200, "vmm.ping answers after the backend died")
    st, body = v.api("vm.info", method="GET")
    node = json.loads(body).get("device_tree", {}).get("fs0", {}) if st == 200 else {}
    check(st == 200 and '"state":"Running"' in body.replace(" ", "") and
          node.get("vhost_user", {}).get("socket", "").endswith("virtiofsd.sock"),
          f"vm.info answers: the VM still runs, fs0 names its backend ({node.get('vhost_user')})")
    snap = os.path.join(t.work, "snap")
    os.mkdir(snap, 0o700)
    check(v.api("vm.pause")[0] == 204, "vm.pause answered 204")
    st, body = v.api("vm.snapshot", {"destination_url": f"file://{snap}"})
    check(st == 400 and "vhost-user" in body and not os.listdir(snap),
          f"vm.snapshot is refused with a clear error and writes nothing ({st} {body})")
    check(v.api("vm.resume")[0] == 204, "vm.resume answered 204")


def serial_lines(v, prefix):
    """The guest's serial lines so far with @prefix (the console step orders them)."""
    with open(v.path("serial"), errors="replace") as f:
        return [ln[len(prefix):] for ln in f.read().splitlines() if ln.startswith(prefix)]


def run(t, check, vireo):
    try:
        checks(t, check, vireo)
    except Exception:
        for name in ("vm.serial", "virtiofsd.log", "qsd.log"):
            path = os.path.join(t.work, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print(f"--- {name} (last 40 lines)\n" + "\n".join(f.read().splitlines()[-40:]))
        raise


def checks(t, check, vireo):
    share, md5 = make_share(t.work)
    sock = os.path.join(t.work, "virtiofsd.sock")
    p = start_virtiofsd(t, share, sock)
    check(wait_listening(sock, p, 60), "virtiofsd listens on its socket")
    vub_img, vub_sock = os.path.join(t.work, "vub.img"), os.path.join(t.work, "vub.sock")
    copy_sparse(t.disk, vub_img)
    q = start_storage_daemon(t, vub_img, vub_sock)
    check(wait_listening(vub_sock, q, 60), "qemu-storage-daemon exports a vhost-user-blk disk")
    token = f"tok{os.getpid()}x{time.time_ns() % 100000}"
    # console steps mark the order: fs done, then (after the host's line) the disks read.
    spec = t.boot_spec(steps=["fs", "console", "blk", "console"],
                       extra=f"vtest.fstag={TAG} vtest.fstoken={token}")
    spec["fs"] = dict(tag=TAG, socket=sock)
    spec["shared_memory"] = True
    spec["disks"].append(dict(vhost_socket=vub_sock))
    v = t.start("vm", spec, serial="file", console="pipe")
    t.expect(v, "console", r"^vtest-hvc0: ready$", "the guest finished the fs step")
    said = serial_lines(v, "vtest: fs ")
    errors = [ln for ln in serial_lines(v, "vtest: ") if "error" in ln]
    check("mounted" in said, f"the guest mounted -t virtiofs {TAG} ({said} {errors[-5:]})")
    check(f"read md5 {md5}" in said, f"the guest read data.bin with the host's md5 {md5}")
    with open(os.path.join(share, "from-guest.txt"), errors="replace") as f:
        wrote = f.read().strip()
    check(wrote == f"written by the guest {token}", f"the host sees the guest's file ({wrote})")
    check(f"entries {MANY}" in said, f"the guest lists {MANY} entries in many/")
    if vireo:
        backend_dies(t, v, p, check)
    v.type_line("after-fs")
    i, _, _ = t.expect(v, "console", r"^vtest-hvc0: got after-fs$", "the console still answers")
    t.expect(v, "console", r"^vtest-hvc0: ready$", "the guest read its disks", i)
    parts = serial_lines(v, "vtest: partition vda1 md5 ")
    check(parts == [t.vda1_md5], f"the disk reads vda1 with the host's md5 ({parts})")
    parts = serial_lines(v, "vtest: partition vdb1 md5 ")
    check(parts == [t.vda1_md5], f"the vhost-user-blk disk reads vdb1 with the image's md5 "
          f"({parts})")
    v.type_line("bye")
    if not vireo:
        status = v.wait_exit(300)
        check(status == 0, f"the guest powered off, the VMM ended with 0 (got {status})")
        return
    # The guest's poweroff syncs the share, which waits for the dead backend as it would for a
    # dead NFS server: vireo is stopped here instead, after one more look.
    check(v.api("vmm.ping", method="GET")[0] == 200, "vmm.ping still answers")
    v.kill()
    with open(v.path("log"), errors="replace") as f:
        log = f.read()
    check("fs0: vhost-user backend broken" in log, "vireo's log names the broken backend")

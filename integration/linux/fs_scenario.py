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
from ch_client import ChClient, disk_config, fs_config, kata_vm_config

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
    snapshot_refused(t, v, check)


def snapshot_refused(t, v, check):
    """A paused VM with a vhost-user device: vm.snapshot answers 400 and writes nothing."""
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


def share_used(check, said, tag, share, md5, token, errors):
    """The guest's fs step (its lines @said): mounted @tag, read, wrote, listed."""
    check("mounted" in said, f"the guest mounted -t virtiofs {tag} ({said} {errors})")
    check(f"read md5 {md5}" in said, f"the guest read data.bin with the host's md5 {md5}")
    with open(os.path.join(share, "from-guest.txt"), errors="replace") as f:
        wrote = f.read().strip()
    check(wrote == f"written by the guest {token}", f"the host sees the guest's file ({wrote})")
    check(f"entries {MANY}" in said, f"the guest lists {MANY} entries in many/")


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
    errors = [ln for ln in serial_lines(v, "vtest: ") if "error" in ln]
    share_used(check, serial_lines(v, "vtest: fs "), TAG, share, md5, token, errors[-5:])
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


# --- clh-replay-fs: Kata's clh driver's VmConfig with its shared filesystem, then hotplug ---

HOT = "hotfs"
ROUNDS = 3


def wait_counter(v, dev, key, want):
    deadline = time.monotonic() + 60
    while counters_of(v, dev).get(key) != want and time.monotonic() < deadline:
        time.sleep(0.1)   # polling vireo's own view, bounded by the deadline
    return counters_of(v, dev)


def known(c, dev_id):
    """Whether vm.info names @dev_id in its fs config or its device tree."""
    st, info = c.vm_info()
    ids = [f.get("id") for f in info.get("config", {}).get("fs", [])] if st == 200 else []
    return dev_id in ids or dev_id in (info.get("device_tree", {}) if st == 200 else {})


def hot_round(t, check, v, c, r, token):
    """One round of vm.add-fs into the running guest, which mounts the share, reads it, writes
    to it and unmounts; then the device leaves: round 1 by vm.remove-device with the backend
    alive (the backend sees its connection close and exits), round 2 after the backend died
    (broken, then removed: the recovery docs/virtio-fs.md gives), round 3 removed again."""
    share = os.path.join(t.work, "hot")
    os.makedirs(share, exist_ok=True)
    data = os.urandom(1 << 20)
    with open(os.path.join(share, "data.bin"), "wb") as f:
        f.write(data)
    sock = os.path.join(t.work, "hot.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = start_virtiofsd(t, share, sock)
    check(wait_listening(sock, p, 60), f"round {r}: a fresh virtiofsd listens")
    st, info = c.vm_add_fs(fs_config(HOT, sock, id=HOT))
    check(st == 200 and isinstance(info, dict) and info.get("id") == HOT and
          info.get("bdf", "").startswith("0001:00:"),
          f"round {r}: vm.add-fs on the running VM: 200 with PciDeviceInfo on segment 1 "
          f"({st} {info})")
    _, _, m = t.expect(v, "console", rf"^vtest: fshot round {r} md5 (\w+) at (.*)$",
                       f"round {r}: the guest mounted the hot-added share")
    check(m.group(1) == hashlib.md5(data).hexdigest() and info["bdf"] in m.group(2).split(),
          f"round {r}: it read data.bin with the host's md5 from {info['bdf']} ({m.groups()})")
    t.expect(v, "console", rf"^vtest: fshot round {r} unmounted$", f"round {r}: unmounted")
    with open(os.path.join(share, "from-guest.txt"), errors="replace") as f:
        wrote = f.read().strip()
    check(wrote == f"round {r} {token}", f"round {r}: the host sees the guest's write ({wrote})")
    cnt = counters_of(v, HOT)
    check(cnt.get("backend_activations") == 1 and cnt.get("backend_broken") == 0,
          f"round {r}: vm.counters: one activation, backend healthy ({cnt})")
    if r == 2:
        p.kill()
        p.wait()
        cnt = wait_counter(v, HOT, "backend_broken", 1)
        check(cnt.get("backend_broken") == 1, f"the killed backend: {HOT} broken ({cnt})")
    st, body = c.vm_remove_device(HOT)
    check(st == 204, f"round {r}: vm.remove-device {HOT}: 204 ({st} {body})")
    t.expect(v, "console", rf"^vtest: fshot round {r} gone, left 0001:00:\S+ $",
             f"round {r}: the guest ejected the device, the boot share stays")
    deadline = time.monotonic() + 60
    while known(c, HOT) and time.monotonic() < deadline:
        time.sleep(0.1)   # the eject reaches vireo after the guest's; bounded
    check(not known(c, HOT), f"round {r}: {HOT} left vm.info (config and device tree)")
    if r != 2:
        try:
            status = p.wait(60)
        except subprocess.TimeoutExpired:
            status = None
        check(status is not None, f"round {r}: vireo closed the connection, virtiofsd ended "
              f"({status})")


def clh_replay_fs(t, check):
    """Kata's clh driver's VmConfig, fs "kataShared" on PCI segment 1 included, through vm.create
    and vm.boot; the guest mounts the share (domain 0001), reads and writes it. Then ROUNDS
    rounds of fs hotplug and removal (hot_round), one with a dead backend."""
    share, md5 = make_share(t.work)
    sock = os.path.join(t.work, "virtiofsd.sock")
    p = start_virtiofsd(t, share, sock)
    check(wait_listening(sock, p, 60), "virtiofsd listens on its socket")
    token = f"tok{os.getpid()}x{time.time_ns() % 100000}"
    spec = t.boot_spec(steps=["fs", "pci", "fshot", "hold"],
                       extra=f"vtest.fstag=kataShared vtest.fstoken={token} "
                             f"vtest.fshot={HOT} vtest.fsrounds={ROUNDS}")
    v = t.vm("vm")
    v.start_api_only()
    check(v.wait_socket(300), "vireo serves its API")
    c = ChClient(v.sock)
    cfg = kata_vm_config(spec["kernel"], spec["initramfs"], spec["cmdline"], 1, 2, 512 << 20,
                         disk_config(t.disk, serial="vtest-main"),
                         os.path.join(t.work, "clh.sock"), fs_socket=sock)
    st, body = c.vm_create(cfg)
    check(st == 204, f"vm.create with the clh driver's VmConfig (fs on segment 1): 204 "
          f"({st} {body})")
    st, body = c.vm_add_fs(fs_config(HOT, "/nonexistent/vu.sock", id="nope"))
    check(st == 204, f"vm.add-fs on a created VM edits the config: 204 ({st} {body})")
    check(c.vm_remove_device("nope")[0] == 204, "and vm.remove-device takes it out again")
    st, body = c.vm_boot()
    check(st == 204, f"vm.boot: 204 ({st} {body})")
    st, info = c.vm_info()
    fs = info.get("config", {}).get("fs", []) if st == 200 else []
    check(st == 200 and info["state"] == "Running" and len(fs) == 1 and
          fs[0].get("pci_segment") == 1, f"vm.info: Running, fs on segment 1 ({fs})")
    bdf = info["device_tree"].get(fs[0].get("id"), {}).get("pci_bdf", "")
    check(bdf.startswith("0001:00:"), f"vm.info: the fs function is in domain 0001 ({bdf})")
    # One wait per step of the guest's (each gets WAIT: a loaded nested host is slow).
    t.expect(v, "console", r"vtest: user space", "the guest reached user space")
    t.expect(v, "console", r"^vtest: fs (mounted|read)", "the guest mounted the share")
    t.expect(v, "console", r"^vtest: fs entries", "the guest finished the fs step")
    said = [ln[len("vtest: fs "):] for ln in v.stream("console").text().splitlines()
            if ln.startswith("vtest: fs ")]
    share_used(check, said, "kataShared", share, md5, token, [])
    t.expect(v, "console", r"^vtest: fshot round 1 waiting$", "the guest listed its PCI devices")
    pci = [ln.split() for ln in v.stream("console").text().splitlines()
           if ln.startswith("vtest: pci ")]
    hit = [f for f in pci if f[3] == "1af4:105a"]
    check(len(hit) == 1 and hit[0][2] == bdf and hit[0][5] == "virtio-pci",
          f"the guest sees the virtio-fs function at {bdf}, bound to virtio-pci ({hit})")
    st, body = c.vm_add_fs(fs_config(HOT, os.path.join(t.work, "nobody.sock"), id=HOT))
    check(st == 500 and "nobody.sock" in json.dumps(body) and not known(c, HOT),
          f"vm.add-fs with no backend listening: 500 naming the socket, nothing added "
          f"({st} {body})")
    for r in range(1, ROUNDS + 1):
        hot_round(t, check, v, c, r, token)
    t.expect(v, "console", r"^vtest: holding$", "the guest waits for the host")
    for name, call, want in (("vm.shutdown", c.vm_shutdown, 204),
                             ("vm.delete", c.vm_delete, 204),
                             ("vmm.shutdown", c.vmm_shutdown, 200)):
        st, body = call()
        check(st == want, f"{name}: {want} ({st} {body})")
    check(v.wait_exit(300) == 0, "vireo exited 0 after vmm.shutdown")

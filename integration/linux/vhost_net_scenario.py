"""The vhost-user-net scenario of the stock-Linux suite (linux_test.py runs it as "vhost-net"),
under vireo and, as the reference, QEMU's vhost-user netdev: Debian's DPDK testpmd (package
dpdk-dev) is the backend, its net_vhost PMD listening on the test's socket, its net_tap PMD
making a tap in a network namespace of the test, and io forwarding between the two. The tap
holds 192.0.2.1; the guest's eth0 (192.0.2.2, the MAC the VMM was given) pings it, which
takes ARP and ICMP both ways through the backend. DPDK runs without hugepages (--no-huge,
--no-shconf): the guest RAM it maps is the VMM's shared memfd."""
import glob
import json
import os
import shutil
import signal
import subprocess
import time

from fs_scenario import snapshot_refused

TESTPMD = "/usr/bin/dpdk-testpmd"
MAC = "52:54:00:12:34:58"
TAP = "vutap0"


PLUGINS = ("net_vhost", "net_tap", "mempool_ring")   # testpmd links bus_vdev itself
# EAL dlopens every driver of its plugin directory (hundreds in Debian's build, minutes over
# the nested host's 9p root): testpmd runs in a mount namespace where the directory ($2) holds
# copies of the three it needs ($1), the full one ($3) still on the library path for the
# libraries testpmd itself links.
ONLY_PLUGINS = ('mount --bind "$2" "$3" && mount --bind "$1" "$2" && export LD_LIBRARY_PATH="$3" '
                '&& shift 3 && exec stdbuf -oL "$@"')


def plugin_dir(work):
    pmds = glob.glob("/usr/lib/*/dpdk/pmds-*")[0]
    mine = os.path.join(work, "pmds")
    os.makedirs(mine, exist_ok=True)
    for name in PLUGINS:
        lib = f"librte_{name}.so"
        shutil.copy(os.path.join(pmds, lib), os.path.join(mine, lib))
    full = os.path.join(work, "pmds-all")
    os.makedirs(full, exist_ok=True)
    return mine, pmds, full


def start_testpmd(t, ns, sock):
    log = open(os.path.join(t.work, "testpmd.log"), "wb")
    dirs = plugin_dir(t.work)
    # Both lcores on CPU 0: the forwarding one busy-polls, the main one sleeps.
    # stdbuf: testpmd's stdout is a file here, line-buffered so its log shows how far it got.
    p = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c", ONLY_PLUGINS,
                          "sh", *dirs, TESTPMD, "--no-huge", "-m", "256",
                          "--no-shconf", "--file-prefix", f"vunet{os.getpid()}", "--no-pci",
                          "--lcores", "0@0,1@0",
                          "--vdev", f"net_vhost0,iface={sock},queues=1",
                          "--vdev", f"net_tap0,iface={TAP}", "--",
                          "--forward-mode=io", "--auto-start", "--nb-cores=1",
                          "--total-num-mbufs=2048"],
                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    t.peers.append(p)
    return p


def wait_for(what, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if what():
            return True
        time.sleep(0.1)   # polling for the backend's socket and tap, bounded by the deadline
    return False


def tap_up(ns):
    return subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", TAP],
                          capture_output=True).returncode == 0


def testpmd_runs():
    """Why testpmd cannot run on this host, or None. Debian builds DPDK for SSE4.2: on a CPU
    without it (the nested test host's TCG model) every DPDK program dies of SIGILL."""
    if not os.path.exists(TESTPMD):
        return f"{TESTPMD} is missing (Debian package dpdk-dev)"
    try:
        rc = subprocess.run([TESTPMD, "-h"], capture_output=True, timeout=120).returncode
    except subprocess.TimeoutExpired:
        return None
    return "dpdk-testpmd dies of SIGILL on this CPU (DPDK needs SSE4.2)" \
        if rc == -signal.SIGILL else None


def run(t, check, vireo):
    why = testpmd_runs()
    if why:   # meson's exit status for a skipped test
        print(f"SKIP vhost-net: no vhost-user-net backend can run here: {why}", flush=True)
        raise SystemExit(77)
    try:
        checks(t, check, vireo)
    except Exception:
        path = os.path.join(t.work, "testpmd.log")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                print("--- testpmd.log (last 40 lines)\n" + "\n".join(f.read().splitlines()[-40:]))
        raise


def checks(t, check, vireo):
    ns = f"vunet{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    t.namespaces.append(ns)   # linux_test deletes it, after the peers are killed
    sock = os.path.join(t.work, "vhost-net.sock")
    p = start_testpmd(t, ns, sock)
    check(wait_for(lambda: os.path.exists(sock) and tap_up(ns), p, 300),
          "testpmd listens on the vhost-user socket and made its tap")
    for cmd in (f"ip addr add 192.0.2.1/24 dev {TAP}", f"ip link set {TAP} up"):
        subprocess.run(["ip", "netns", "exec", ns] + cmd.split(), check=True)
    spec = t.boot_spec(steps=["vnet"])
    spec.update(shared_memory=True, nets=[dict(vhost_socket=sock, mac=MAC)])
    v = t.start("vm", spec)
    if vireo:
        t.expect(v, "serial", r"vtest: user space", "the guest reached user space")
        st, body = v.api("vm.info", method="GET")
        nets = json.loads(body).get("config", {}).get("net", []) if st == 200 else []
        check(len(nets) == 1 and nets[0].get("vhost_user") is True and
              nets[0].get("vhost_socket") == sock and nets[0].get("vhost_mode") == "Client",
              f"vm.info: the net is vhost_user on the socket, Client ({nets})")
        snapshot_refused(t, v, check)
    _, _, m = t.expect(v, "serial", r"vtest: vnet eth0 mac (\S+) ping (\w+)",
                       "the guest brought eth0 up and pinged")
    check(m.group(1) == MAC, f"eth0 has the MAC the VMM was given ({m.group(1)})")
    check(m.group(2) == "ok", "the guest pinged 192.0.2.1 through testpmd and its tap")
    if vireo:
        st, body = v.api("vm.counters", method="GET")
        c = [d for d in json.loads(body).values() if "backend_broken" in d] if st == 200 else []
        check(len(c) == 1 and c[0]["backend_broken"] == 0 and c[0]["backend_activations"] == 1,
              f"vm.counters: the vhost-user net activated once, backend healthy ({c})")
    t.powered_off(v)

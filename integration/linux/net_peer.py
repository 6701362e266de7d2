#!/usr/bin/env python3
"""The host's end of the stock-Linux suite's net scenario, run inside the test's network
namespace (ip netns exec NS python3 net_peer.py ...):

  listen PORT TIMEOUT          accept one TCP connection, print "received BYTES MD5"
  send HOST PORT BYTES SEED TIMEOUT
                               connect (retrying while refused, until TIMEOUT), send BYTES
                               bytes derived from SEED, print "sent BYTES MD5"
  fds API_SOCKET ENDPOINT JSON TAP PAIRS
                               open the tap once per queue pair, as an orchestrator does
                               (Kata's clh driver), and send PUT ENDPOINT with body JSON and
                               the fds over SCM_RIGHTS (vm.add-net, vm.restore with
                               net_fds); print "status CODE BODY"
"""
import fcntl
import os
import struct
import hashlib
import random
import socket
import sys
import time


def listen(port, timeout):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(timeout)
    conn, _ = srv.accept()
    conn.settimeout(timeout)
    md5, n = hashlib.md5(), 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        md5.update(data)
        n += len(data)
    print(f"received {n} {md5.hexdigest()}", flush=True)


def send(host, port, size, seed, timeout):
    data = random.Random(seed).randbytes(size)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=timeout)
            break
        except (ConnectionRefusedError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)   # the guest's listener is starting: retry, bounded
    conn.sendall(data)
    conn.close()
    print(f"sent {size} {hashlib.md5(data).hexdigest()}", flush=True)


TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x0002, 0x1000, 0x4000, 0x0100


def open_tap(name, pairs):
    fds = []
    for _ in range(pairs):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (IFF_MULTI_QUEUE if pairs > 1 else 0)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        fds.append(fd)
    return fds


def put_with_fds(sock_path, endpoint, body, tap, pairs):
    fds = open_tap(tap, pairs)
    body = body.encode()
    req = (b"PUT /api/v1/%s HTTP/1.1\r\nHost: localhost\r\n" % endpoint.encode() +
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(300)
        s.connect(sock_path)
        socket.send_fds(s, [req], fds)   # the fds ride with the request line
        for fd in fds:
            os.close(fd)                 # vireo holds its own copies now
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    print(f"status {head.split()[1].decode()} {rest.decode(errors='replace')}", flush=True)


def main():
    if sys.argv[1] == "fds":
        put_with_fds(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    elif sys.argv[1] == "listen":
        listen(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
             float(sys.argv[6]))


if __name__ == "__main__":
    main()

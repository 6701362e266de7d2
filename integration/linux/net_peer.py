#!/usr/bin/env python3
"""The host's end of the stock-Linux suite's net scenario, run inside the test's network
namespace (ip netns exec NS python3 net_peer.py ...):

  listen PORT TIMEOUT          accept one TCP connection, print "received BYTES MD5"
  send HOST PORT BYTES SEED TIMEOUT
                               connect (retrying while refused, until TIMEOUT), send BYTES
                               bytes derived from SEED, print "sent BYTES MD5"
"""
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


def main():
    if sys.argv[1] == "listen":
        listen(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
             float(sys.argv[6]))


if __name__ == "__main__":
    main()

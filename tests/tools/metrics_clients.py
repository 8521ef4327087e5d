#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hostile and ordinary clients of the daemon's metrics port, for
tests/netns/test_metrics.sh. Each mode prints one line the test reads.

  get HOST PORT PATH [METHOD]   -> "status=N bytes=N"
  raw HOST PORT FILE            -> sends FILE's bytes, prints "status=N" (0: closed, no reply)
  slow HOST PORT SECONDS        -> sends half a request line, waits; prints "closed_after=S"
                                   (the server closed it) or "open" (still open after SECONDS)
  flood HOST PORT N HOLD        -> opens N connections, holds them HOLD seconds, closes;
                                   prints "opened=N"
"""
import resource
import socket
import sys
import time


def status_of(data):
    if not data.startswith(b"HTTP/1."):
        return 0
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def read_all(s, limit=5.0):
    s.settimeout(limit)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "get":
        method = sys.argv[5] if len(sys.argv) > 5 else "GET"
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(f"{method} {sys.argv[4]} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = read_all(s)
        body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
        print(f"status={status_of(data)} bytes={len(body)}")
    elif mode == "raw":
        payload = open(sys.argv[4], "rb").read()
        s = socket.create_connection((host, port), timeout=5)
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(f"status={status_of(read_all(s))}")
    elif mode == "slow":
        wait = float(sys.argv[4])
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /metr")
        start = time.monotonic()
        s.settimeout(wait)
        try:
            while s.recv(4096):
                pass
            print(f"closed_after={time.monotonic() - start:.1f}")
        except socket.timeout:
            print("open")
        except ConnectionResetError:
            print(f"closed_after={time.monotonic() - start:.1f}")
    elif mode == "flood":
        n, hold = int(sys.argv[4]), float(sys.argv[5])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
        conns = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
            conns.append(s)
        time.sleep(hold)
        for s in conns:
            s.close()
        print(f"opened={len(conns)}")
    else:
        sys.exit(f"unknown mode {mode}")


main()

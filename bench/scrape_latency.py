#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""N scrapes of http://HOST:PORT/metrics, each on a new connection, one after
another; prints one latency per line in milliseconds (connect to last byte)."""
import http.client
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read()
    c.close()
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200 or not body:
        sys.exit(f"scrape failed: status {r.status}")
    print(f"{dt:.3f}")

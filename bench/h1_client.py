#!/usr/bin/env python3
"""H1's weir client (bench/slurm_bench.sh): submits N trivial jobs over one keep-alive HTTP
connection, as a scheduler or Genie's Python client does, then polls until none is INIT or
RUNNING. Prints `submit_ms all_ms`, both from the first submission.

A curl process per job would measure curl's start-up (about 50 ms here), not weir: the raw
side's `sbatch` is Slurm's own client, this is the equivalent for weir's API.

Usage: h1_client.py HOST PORT JOBS
"""
import http.client
import json
import sys
import time


def main():
    host, port, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conn = http.client.HTTPConnection(host, port, timeout=60)
    body = json.dumps({
        "name": "b", "user": "bench", "version": "1",
        "clusterCriterias": [{"tags": ["sched:hpc"]}], "commandCriteria": ["type:bash"],
        "commandArguments": ["true"],
    })
    headers = {"Content-Type": "application/json"}
    t0 = time.monotonic()
    for _ in range(jobs):
        conn.request("POST", "/api/v3/jobs", body, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 202:
            sys.exit(f"h1_client: submission answered {r.status}")
    t1 = time.monotonic()
    while True:
        conn.request("GET", "/api/v3/jobs?status=INIT&status=RUNNING&size=1")
        r = conn.getresponse()
        page = json.loads(r.read())["page"]
        if page["totalElements"] == 0:
            break
        time.sleep(0.05)
    t2 = time.monotonic()
    print(int((t1 - t0) * 1000), int((t2 - t0) * 1000))


if __name__ == "__main__":
    main()

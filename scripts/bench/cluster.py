#!/usr/bin/env python3
"""The cluster scenario of `make bench` (`BENCH_SCENARIOS=cluster`, run by
scripts/bench/cluster.sh on the topology of scripts/cluster.sh): scenarios
(b) and (c) with wrk through PgBouncer against one and two instances, beside
the same scenarios on one instance connected to the primary directly, with
the statement cache on (as `make bench` runs) and off (to separate the cost
of the cache from that of PgBouncer).

Environment: BENCH_CLUSTER_ENV (scripts/cluster.sh's env file), BENCH_BIN
(the dealroom binary), BENCH_WRK, BENCH_OUT, BENCH_DURATION, BENCH_WARMUP,
BENCH_CONNECTIONS, BENCH_THREADS, BENCH_TIMEOUT, BENCH_POOL, BENCH_MESSAGES,
BENCH_BCRYPT_ROUNDS.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ)


def env(name, default=None):
    v = ENV.get(name, default)
    if v is None:
        sys.exit(f"bench: {name} is not set")
    return v


def say(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


CLUSTER = dict(l.split("=", 1) for l in open(env("BENCH_CLUSTER_ENV")).read().splitlines() if "=" in l)
DIR = CLUSTER["CLUSTER_DIR"]
BIN = env("BENCH_BIN")
WRK = env("BENCH_WRK")
OUT = env("BENCH_OUT")
DURATION = int(env("BENCH_DURATION", "10"))
WARMUP = int(env("BENCH_WARMUP", "3"))
CONNECTIONS = int(env("BENCH_CONNECTIONS", "64"))
THREADS = int(env("BENCH_THREADS", str(os.cpu_count() or 1)))
TIMEOUT = int(env("BENCH_TIMEOUT", "10"))
POOL = env("BENCH_POOL", str(2 * (os.cpu_count() or 1)))
MESSAGES = int(env("BENCH_MESSAGES", "1000"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROCS = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(base, method, path, body=None, token=None, expect=None):
    host, port = base.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    if expect is not None and resp.status != expect:
        sys.exit(f"bench: {method} {base}{path}: expected {expect}, got {resp.status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def direct_instance(name, cache):
    """One more instance, on the primary itself (no PgBouncer, no replica)."""
    port = free_port()
    e = {k: v for k, v in os.environ.items()}
    e.update(APP_ENV="development", HOST="127.0.0.1", PORT=str(port),
             DATABASE_URL=CLUSTER["DATABASE_DIRECT_URL"], DATABASE_DIRECT_URL="",
             DATABASE_REPLICA_URL="", DB_STATEMENT_CACHE=cache,
             MEDIA_DIR=os.path.join(DIR, "media"))
    log = open(os.path.join(OUT, f"cluster-{name}.log"), "w")
    p = subprocess.Popen([BIN, "serve"], env=e, stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(p)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            request(base, "GET", "/ready", expect=200)
            return base, p.pid
        except (OSError, SystemExit):
            time.sleep(0.1)
    sys.exit(f"bench: the direct instance ({name}) did not become ready")


def pid_of(path):
    try:
        return int(open(path).readline().strip())
    except (OSError, ValueError):
        return None


def tree(root):
    """`root` and its children (a postmaster's backends)."""
    if root is None:
        return []
    pids = [root]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == root:
                pids.append(int(d))
    return pids


def ticks(pids):
    total = 0
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total


def groups(instance_pids):
    return {
        "servers": instance_pids,
        "pgbouncer": [pid_of(os.path.join(DIR, "pgbouncer.pid"))],
        "primary": tree(pid_of(os.path.join(DIR, "primary", "postmaster.pid"))),
        "replica": tree(pid_of(os.path.join(DIR, "replica", "postmaster.pid"))),
    }


def wrk(base, req, seconds, connections):
    e = dict(os.environ)
    e.update(BENCH_METHOD=req["method"], BENCH_TOKEN=req["token"],
             BENCH_BODY=json.dumps(req["body"]) if req.get("body") else "",
             BENCH_BODY_FILE="", BENCH_CONTENT_TYPE="")
    cmd = [WRK, "-t", str(max(1, min(THREADS, connections))), "-c", str(connections),
           "-d", f"{seconds}s", "--timeout", f"{TIMEOUT}s", "--latency",
           "-s", os.path.join(HERE, "wrk.lua"), base + req["path"]]
    return subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse(p):
    out, _ = p.communicate()
    m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
    if p.returncode != 0 or not m:
        sys.exit(f"bench: wrk failed:\n{out}")
    return json.loads(m.group(1))


def run(targets, req):
    """Warm-up, then `DURATION` s with the connections split over `targets`."""
    each = max(1, CONNECTIONS // len(targets))
    if WARMUP:
        for p in [wrk(t, req, WARMUP, each) for t, _ in targets]:
            parse(p)
    g = groups([pid for _, pid in targets])
    before = {k: ticks(v) for k, v in g.items()}
    t0 = time.monotonic()
    results = [parse(p) for p in [wrk(t, req, DURATION, each) for t, _ in targets]]
    wall = time.monotonic() - t0
    cpu = {k: round(100 * (ticks(v) - before[k]) / CLK_TCK / wall) for k, v in g.items()}
    rps = sum(r["requests"] / (r["duration_us"] / 1e6) for r in results)
    pct = lambda q: max(r["latency_us"]["percentiles"][q] for r in results) / 1000
    return {
        "rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"),
        "non_2xx": sum(r["errors"]["status"] for r in results),
        "socket_errors": sum(r["errors"][k] for r in results for k in ("connect", "read", "write", "timeout")),
        "cpu_percent": cpu,
    }


def main():
    a, b = CLUSTER["INSTANCE_A"], CLUSTER["INSTANCE_B"]
    a_pid = pid_of(os.path.join(DIR, "instance-a.pid"))
    b_pid = pid_of(os.path.join(DIR, "instance-b.pid"))
    say(f"seeding through {a}: one user, one chat session, {MESSAGES} messages")
    reg = request(a, "POST", "/api/v1/auth/register",
                  {"email": "bench@example.com", "password": "bench password 1", "name": "Bench"}, expect=201)
    token = reg["data"]["tokens"]["accessToken"]
    session = request(a, "POST", "/api/v1/sessions", {"title": "Benchmark session"},
                      token=token, expect=201)["data"]["session"]["id"]
    path = f"/api/v1/sessions/{session}/messages"
    for i in range(MESSAGES):
        request(a, "POST", path, {"content": f"Seed message {i + 1}"}, token=token, expect=201)
    on = direct_instance("direct-cache-on", "on")
    off = direct_instance("direct-cache-off", "off")
    configs = [
        ("direct, cache on, 1 instance", [on]),
        ("direct, cache off, 1 instance", [off]),
        ("PgBouncer, cache off, 1 instance", [(a, a_pid)]),
        ("PgBouncer, cache off, 2 instances", [(a, a_pid), (b, b_pid)]),
    ]
    scenarios = [
        ("b", "GET messages?limit=50", {"method": "GET", "path": f"{path}?limit=50", "token": token}),
        ("c", "POST message", {"method": "POST", "path": path, "token": token,
                               "body": {"content": "Benchmark message: is the price still 120 EUR per unit?"}}),
    ]
    rows = []
    for key, label, req in scenarios:
        for name, targets in configs:
            say(f"{key}. {label}, {name}: {WARMUP} s warm-up, {DURATION} s measured")
            rows.append({"scenario": f"{key}. {label}", "setup": name, **run(targets, req)})
    json.dump({"pool": POOL, "connections": CONNECTIONS, "duration_s": DURATION, "rows": rows},
              open(os.path.join(OUT, "cluster-results.json"), "w"), indent=2)
    print(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"cluster: {CONNECTIONS} connections in all (split over the instances), DB pool {POOL} per instance, "
          f"PgBouncer pool_mode=transaction; {WARMUP} s warm-up + {DURATION} s per row; CPU in % of one core")
    print()
    head = f"{'scenario':24} {'setup':34} {'req/s':>7} {'p50':>8} {'p99':>8} {'non-2xx':>7} {'sock err':>8} " \
           f"{'srv CPU':>7} {'bouncer':>7} {'primary':>7} {'replica':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        c = r["cpu_percent"]
        print(f"{r['scenario']:24} {r['setup']:34} {r['rps']:7,.0f} {r['p50_ms']:6.1f}ms {r['p99_ms']:6.1f}ms "
              f"{r['non_2xx']:7} {r['socket_errors']:8} {c['servers']:6}% {c['pgbouncer']:6}% "
              f"{c['primary']:6}% {c['replica']:6}%")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in PROCS:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

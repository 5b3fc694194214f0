#!/usr/bin/env python3
"""The measuring half of `make bench` (scripts/bench/run.sh starts things).

Given a running `dealroom serve` (BENCH_SERVER_PID, BENCH_BASE_URL) on a fresh
database (BENCH_DATABASE_URL), it seeds one user with one chat session of
1000 messages, drives the server with wrk scenario by scenario, measures the
database ceilings with pgbench, prints one table and writes it as JSON.

Everything it needs comes from the environment that run.sh sets; it is not
meant to be run alone.
"""

import datetime
import http.client
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        die(f"{name} is not set (run this through scripts/bench/run.sh)")
    return value


CHILDREN = []  # wrk processes running, stopped if we die


def die(msg):
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def say(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


BASE_URL = env("BENCH_BASE_URL")
SERVER_PID = int(env("BENCH_SERVER_PID"))
DATABASE_URL = env("BENCH_DATABASE_URL")
OUT = env("BENCH_OUT")
WRK = env("BENCH_WRK")
PGBENCH = env("BENCH_PGBENCH")
DURATION = int(env("BENCH_DURATION"))
WARMUP = int(env("BENCH_WARMUP"))
CONNECTIONS = int(env("BENCH_CONNECTIONS"))
THREADS = int(env("BENCH_THREADS"))
TIMEOUT = int(env("BENCH_TIMEOUT"))
PG_DURATION = int(env("BENCH_PG_DURATION"))
POOL = int(env("BENCH_POOL"))
MESSAGES = int(env("BENCH_MESSAGES"))
BCRYPT_ROUNDS = int(env("BENCH_BCRYPT_ROUNDS"))
WORKERS = int(env("BENCH_WORKERS"))
SERVER_LOG = env("BENCH_SERVER_LOG")
# Which scenarios run: letters a-e (or "core" for all five), "media" (f-i),
# "events" (j-l), "search".
SCENARIOS = [x.strip() for x in env("BENCH_SCENARIOS", "core,media,events,search").split(",") if x.strip()]
if "core" in SCENARIOS:
    SCENARIOS += ["a", "b", "c", "d", "e", "scale"]
# "scale": (b) and (c) again once the database holds SCALE_MESSAGES more
# messages in SCALE_SESSIONS other sessions (the measured session keeps its
# 1000), with the hot statements' plans kept in OUT/explain-hot.txt.
SCALE_MESSAGES = int(env("BENCH_SCALE_MESSAGES", "1000000"))
SCALE_SESSIONS = int(env("BENCH_SCALE_SESSIONS", "1000"))
BCRYPT_BOUND = env("BENCH_BCRYPT_BOUND", "")
# "1": profile the server with `perf record -g` during the measured runs of
# (b) and (c) (and at scale); the top entries go to OUT/perf-<key>.txt. perf
# costs the server some CPU: the numbers of a profiled run are not the ones to
# report.
PERF = env("BENCH_PERF", "") == "1"
# 4: the DB pool's size on 2 cores (16 measured mostly queueing).
SEARCH_CONNECTIONS = int(env("BENCH_SEARCH_CONNECTIONS", "4"))
SEARCH_MESSAGES = int(env("BENCH_SEARCH_MESSAGES", "1000000"))
SEARCH_SESSIONS = int(env("BENCH_SEARCH_SESSIONS", "10000"))
SEARCH_USERS = int(env("BENCH_SEARCH_USERS", "1000"))
SEARCH_USER_SESSIONS = int(env("BENCH_SEARCH_USER_SESSIONS", "100"))
# A second user with this many sessions (100 messages each at the defaults:
# 100,000 messages), to show where the walk takes over from the GIN index.
SEARCH_BIG_SESSIONS = int(env("BENCH_SEARCH_BIG_SESSIONS", "1000"))
# The server's SEARCH_RANK_WINDOW, and the store's walk (crates/store/src/search.rs).
SEARCH_RANK_WINDOW = 500
SEARCH_WALK_BUDGET = 10_000
SEARCH_WALK_ABOVE = 20_000
# A word put in 5 % of the messages older than the newest 100,000, and in none
# of those: the case the walk cannot help (it falls through to the GIN path).
SEARCH_OLD_WORD = "zorblat"
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MEDIA_DIR = env("BENCH_MEDIA_DIR", "")
MEDIA_MAX_BYTES = int(env("BENCH_MEDIA_MAX_BYTES", str(10 * 1024 * 1024)))

EMAIL = "bench@example.com"
PASSWORD = "bench password 1"
MESSAGE_BODY = {"content": "Benchmark message: is the price still 120 EUR per unit?"}


# ------------------------------------------------------------------ the server


def server_alive():
    try:
        os.kill(SERVER_PID, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by run.sh) is not alive.
    try:
        with open(f"/proc/{SERVER_PID}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except FileNotFoundError:
        return False
    return True


def server_died():
    tail = ""
    try:
        with open(SERVER_LOG) as f:
            tail = "".join(f.readlines()[-20:])
    except OSError:
        pass
    why = ""
    if re.search(r"SIG(TERM|INT) received", tail):
        why = " (a SIGTERM or SIGINT from outside the benchmark stopped it)"
    die(f"the server exited{why}; the end of its log ({os.path.relpath(SERVER_LOG)}):\n{tail}")


def proc_status(field):
    """A `kB` field of /proc/<server>/status, in KiB (None if gone)."""
    try:
        with open(f"/proc/{SERVER_PID}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class RssSampler:
    """The server's largest VmRSS while a scenario runs, sampled every 50 ms."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss = proc_status("VmRSS")
            if rss is not None:
                self.peak = max(self.peak, rss)
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_PIDFILE = os.path.join(env("BENCH_PG_DATA"), "postmaster.pid")


def cpu_ticks(pid, children=False):
    """utime + stime of a process, in clock ticks (0 if gone); with
    `children`, plus those of its children that exited and were reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15 if children else 13])
    except (OSError, IndexError, ValueError):
        return 0


def postgres_pids():
    """The postmaster of scripts/pg.sh's cluster and its children (backends)."""
    try:
        with open(PG_PIDFILE) as f:
            master = int(f.readline())
    except (OSError, ValueError):
        return []
    pids = [master]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return pids


class CpuMeter:
    """CPU used while a step runs, in % of one core (200% = two cores busy):
    by the server, by PostgreSQL, by the load generators (wrk, pgbench: our
    children, measured once they have exited) and by everything else on the
    machine (`other`: much more than a few % means the numbers are noisy)."""

    def __enter__(self):
        self.t0 = time.monotonic()
        self.server0 = cpu_ticks(SERVER_PID)
        self.pg0 = self._pg()
        self.pg_count = len(self.pg0)
        self.host0 = self._host()
        self.children0 = self._children()
        return self

    def __exit__(self, *exc):
        secs = time.monotonic() - self.t0
        # Backends that appeared during the step (pgbench's) count from zero;
        # those that ended count through the postmaster's children's times,
        # once it has reaped them: wait for that (a moment after pgbench).
        deadline = time.monotonic() + 3
        while len(postgres_pids()) > self.pg_count and time.monotonic() < deadline:
            time.sleep(0.02)
        pg1 = self._pg()
        pg = sum(max(0, t - self.pg0.get(p, 0)) for p, t in pg1.items())
        pct = lambda ticks: 100 * ticks / CLK_TCK / secs  # noqa: E731
        server = pct(cpu_ticks(SERVER_PID) - self.server0)
        postgres = pct(pg)
        load = 100 * (self._children() - self.children0) / secs
        host = pct(self._host() - self.host0)
        self.result = {
            "server_pct": round(server, 1),
            "postgres_pct": round(postgres, 1),
            "load_generator_pct": round(load, 1),
            "host_pct": round(host, 1),
            "other_pct": round(max(0.0, host - server - postgres - load), 1),
        }

    @staticmethod
    def _children():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    @staticmethod
    def _pg():
        pids = postgres_pids()
        return {p: cpu_ticks(p, children=(i == 0)) for i, p in enumerate(pids)}

    @staticmethod
    def _host():
        """Ticks all CPUs spent in processes (user, nice, system): interrupts
        (the network's softirqs) and steal belong to no process."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[0] + v[1] + v[2]


def vacuum():
    """VACUUM ANALYZE: each step starts from a table state that does not depend
    on the steps before it (the posts leave dead session rows behind)."""
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", DATABASE_URL,
                    "-c", "VACUUM ANALYZE"], check=True, stdout=subprocess.DEVNULL)


class Client:
    """A keep-alive HTTP client for the setup requests."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, body=None, token=None, expect=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.conn.close()
                self.conn = None
                if attempt == 2 or not server_alive():
                    if not server_alive():
                        server_died()
                    die(f"{method} {path}: {e}")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if expect is not None and resp.status != expect:
            die(f"{method} {path}: expected {expect}, got {resp.status}: {raw[:500]!r}")
        return resp.status, parsed


def wait_for_health(client, timeout=60):
    say(f"waiting for {BASE_URL}/health")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_alive():
            server_died()
        try:
            conn = http.client.HTTPConnection(client.host, client.port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    die(f"the server did not answer GET /health with 200 within {timeout} s (log: {SERVER_LOG})")


def seed(client, messages):
    say(f"seeding: one user, one chat session, {messages} messages (over HTTP)")
    t0 = time.monotonic()
    _, reg = client.request(
        "POST", "/api/v1/auth/register",
        {"email": EMAIL, "password": PASSWORD, "name": "Bench"}, expect=201)
    data = reg["data"]
    token = data["tokens"]["accessToken"]
    user_id = data["user"]["id"]
    login_session_id = data["loginSession"]["id"]
    _, created = client.request(
        "POST", "/api/v1/sessions", {"title": "Benchmark session"}, token=token, expect=201)
    session_id = created["data"]["session"]["id"]
    path = f"/api/v1/sessions/{session_id}/messages"
    for i in range(messages):
        client.request("POST", path, {"content": f"Seed message {i + 1}"}, token=token, expect=201)
    # Check what the scenarios will ask before driving them.
    _, page = client.request("GET", f"{path}?limit=50", token=token, expect=200)
    items = page["data"]["items"]
    if len(items) != min(50, messages):
        die(f"GET {path}?limit=50 returned {len(items)} messages, expected {min(50, messages)}")
    client.request("POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}, expect=200)
    say(f"seeded in {time.monotonic() - t0:.1f} s")
    return {"user_id": user_id, "login_session_id": login_session_id,
            "session_id": session_id, "token": token}


# ------------------------------------------------------------------ wrk


def wrk_cmd(path, duration, connections):
    threads = max(1, min(THREADS, connections))
    return [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--timeout", f"{TIMEOUT}s", "--latency", "-s", os.path.join(HERE, "wrk.lua"),
            BASE_URL + path]


def wrk_env(req):
    e = dict(os.environ)
    e["BENCH_METHOD"] = req["method"]
    e["BENCH_BODY"] = json.dumps(req["body"]) if req.get("body") is not None else ""
    e["BENCH_TOKEN"] = req.get("token") or ""
    e["BENCH_BODY_FILE"] = req.get("body_file") or ""
    e["BENCH_CONTENT_TYPE"] = req.get("content_type") or ""
    return e


def start_wrk(req, duration, connections, raw_name):
    cmd = wrk_cmd(req["path"], duration, connections)
    raw = open(os.path.join(OUT, raw_name), "w") if raw_name else subprocess.DEVNULL
    if raw_name:
        raw.write("$ " + " ".join(cmd) + "\n")
        raw.flush()
    p = subprocess.Popen(cmd, env=wrk_env(req), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    CHILDREN.append(p)
    return p, raw, cmd


def finish_wrk(p, raw, cmd, name, warmup=False):
    out, _ = p.communicate()
    if raw is not subprocess.DEVNULL:
        raw.write(out)
        raw.close()
    if p.returncode != 0:
        die(f"wrk failed for {name} (exit {p.returncode}):\n{out}")
    if not server_alive():
        server_died()
    if warmup:
        return None
    m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
    if not m:
        die(f"no BENCH_JSON line in wrk's output for {name}:\n{out}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    pct = r["latency_us"]["percentiles"]
    e = r["errors"]
    # No completed request (a run shorter than one slow request): no latencies.
    ms = (lambda us: us / 1000) if r["requests"] else (lambda us: None)
    return {
        "requests": r["requests"],
        "duration_s": round(secs, 3),
        "rps": r["requests"] / secs,
        "latency_ms": {
            "p50": ms(pct["50"]), "p75": ms(pct["75"]), "p90": ms(pct["90"]),
            "p99": ms(pct["99"]), "p99.9": ms(pct["99.9"]),
            "mean": ms(r["latency_us"]["mean"]), "max": ms(r["latency_us"]["max"]),
        },
        # wrk counts a response with a status >= 400 as a "status" error; the
        # others are socket errors (connect, read, write) and timeouts.
        "non_2xx": e["status"],
        "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "errors": e,
        "bytes": r["bytes"],
        "command": " ".join(cmd),
    }


def settle(limit=30.0):
    """Waits until the server is idle (under 5% of a core over half a second,
    at most `limit` seconds): requests that wrk abandoned when it stopped (a
    login queue, say) are still being served, and would otherwise be counted
    against the next step."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_ticks(SERVER_PID)
        time.sleep(0.5)
        if (cpu_ticks(SERVER_PID) - before) / CLK_TCK < 0.025:
            return
    say(f"the server was still busy after {limit:.0f} s; measuring anyway")


def run_scenario(key, label, reqs, connections, profile=True):
    """Warm-up, then the measured run. `reqs` (one or more requests) run
    side by side, each with its own wrk and `connections` connections. Each
    phase starts on an idle server."""
    say(f"{label}: {WARMUP} s warm-up, {DURATION} s measured")
    settle()
    if WARMUP > 0:
        ps = [start_wrk(r, WARMUP, connections, None) for r in reqs]
        for p, raw, cmd in ps:
            finish_wrk(p, raw, cmd, f"{key} warm-up", warmup=True)
        settle()
    vacuum()
    profiler = start_perf(key) if profile else None
    with RssSampler() as rss, CpuMeter() as cpu:
        ps = [start_wrk(r, DURATION, connections,
                        f"wrk-{key}{'' if i == 0 else '-' + r['tag']}.txt")
              for i, r in enumerate(reqs)]
        results = [finish_wrk(p, raw, cmd, key) for p, raw, cmd in ps]
    finish_perf(key, profiler)
    for res in results:
        res["rss_peak_kib"] = rss.peak
        res["cpu"] = cpu.result
    return results


def start_perf(key):
    if not PERF or key.split("@")[0] not in ("b", "c"):
        return None
    data = os.path.join(OUT, f"perf-{key}.data")
    return subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(SERVER_PID),
                             "-o", data, "--", "sleep", str(DURATION)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), data


def finish_perf(key, profiler):
    if profiler is None:
        return
    p, data = profiler
    p.wait()
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                             "--percent-limit", "0.7", "--sort", "dso,symbol", "-g", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    with open(os.path.join(OUT, f"perf-{key}.txt"), "w") as f:
        f.write(report.stdout)
    say(f"profile of ({key}): {os.path.relpath(os.path.join(OUT, f'perf-{key}.txt'))}")


# ------------------------------------------------------------------ pgbench


# Pairs per scenario with a pgbench ceiling: the scenario and its ceiling run
# one after the other this many times, and the pair with the median ratio is
# reported (all pairs are in results.json). On this shared 2-core VM the
# machine's speed drifts by a third from one minute to the next, so a ratio
# compares two runs made within seconds of each other, never the best of one
# side with a single run of the other.
PG_RUNS = int(env("BENCH_PG_RUNS", "3"))


def run_pgbench(key, script, ids, i=0):
    """One pgbench run of `script`: the database's ceiling for `key`."""
    clients = POOL
    jobs = max(1, min(2, clients))
    cmd = [PGBENCH, "-n", "-M", "prepared", "-c", str(clients), "-j", str(jobs),
           "-T", str(PG_DURATION), "-f", os.path.join(HERE, script),
           "-D", f"uid={ids['user_id']}", "-D", f"sid={ids['login_session_id']}",
           "-D", f"session={ids['session_id']}", DATABASE_URL]
    say(f"pgbench ceiling of ({key}): {script}, {clients} clients, {jobs} threads, "
        f"{PG_DURATION} s (pair {i + 1} of {max(1, PG_RUNS)})")
    # The plan mode every pool connection of the server sets (crates/store/src/pool.rs).
    pg_env = dict(os.environ, PGOPTIONS="-c plan_cache_mode=force_generic_plan")
    shown = "PGOPTIONS='-c plan_cache_mode=force_generic_plan' " + " ".join(cmd)
    vacuum()
    with CpuMeter() as cpu:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=pg_env)
    with open(os.path.join(OUT, f"pgbench-{key}{'' if i == 0 else '-' + str(i + 1)}.txt"), "w") as f:
        f.write("$ " + shown + "\n" + p.stdout)
    if p.returncode != 0:
        die(f"pgbench failed for ({key}) (exit {p.returncode}):\n{p.stdout}")
    m = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", p.stdout, re.M)
    if not m:
        die(f"no tps line in pgbench's output for ({key}):\n{p.stdout}")
    lat = re.search(r"^latency average = ([0-9.]+) ms", p.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", p.stdout, re.M)
    tx = re.search(r"^number of transactions actually processed: (\d+)", p.stdout, re.M)
    return {
        "script": f"scripts/bench/{script}",
        "tps": float(m.group(1)),
        "latency_avg_ms": float(lat.group(1)) if lat else None,
        "transactions": int(tx.group(1)) if tx else None,
        "failed": int(failed.group(1)) if failed else 0,
        "clients": clients,
        "threads": jobs,
        "duration_s": PG_DURATION,
        "cpu": cpu.result,
    }


def run_paired(key, label, reqs, connections, script, ids):
    """The scenario and its pgbench ceiling, alternated PG_RUNS times; the
    pair with the median ratio, with every pair's figures attached."""
    pairs = []
    for i in range(max(1, PG_RUNS)):
        results = run_scenario(key, label if i == 0 else f"{label} (pair {i + 1})", reqs,
                               connections, profile=i == 0)
        ceiling = run_pgbench(key, script, ids, i)
        pairs.append((results, ceiling))
    ranked = sorted(pairs, key=lambda p: p[0][0]["rps"] / p[1]["tps"])
    results, ceiling = ranked[len(ranked) // 2]
    ceiling["pairs"] = [{"rps": round(r[0]["rps"], 1), "tps": round(c["tps"], 1),
                         "ratio": round(r[0]["rps"] / c["tps"], 4)} for r, c in pairs]
    return results, ceiling


def run_bcrypt_bound():
    """(d)'s ceiling: bcrypt verifications per second on every core, at the
    server's cost, by the same crate (scripts/bench/bcrypt-bound)."""
    say(f"bcrypt ceiling of (d): every core verifying at cost {BCRYPT_ROUNDS} for {PG_DURATION} s")
    settle()
    with CpuMeter() as cpu:
        p = subprocess.run([BCRYPT_BOUND, str(BCRYPT_ROUNDS), str(PG_DURATION)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(OUT, "bcrypt-bound-d.txt"), "w") as f:
        f.write(p.stdout)
    if p.returncode != 0:
        die(f"bcrypt-bound failed (exit {p.returncode}):\n{p.stdout}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"script": "scripts/bench/bcrypt-bound", "tps": r["per_second"],
            "threads": r["threads"], "duration_s": r["seconds"], "kind": "bcrypt",
            "cpu": cpu.result}


def scale_seed(ids):
    """SCALE_MESSAGES messages in SCALE_SESSIONS sessions of another user, by
    INSERT ... SELECT; then the hot statements' generic plans, explained."""
    say(f"seeding at scale: {SCALE_MESSAGES:,} messages in {SCALE_SESSIONS:,} sessions (INSERT ... SELECT)")
    t0 = time.monotonic()
    per = max(1, SCALE_MESSAGES // SCALE_SESSIONS)
    # Triggers and foreign-key checks off for the bulk insert (the owner of
    # each message is written directly; every row is consistent by
    # construction): the bench's own superuser connection only.
    psql("-c", f"""
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO users (id, email, name, password_hash, role)
VALUES ('00000000-0000-7000-8000-00000000b16b', 'scale@example.com', 'Scale', 'x', 'user');
CREATE TEMP TABLE scale_sessions ON COMMIT DROP AS
  SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, {SCALE_SESSIONS}) g;
INSERT INTO chat_sessions (id, user_id, title, message_seq, message_count, created_at, updated_at)
  SELECT id, '00000000-0000-7000-8000-00000000b16b', 'Scale session ' || n, {per}, {per}, now(), now()
  FROM scale_sessions;
INSERT INTO messages (id, session_id, owner_id, seq, sender_id, role, kind, content, created_at)
  SELECT gen_random_uuid(), s.id, '00000000-0000-7000-8000-00000000b16b', g,
         '00000000-0000-7000-8000-00000000b16b', 'user', 'text',
         'Scale message ' || g || ' of session ' || s.n, now() - interval '1 day' + g * interval '1 ms'
  FROM scale_sessions s CROSS JOIN generate_series(1, {per}) g;
COMMIT;
ANALYZE;
""")
    seconds = time.monotonic() - t0
    say(f"seeded at scale in {seconds:.1f} s")
    psql_explain_hot(ids)
    return seconds


def psql_explain_hot(ids):
    """EXPLAIN (ANALYZE, BUFFERS) of the hot statements as the server runs
    them: prepared, under plan_cache_mode = force_generic_plan (what every
    pool connection sets), so the plan shown is the one kept."""
    out = psql("-v", f"uid={ids['user_id']}", "-v", f"sid={ids['login_session_id']}",
               "-v", f"session={ids['session_id']}",
               "-f", os.path.join(HERE, "explain-hot.sql"), capture=True)
    with open(os.path.join(OUT, "explain-hot.txt"), "w") as f:
        f.write(out)
    if "Seq Scan on messages" in out:
        die(f"a hot statement's kept plan scans messages: {os.path.join(OUT, 'explain-hot.txt')}")


# ------------------------------------------------------------------ search


def psql(*args, capture=False):
    """psql on the benchmark database; stops the benchmark on an error."""
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", DATABASE_URL, *args],
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        die(f"psql {' '.join(args)[:200]}: {p.stderr}")
    return p.stdout


def psql_value(sql):
    return psql("-At", "-c", sql, capture=True).strip()


def search_seed(client):
    """A user with SEARCH_USER_SESSIONS sessions, a big user with
    SEARCH_BIG_SESSIONS and an agent (over HTTP), then SEARCH_MESSAGES
    messages over SEARCH_SESSIONS sessions of SEARCH_USERS users (SQL:
    scripts/bench/search-seed.sql), a word common long ago only, and the
    search index."""
    tokens = {}
    ids = {}
    for who in ("user", "big", "agent"):
        _, reg = client.request(
            "POST", "/api/v1/auth/register",
            {"email": f"search-{who}@example.com", "password": PASSWORD, "name": who},
            expect=201)
        tokens[who] = reg["data"]["tokens"]["accessToken"]
        ids[who] = reg["data"]["user"]["id"]
    psql("-c", f"UPDATE users SET role = 'agent' WHERE id = '{ids['agent']}'")
    say(f"seeding search: {SEARCH_MESSAGES:,} messages over {SEARCH_SESSIONS:,} sessions of "
        f"{SEARCH_USERS:,} users (SQL, scripts/bench/search-seed.sql)")
    t0 = time.monotonic()
    common = ["-v", f"user_id={ids['user']}", "-v", f"big_id={ids['big']}",
              "-v", f"sender={ids['user']}",
              "-v", f"users={SEARCH_USERS}", "-v", f"sessions={SEARCH_SESSIONS}",
              "-v", f"messages={SEARCH_MESSAGES}", "-v", f"user_sessions={SEARCH_USER_SESSIONS}",
              "-v", f"big_sessions={SEARCH_BIG_SESSIONS}"]
    psql(*common, "-f", os.path.join(HERE, "search-seed.sql"))
    # The messages in one part per core, side by side, then the indexes once.
    parts = os.cpu_count() or 1
    procs = [subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", DATABASE_URL, *common,
         "-v", f"part={i}", "-v", f"parts={parts}",
         "-f", os.path.join(HERE, "search-seed-messages.sql")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(parts)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            die(f"seeding messages: {err}")
    # The messages are numbered by time (createdAt = 30 days ago + n s).
    psql("-c", f"UPDATE messages SET content = content || ' {SEARCH_OLD_WORD}' "
               f"WHERE created_at < (SELECT min(created_at) FROM (SELECT created_at FROM messages "
               f"ORDER BY created_at DESC LIMIT 100000) n) AND hashtext(id::text) % 20 = 0")
    psql("-c", "ALTER TABLE messages ENABLE TRIGGER messages_set_owner",
         "-c", "SET maintenance_work_mem = '256MB'",
         *[arg for sql in search_index_sqls() for arg in ("-c", sql)])
    seed_s = time.monotonic() - t0
    say(f"seeded in {seed_s:.1f} s")
    vacuum()
    return tokens, ids, seed_s


# The migrations of the search's indexes, in order: the GIN of the words, the
# time B-trees of the walk.
SEARCH_INDEXES = ("messages_search_idx", "messages_time_idx", "messages_owner_time_idx")


def search_index_sqls(names=SEARCH_INDEXES):
    """The migrations' CREATE INDEX of `names`, without CONCURRENTLY (nothing
    else writes while the benchmark seeds)."""
    import glob
    out = []
    for name in names:
        [path] = glob.glob(os.path.join(ROOT, "migrations", f"*_{name}", "up.sql"))
        with open(path) as f:
            sql = "\n".join(line for line in f.read().splitlines() if not line.startswith("--"))
        out.append(sql.replace("CONCURRENTLY ", "").strip())
    return out


def pick_words():
    """A rare word (about 100 messages), the most common word that is not a
    stop word, words in about 0.5 % and about 3 % of messages (the walk's
    worst cases), the old word, a two-word phrase of common words, and a title
    fragment. Frequencies from ts_stat over every message."""
    say("counting word frequencies (ts_stat)")
    rows = psql("-At", "-F", "\t", "-c",
                "SELECT word, ndoc FROM ts_stat('SELECT search FROM messages') "
                "WHERE word ~ '^[a-z]+$' ORDER BY ndoc DESC", capture=True)
    freq = [(w, int(n)) for w, n in (r.split("\t") for r in rows.splitlines() if r)]

    def nearest(share):
        want = SEARCH_MESSAGES * share
        return min((f for f in freq if f[0] != SEARCH_OLD_WORD),
                   key=lambda f: abs(f[1] - want))[0]

    return {"rare": nearest(100 / SEARCH_MESSAGES), "common": "price",
            "half_pct": nearest(0.005), "three_pct": nearest(0.03),
            "old": SEARCH_OLD_WORD, "phrase": '"price delivery"', "title": "ship"}


def count_hits(q):
    return int(psql_value(
        "SELECT count(*) FROM messages WHERE search @@ websearch_to_tsquery('english', "
        + "'" + q.replace("'", "''") + "')"))


def sql_lit(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def search_statement(name, scope):
    """A search statement of crates/store/src (search_walk.sql,
    search_exact.sql) for a scope, as crates/store/src/search.rs makes it."""
    with open(os.path.join(ROOT, "crates", "store", "src", f"search_{name}.sql")) as f:
        template = f.read()
    condition = {"all": "true", "owner": "m.owner_id = $3::uuid",
                 "session": "m.owner_id = $3::uuid AND m.session_id = $4::uuid"}[scope]
    return template.replace("/* scope */ true", condition)


EXECUTION_TIME = re.compile(r"Execution Time: ([0-9.]+) ms")
TOP_ROWS = re.compile(r"actual time=[0-9.]+\.\.[0-9.]+ rows=(\d+)")


def explain_search(name, q, owner, scope_size, sort):
    """What the server runs for one search's first page (crates/store/src/
    search.rs), each statement EXPLAIN (ANALYZE, BUFFERS)ed with generic plans
    into OUT/explain-search-<name>.txt: the walk when the scope is large, the
    exact statement when the walk does not fill the page (or at once), then
    the page's hits. Returns the database's execution time, summed, and which
    statements ran (each the median of three runs). Fails the benchmark on a
    plan that reads `messages` sequentially or ANDs the GIN scan with a time
    index."""
    scope = "owner" if owner else "all"
    ranked = sort == "relevance"
    limit = SEARCH_RANK_WINDOW + 1 if ranked else 51
    far, epoch = "'9999-12-31T00:00:00Z'", "'1970-01-01T00:00:00Z'"
    args = (f"'english'::regconfig::oid, {sql_lit(q)}, {sql_lit(owner)}::uuid, NULL, "
            f"{far}, 'ffffffff-ffff-ffff-ffff-ffffffffffff', {epoch}, "
            f"'00000000-0000-0000-0000-000000000000', {limit}")
    head = ("SET plan_cache_mode = force_generic_plan;\nSET jit = off;\n"
            "SET max_parallel_workers_per_gather = 0;\n")
    types = "oid, text, uuid, uuid, timestamptz, uuid, timestamptz, uuid, bigint"

    def run(label, statement, prepare_types, execute_args):
        """The statement's EXPLAIN (ANALYZE, BUFFERS), run three times: the
        median's plan and time (the first run may read what later ones find
        in the cache)."""
        script = (head + f"PREPARE s({prepare_types}) AS\n{statement};\n"
                  + f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE s({execute_args});\n" * 3)
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", DATABASE_URL],
                           input=script, capture_output=True, text=True)
        if p.returncode != 0:
            die(f"EXPLAIN of {name} {label}: {p.stderr}")
        plans = [pl for pl in re.split(r"(?m)^(?=\s*QUERY PLAN\s*$)", p.stdout) if "Execution Time" in pl]
        if "Seq Scan on messages" in p.stdout:
            die(f"search {name} ({label}) reads messages sequentially:\n{p.stdout}")
        if "BitmapAnd" in p.stdout:
            die(f"search {name} ({label}) ANDs the GIN scan with another index:\n{p.stdout}")
        timed = sorted((float(EXECUTION_TIME.search(pl).group(1)), pl) for pl in plans)
        ms, plan = timed[len(timed) // 2]
        m = TOP_ROWS.search(plan)
        return ms, int(m.group(1)) if m else 0, plan

    out, total, steps = [], 0.0, []
    walk = scope == "all" or scope_size > SEARCH_WALK_ABOVE
    rows = 0
    if walk:
        ms, rows, plan = run("walk", search_statement("walk", scope), types + ", bigint, bool",
                             f"{args}, {SEARCH_WALK_BUDGET}, {str(ranked).lower()}")
        out.append(f"-- walk: {ms:.2f} ms, {rows} matches\n{plan}")
        total += ms
        steps.append("walk")
    if not walk or rows < limit:
        ms, rows, plan = run("exact", search_statement("exact", scope), types + ", bool",
                             f"{args}, {str(ranked).lower()}")
        out.append(f"-- exact: {ms:.2f} ms\n{plan}")
        total += ms
        steps.append("exact")
    # The hits of the first page: its ids, then the snippets' statement.
    with open(os.path.join(ROOT, "crates", "store", "src", "search_hits.sql")) as f:
        hits_sql = f.read()
    scope_sql = "" if not owner else f"AND m.owner_id = {sql_lit(owner)}"
    page = psql("-At", "-F", ",", "-c",
                f"SELECT m.session_id, m.id FROM messages m, websearch_to_tsquery('english', {sql_lit(q)}) q "
                f"WHERE m.search @@ q {scope_sql} ORDER BY m.created_at DESC, m.id DESC LIMIT 50",
                capture=True).split()
    sessions = "ARRAY[" + ",".join(sql_lit(p.split(",")[0]) for p in page) + "]::uuid[]"
    ids = "ARRAY[" + ",".join(sql_lit(p.split(",")[1]) for p in page) + "]::uuid[]"
    if page:
        ms, _, plan = run("hits", hits_sql, "oid, text, uuid[], uuid[]",
                          f"'english'::regconfig::oid, {sql_lit(q)}, {sessions}, {ids}")
        out.append(f"-- hits: {ms:.2f} ms\n{plan}")
        total += ms
        steps.append("hits")
    with open(os.path.join(OUT, f"explain-search-{name}.txt"), "w") as f:
        f.write(f"-- q = {q!r}, owner = {owner}, scope size {scope_size:,}, sort = {sort}, "
                f"database time {total:.2f} ms ({' + '.join(steps)})\n" + "\n".join(out))
    return round(total, 2), steps


def explain_title(name, q, owner):
    """EXPLAIN (ANALYZE, BUFFERS) of the title search (the query Diesel builds
    for GET /sessions?q=, written out)."""
    sql = ("EXPLAIN (ANALYZE, BUFFERS) SELECT chat_sessions.*, vendors.* FROM chat_sessions "
           "LEFT JOIN vendors ON vendors.session_id = chat_sessions.id "
           f"WHERE chat_sessions.user_id = '{owner}' AND chat_sessions.title ILIKE '%{q}%' "
           "ORDER BY chat_sessions.updated_at DESC, chat_sessions.id DESC LIMIT 51")
    with open(os.path.join(OUT, f"explain-{name}.txt"), "w") as f:
        f.write(f"-- q = {q!r}, owner = {owner}\n" + psql("-c", sql, capture=True))


SEARCH_KINDS = ("rare", "common", "half_pct", "three_pct", "old", "phrase")
# Targets (database time of one search, worst word of SEARCH_KINDS but the old
# word; HTTP p99 at SEARCH_CONNECTIONS connections).
SEARCH_DB_TARGET_MS = {("user", "recent"): 10, ("user", "relevance"): 10,
                       ("agent", "recent"): 40, ("agent", "relevance"): 100}
SEARCH_P99_TARGET_MS = {("user", "recent"): 50, ("user", "relevance"): 50,
                        ("agent", "recent"): 100, ("agent", "relevance"): 300}


def run_search(client):
    tokens, ids, seed_s = search_seed(client)
    words = pick_words()
    hits = {k: count_hits(words[k]) for k in SEARCH_KINDS}
    sizes = {"user": int(psql_value(f"SELECT count(*) FROM messages WHERE owner_id = '{ids['user']}'")),
             "big": int(psql_value(f"SELECT count(*) FROM messages WHERE owner_id = '{ids['big']}'")),
             "agent": SEARCH_MESSAGES}
    q = urllib.parse.quote
    results = []
    db = {}
    # The database's time for each search, as the server runs it.
    for who in ("user", "big", "agent"):
        owner = None if who == "agent" else ids[who]
        for sort in ("recent", "relevance"):
            for kind in SEARCH_KINDS:
                ms, steps = explain_search(f"{who}-{sort}-{kind}", words[kind], owner, sizes[who], sort)
                db[f"{who}/{sort}/{kind}"] = {"ms": ms, "steps": steps}
                say(f"  {who} {sort} {kind} ({words[kind]!r}, {hits[kind]:,} matches): "
                    f"{ms:.2f} ms database ({' + '.join(steps)})")
    # HTTP latency: the worst word of each (who, sort) but the old word, and the common word.
    for who in ("user", "big", "agent"):
        for sort in ("recent", "relevance"):
            worst = max((k for k in SEARCH_KINDS if k != "old"),
                        key=lambda k: db[f"{who}/{sort}/{k}"]["ms"])
            for kind in dict.fromkeys((worst, "common")):
                key = f"s-{who}-{sort}-{kind}"
                path = f"/api/v1/messages/search?q={q(words[kind])}&sort={sort}"
                client.request("GET", path, token=tokens[who], expect=200)
                req = {"method": "GET", "path": path, "token": tokens[who], "tag": key}
                res = run_scenario(key, f"{who}: {sort}, {kind} word", [req], SEARCH_CONNECTIONS)[0]
                res.update({"key": key,
                            "label": f"s. {who}: {sort}, {kind.replace('_', ' ')} word"
                                     + (" (worst)" if kind == worst else ""),
                            "method": "GET", "path": path, "connections": SEARCH_CONNECTIONS,
                            "ceiling": None, "ratio": None,
                            "db_ms": db[f"{who}/{sort}/{kind}"]["ms"]})
                results.append(res)
    for who in ("user", "agent"):
        key = f"s-{who}-title"
        path = f"/api/v1/sessions?q={q(words['title'])}"
        if who == "agent":
            path += f"&userId={ids['user']}"
        client.request("GET", path, token=tokens[who], expect=200)
        req = {"method": "GET", "path": path, "token": tokens[who], "tag": key}
        res = run_scenario(key, f"{who}: title", [req], SEARCH_CONNECTIONS)[0]
        res.update({"key": key, "label": f"s. {who}: title search", "method": "GET",
                    "path": path.replace(ids["user"], "{userId}"), "connections": SEARCH_CONNECTIONS,
                    "ceiling": None, "ratio": None})
        explain_title(f"{who}-title", words["title"], ids["user"])
        results.append(res)

    # Posting (as scenario c) with the search indexes, then without the two
    # time B-trees, then without any.
    session = psql_value(
        f"SELECT id FROM chat_sessions WHERE user_id = '{ids['user']}' ORDER BY id LIMIT 1")
    post = {"method": "POST", "path": f"/api/v1/sessions/{session}/messages",
            "body": MESSAGE_BODY, "token": tokens["user"], "tag": "post"}
    runs = []
    with_all = run_scenario("s-post-index", "post, with the search indexes", [post], CONNECTIONS)[0]
    runs.append((with_all, "s-post-index", "c. POST, 1M messages, all search indexes"))
    psql("-c", "DROP INDEX messages_time_idx", "-c", "DROP INDEX messages_owner_time_idx")
    no_time = run_scenario("s-post-notime", "post, without the time B-trees", [post], CONNECTIONS)[0]
    runs.append((no_time, "s-post-notime", "c. POST, 1M messages, no time B-trees"))
    psql("-c", "DROP INDEX messages_search_idx")
    without = run_scenario("s-post-noindex", "post, without any", [post], CONNECTIONS)[0]
    runs.append((without, "s-post-noindex", "c. POST, 1M messages, no search index"))
    for res, key, label in runs:
        res.update({"key": key, "label": label, "method": "POST",
                    "path": "/api/v1/sessions/{id}/messages", "connections": CONNECTIONS,
                    "ceiling": None, "ratio": None})
        results.append(res)
    say("rebuilding the search indexes")
    psql("-c", "SET maintenance_work_mem = '256MB'",
         *[arg for sql in search_index_sqls() for arg in ("-c", sql)])
    targets = []
    for (who, sort), target in SEARCH_DB_TARGET_MS.items():
        worst = max((k for k in SEARCH_KINDS if k != "old"), key=lambda k: db[f"{who}/{sort}/{k}"]["ms"])
        ms = db[f"{who}/{sort}/{worst}"]["ms"]
        p99 = next((r["latency_ms"]["p99"] for r in results if r["key"] == f"s-{who}-{sort}-{worst}"), None)
        targets.append({"who": who, "sort": sort, "worst": worst, "db_ms": ms, "db_target_ms": target,
                        "p99_ms": p99, "p99_target_ms": SEARCH_P99_TARGET_MS[(who, sort)],
                        "met": ms <= target and p99 is not None
                        and p99 < SEARCH_P99_TARGET_MS[(who, sort)]})
    summary = {
        "messages": SEARCH_MESSAGES, "sessions": SEARCH_SESSIONS, "users": SEARCH_USERS,
        "user_sessions": SEARCH_USER_SESSIONS, "big_sessions": SEARCH_BIG_SESSIONS,
        "scope_sizes": sizes, "seed_s": round(seed_s, 1),
        "words": words, "hits": hits, "db_ms": db, "targets": targets,
        "post_with_index_rps": with_all["rps"], "post_without_time_rps": no_time["rps"],
        "post_without_index_rps": without["rps"],
        "post_time_btrees_pct": 100 * (with_all["rps"] / no_time["rps"] - 1),
        "post_slowdown_pct": 100 * (with_all["rps"] / without["rps"] - 1),
    }
    return results, summary


# ------------------------------------------------------------------ output


def fmt_ms(ms):
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def fmt_mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "-"


def print_table(result):
    m = result["machine"]
    cols = ["scenario", "req/s", "p50", "p99", "non-2xx", "sock err", "RSS peak",
            "srv CPU", "db CPU", "DB ceiling", "ratio"]
    rows = []
    for s in result["scenarios"]:
        c = s.get("ceiling")
        rows.append([
            s["label"], f"{s['rps']:,.0f}",
            fmt_ms(s["latency_ms"]["p50"]), fmt_ms(s["latency_ms"]["p99"]),
            f"{s['non_2xx']:,}", f"{s['socket_errors']:,}", fmt_mib(s["rss_peak_kib"]),
            f"{s['cpu']['server_pct']:.0f}%", f"{s['cpu']['postgres_pct']:.0f}%",
            f"{c['tps']:,.0f} tps" if c else "-",
            f"{s['ratio'] * 100:.0f}%" if c else "-",
        ])
    widths = [max(len(r[i]) for r in rows + [cols]) for i in range(len(cols))]

    def line(r):
        return "  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i])
                         for i in range(len(cols)))

    print()
    print(f"Dealroom benchmark, {result['started_at']} ({result['git']['commit']})")
    print(f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB")
    print(f"server:  {m['server_workers']} HTTP workers, DB pool {m['db_pool_size']}, "
          f"BCRYPT_ROUNDS={m['bcrypt_rounds']}, LOG_LEVEL=warn, rate limits off")
    print(f"load:    wrk, {m['wrk_threads']} threads, {m['connections']} connections per wrk, "
          f"{m['warmup_s']} s warm-up + {m['duration_s']} s per scenario, on the same host; "
          f"(e) runs two wrk side by side ({m['connections']} + {m['connections']} connections)")
    ceilings = [s["ceiling"] for s in result["scenarios"] if s.get("ceiling")]
    if ceilings:
        print(f"ceiling: pgbench -M prepared, plan_cache_mode=force_generic_plan, "
              f"{m['db_pool_size']} clients (the pool size), 2 threads, {m['pgbench_duration_s']} s; "
              f"the SQL each request minimally needs; (b) and (c) alternate with their ceiling "
              f"{PG_RUNS} times, the pair with the median ratio shown (all pairs below); "
              f"(d)'s is bcrypt verifying on every core (scripts/bench/bcrypt-bound)")
    if result.get("search"):
        sr = result["search"]
        print(f"search:  {sr['messages']:,} messages, {sr['sessions']:,} sessions, "
              f"{sr['users']:,} users, seeded in {sr['seed_s']:.0f} s; scopes: "
              + ", ".join(f"{k} {v:,} messages" for k, v in sr["scope_sizes"].items())
              + f"; {SEARCH_CONNECTIONS} connections; words: "
              + ", ".join(f"{k} {sr['words'][k]!r} ({sr['hits'][k]:,})" for k in SEARCH_KINDS))
    print()
    print(line(cols))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    print()
    for sc in result["scenarios"]:
        pairs = (sc.get("ceiling") or {}).get("pairs")
        if pairs:
            print(f"{sc['key']}: pairs (req/s / ceiling tps): " + ", ".join(
                f"{p['rps']:,.0f} / {p['tps']:,.0f} = {p['ratio'] * 100:.0f}%" for p in pairs))
    print(f"server peak RSS over the whole run (VmHWM): {fmt_mib(result['server']['vmhwm_kib'])}")
    if result.get("download"):
        d = result["download"]
        print(f"i. one {fmt_mib(d['size_bytes'] / 1024)} file, {d['runs']} downloads one after "
              f"another with curl: GET /media/{{id}} {d['server_mib_s']:,.0f} MiB/s, the object "
              f"read from disk (file://) {d['disk_mib_s']:,.0f} MiB/s: ratio {d['ratio'] * 100:.0f}%")
    print(f"raw wrk and pgbench outputs, the server log and results.json: {result['out_dir']}/")
    if result.get("search"):
        sr = result["search"]
        print("search, database time of one search (first page; EXPLAIN ANALYZE, generic plans):")
        for who in ("user", "big", "agent"):
            for sort in ("recent", "relevance"):
                print(f"  {who:5} {sort:9} " + ", ".join(
                    f"{k} {sr['db_ms'][f'{who}/{sort}/{k}']['ms']:.1f}" for k in SEARCH_KINDS) + " ms")
        for t in sr["targets"]:
            print(f"  target {t['who']} {t['sort']}: worst word {t['worst']} {t['db_ms']:.1f} ms "
                  f"(<= {t['db_target_ms']}), p99 {fmt_ms(t['p99_ms'])} (< {t['p99_target_ms']} ms): "
                  + ("met" if t["met"] else "NOT MET"))
        print(f"posting with every search index: {sr['post_with_index_rps']:,.0f} req/s; without the "
              f"time B-trees: {sr['post_without_time_rps']:,.0f} ({sr['post_time_btrees_pct']:+.1f}%); "
              f"without any: {sr['post_without_index_rps']:,.0f} ({sr['post_slowdown_pct']:+.1f}%); "
              f"EXPLAIN (ANALYZE, BUFFERS) of each search: {result['out_dir']}/explain-search-*.txt")
    steps = [(s["key"], s["cpu"]) for s in result["scenarios"] if "." not in s["key"]]
    steps += [(f"{s['key']} ceiling", s["ceiling"]["cpu"])
              for s in result["scenarios"] if s.get("ceiling")]
    key, worst = max(steps, key=lambda kc: kc[1]["other_pct"]) if steps else ("", {"other_pct": 0})
    if worst["other_pct"] >= 25:
        print(f"NOTE: other processes on this machine used up to {worst['other_pct']:.0f}% "
              f"of a core during a step ({key}): the numbers are noisy; "
              "results.json has each step's CPU split")
    idle = [s["key"] for s in result["scenarios"] if s["requests"] == 0]
    if idle:
        print(f"WARNING: no request completed in {', '.join(idle)}: "
              "make BENCH_DURATION longer than one such request takes")
    bad = [s for s in result["scenarios"] if s["non_2xx"] or s["socket_errors"]]
    if bad:
        print("WARNING: some requests failed: " + "; ".join(
            f"{s['key']}: {s['non_2xx']} non-2xx, {s['socket_errors']} socket errors"
            for s in bad) + f" (see {result['out_dir']}/server.log)")


def git_info():
    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit + ("-dirty" if dirty else ""), "dirty": dirty}


def machine_info():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem, 1),
            "kernel": platform.release()}


def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


# ------------------------------------------------------------------ media

BOUNDARY = "dealroom-bench-boundary"


def multipart_file(name, size, seed_byte):
    """A multipart upload of a PNG-signed file of `size` bytes, written to OUT."""
    path = os.path.join(OUT, name)
    head = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
    block = bytes((i * 31 + seed_byte) % 251 for i in range(65536))
    with open(path, "wb") as f:
        f.write(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}.png\"\r\nContent-Type: image/png\r\n\r\n".encode())
        f.write(head)
        left = size - len(head)
        while left > 0:
            f.write(block[:min(left, len(block))])
            left -= min(left, len(block))
        f.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return path


def upload_file(token, body_path):
    """POSTs a prepared multipart body; the Media."""
    u = urllib.parse.urlsplit(BASE_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    with open(body_path, "rb") as f:
        conn.request("POST", "/api/v1/media", body=f, headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(os.path.getsize(body_path))})
        resp = conn.getresponse()
        raw = resp.read()
    conn.close()
    if resp.status != 201:
        die(f"POST /api/v1/media: expected 201, got {resp.status}: {raw[:300]!r}")
    return json.loads(raw)["data"]["media"]


def media_setup(client, token):
    """The media scenarios: upload and download a 1 MiB file (f, g), 16
    uploads of MEDIA_MAX_BYTES at once (h); and the large file of (i)."""
    say(f"media: preparing upload bodies (1 MiB, and {MEDIA_MAX_BYTES:,} bytes)")
    small = multipart_file("upload-1mib", 1024 * 1024, 1)
    largest = multipart_file("upload-max", MEDIA_MAX_BYTES, 2)
    one = upload_file(token, small)
    big = upload_file(token, largest)
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    up_small = {"method": "POST", "path": "/api/v1/media", "token": token,
                "body_file": small, "content_type": ctype, "tag": "upload"}
    down_small = {"method": "GET", "path": f"/api/v1/media/{one['id']}", "token": token,
                  "tag": "download"}
    up_max = {"method": "POST", "path": "/api/v1/media", "token": token,
              "body_file": largest, "content_type": ctype, "tag": "upload-max"}
    # (h) first: its RSS peak is then its own, not what (f) and (g) left in
    # the allocator.
    plan = [
        ("h", f"h. 16 x POST /media ({MEDIA_MAX_BYTES / 1048576:.0f} MiB)", [up_max], None, 16),
        ("f", "f. POST /media (1 MiB)", [up_small], None, CONNECTIONS),
        ("g", "g. GET /media/{id} (1 MiB)", [down_small], None, CONNECTIONS),
    ]
    return plan, big


def download_throughput(token, media, runs=20):
    """(i): one large file downloaded `runs` times one after another with
    curl, through the server and straight from the object on disk."""
    sha = media["sha256"]
    path = os.path.join(MEDIA_DIR, "objects", sha[0:2], sha[2:4], sha)
    if not os.path.exists(path):
        say(f"no object at {path} (MEDIA_STORAGE is not disk?): skipping (i)")
        return None
    url = f"{BASE_URL}/api/v1/media/{media['id']}"

    def timed(args):
        t = time.monotonic()
        for _ in range(runs):
            subprocess.run(["curl", "-sf", "-o", "/dev/null", *args], check=True)
        return time.monotonic() - t

    say(f"i. {runs} downloads of {media['sizeBytes']:,} bytes with curl, server and disk")
    settle()
    timed(["-H", f"Authorization: Bearer {token}", url])  # warm the page cache
    server_s = timed(["-H", f"Authorization: Bearer {token}", url])
    disk_s = timed([f"file://{os.path.abspath(path)}"])
    mib = media["sizeBytes"] * runs / 1048576
    return {"size_bytes": media["sizeBytes"], "runs": runs,
            "server_mib_s": mib / server_s, "disk_mib_s": mib / disk_s,
            "ratio": disk_s / server_s}


def main():
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    loadavg_before = os.getloadavg()
    client = Client(BASE_URL)
    wait_for_health(client)
    known = ("a", "b", "c", "d", "e", "core", "scale", "media", "events", "search", "offers", "streams", "webhooks")
    unknown = [x for x in SCENARIOS if x not in known]
    if unknown:
        die(f"BENCH_SCENARIOS: unknown scenario(s) {', '.join(unknown)} ({', '.join(known)})")
    scenarios = []
    page = post = None
    download = None
    if any(x in SCENARIOS for x in ("a", "b", "c", "d", "e", "events", "media", "offers")):
        ids = seed(client, MESSAGES if any(x in SCENARIOS for x in "abcde") or "events" in SCENARIOS else 0)
        token = ids["token"]
        sid = ids["session_id"]
        health = {"method": "GET", "path": "/health", "tag": "health"}
        page = {"method": "GET", "path": f"/api/v1/sessions/{sid}/messages?limit=50",
                "token": token, "tag": "page"}
        post = {"method": "POST", "path": f"/api/v1/sessions/{sid}/messages",
                "body": MESSAGE_BODY, "token": token, "tag": "post"}
        login = {"method": "POST", "path": "/api/v1/auth/login",
                 "body": {"email": EMAIL, "password": PASSWORD}, "tag": "login"}

        # Each scenario, then its database ceiling (if it has one), so that both
        # see the same data.
        plan = [
            ("a", "a. GET /health", [health], None, CONNECTIONS),
            ("b", "b. GET messages?limit=50", [page], "pgbench-page.sql", CONNECTIONS),
            ("c", "c. POST message", [post], "pgbench-post.sql", CONNECTIONS),
            ("d", f"d. POST login (bcrypt {BCRYPT_ROUNDS})", [login], None, CONNECTIONS),
            ("e", "e. GET /health during logins", [health, login], None, CONNECTIONS),
        ]
        plan = [p for p in plan if p[0] in SCENARIOS]
        if "media" in SCENARIOS:
            media_plan, big = media_setup(client, token)
            plan += media_plan
        if "scale" in SCENARIOS:
            plan += [("scale", None, None, None, None),
                     ("b@scale", f"b. GET messages?limit=50, +{SCALE_MESSAGES:,} messages",
                      [page], "pgbench-page.sql", CONNECTIONS),
                     ("c@scale", f"c. POST message, +{SCALE_MESSAGES:,} messages",
                      [post], "pgbench-post.sql", CONNECTIONS)]
        for key, label, reqs, ceiling_script, connections in plan:
            if key == "scale":
                scale_seed(ids)
                continue
            if ceiling_script:
                results, ceiling = run_paired(key, label, reqs, connections, ceiling_script, ids)
            else:
                results = run_scenario(key, label, reqs, connections)
                ceiling = run_bcrypt_bound() if key == "d" and BCRYPT_BOUND else None
            for i, (req, res) in enumerate(zip(reqs, results)):
                res.update({
                    "key": key if i == 0 else f"{key}.{req['tag']}",
                    "label": label if i == 0 else "   the logins alongside (e)",
                    "method": req["method"], "path": req["path"].replace(sid, "{id}"),
                    "connections": connections,
                    "ceiling": ceiling if i == 0 else None,
                    "ratio": res["rps"] / ceiling["tps"] if ceiling and i == 0 else None,
                })
                scenarios.append(res)
        if "media" in SCENARIOS:
            download = download_throughput(token, big)
        if "offers" in SCENARIOS:
            import offers_bench
            scenarios.extend(offers_bench.run(psql, run_paired, say, ids, token, CONNECTIONS))
    search_summary = None
    if "search" in SCENARIOS:
        search_results, search_summary = run_search(client)
        scenarios.extend(search_results)

    if "webhooks" in SCENARIOS:
        import webhooks_bench
        webhooks_bench.run(sys.modules[__name__], client)  # OUT/webhooks.json
    events = live_events(page, post) if env("BENCH_SSE") and "events" in SCENARIOS else None
    if "streams" in SCENARIOS:
        import streams_bench
        streams_bench.run(sys.modules[__name__], client, page)  # OUT/streams-results.json

    vmhwm = proc_status("VmHWM")
    if vmhwm is None:
        server_died()
    result = {
        "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.monotonic() - t0, 1),
        "git": git_info(),
        "machine": {
            **machine_info(),
            "loadavg_before": [round(x, 2) for x in loadavg_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "connections": CONNECTIONS,
            "wrk_threads": max(1, min(THREADS, CONNECTIONS)),
            "duration_s": DURATION,
            "warmup_s": WARMUP,
            "timeout_s": TIMEOUT,
            "pgbench_duration_s": PG_DURATION,
            "db_pool_size": POOL,
            "server_workers": WORKERS or os.cpu_count(),
            "bcrypt_rounds": BCRYPT_ROUNDS,
            "seeded_messages": MESSAGES,
            "wrk": version([WRK, "--version"]),
            "pgbench": version([PGBENCH, "--version"]),
        },
        "server": {"vmhwm_kib": vmhwm, "log": os.path.relpath(SERVER_LOG)},
        "scenarios": scenarios,
        "events": events,
        "search": search_summary,
        "download": download,
        "out_dir": os.path.relpath(OUT),
    }
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(result)
    if events:
        print_events(events)


# ------------------------------------------------------------------ live events


def sse_bench(streams, sessions, rate, seconds):
    """Runs the live-events client (scripts/bench/sse-bench); its JSON."""
    e = dict(os.environ, BASE_URL=BASE_URL, SERVER_PID=str(SERVER_PID),
             STREAMS=str(streams), SESSIONS=str(sessions), RATE=str(rate),
             SECONDS=str(seconds))
    return subprocess.Popen([env("BENCH_SSE")], env=e, stdout=subprocess.PIPE, text=True)


def live_events(page, post):
    """j: 1000 streams on one session, k: 1000 streams on 1000 sessions, both
    while 200 messages a second are posted; l: (b) and (c) again while 1000
    idle streams are open."""
    streams = int(env("BENCH_STREAMS", "1000"))
    rate = int(env("BENCH_EVENT_RATE", "200"))
    out = {}
    for key, sessions in (("j", 1), ("k", streams)):
        say(f"{key}. live events: {streams} streams on {sessions} session(s), {rate} posts/s for {DURATION} s")
        settle()
        with RssSampler() as rss, CpuMeter() as cpu:
            p = sse_bench(streams, sessions, rate, DURATION)
            stdout, _ = p.communicate(timeout=DURATION * 10 + 120)
        res = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
        res.update({"rss_peak_kib": rss.peak, "cpu": cpu.result})
        out[key] = res
    say(f"l. (b) and (c) with {streams} idle streams open")
    hold = sse_bench(streams, 1, 0, 3 * (WARMUP + DURATION) + 60)
    time.sleep(5)
    for key, req in (("l.b", page), ("l.c", post)):
        res = run_scenario(key, key, [req], CONNECTIONS)[0]
        out[key] = res
    hold.kill()
    hold.wait()
    return out


def print_events(events):
    print()
    print("live events (j: one session, k: a session each; 200 posts/s):")
    print(f"{'':3} {'streams':>8} {'delivered':>10} {'events/s':>9} {'p50':>8} {'p99':>8} {'RSS/stream':>11}")
    for key in ("j", "k"):
        r = events.get(key) or {}
        if not r:
            continue
        print(f"{key:3} {r.get('streams_open', 0):>8} "
              f"{r.get('events_delivered', 0):>5}/{r.get('events_expected', 0):<5}"
              f"{r.get('events_per_second', 0):>9.0f} {r.get('latency_ms_p50', 0):>6.1f}ms "
              f"{r.get('latency_ms_p99', 0):>6.1f}ms {r.get('rss_kib_per_stream', 0):>8.1f} KiB")
    for key in ("l.b", "l.c"):
        r = events.get(key)
        if r:
            print(f"{key:3} with idle streams: {r['rps']:.0f} req/s, p99 {fmt_ms(r['latency_ms']['p99'])}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        die("interrupted")

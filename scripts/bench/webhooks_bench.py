"""The webhooks scenario of `make bench` (BENCH_SCENARIOS=webhooks).

Imported by bench.py, which calls run(bench, client). One endpoint, a
receiver started here (a threaded http.server on loopback that answers at
once and records the first arrival of each webhook-id), subscribed to `*`:

1. (c) without the endpoint: POST a message at full speed into 100 chat
   sessions (wrk, scripts/bench/wrk-sessions.lua), warm-up then measured.
2. The same with the endpoint registered: (c)'s rate against step 1, the
   deliveries a second, the time from each message's `createdAt` (the
   server's clock, this machine's) to its delivery's arrival, the pending
   queue (`webhook_deliveries_pending` in /metrics) when the posts stop, and
   the time until every message posted has arrived.
3. The receiver answers 503 for BENCH_WEBHOOK_OUTAGE seconds (10) while the
   posts go on, then 200 again: every message posted must arrive once, and
   the backlog should be gone within 60 s of the recovery. The server's retry
   schedule (5 s, 5 min, ...) is multiplied by WEBHOOK_RETRY_SCALE, which
   run.sh sets from BENCH_WEBHOOK_RETRY_SCALE (1, the real schedule, unless
   set); the wait for the backlog stops after BENCH_WEBHOOK_LOSS_WAIT
   seconds (420: the 5 min retry and its 20 % of jitter).

The server must run with WEBHOOK_ALLOW_HTTP=true and WEBHOOK_ALLOW_PRIVATE=true
(run.sh sets them for every run: nothing else registers an endpoint). Writes
OUT/webhooks.json and prints a summary.
"""

import http.client
import http.server
import datetime
import json
import os
import re
import subprocess
import threading
import time

SESSIONS = int(os.environ.get("BENCH_WEBHOOK_SESSIONS", "100"))
OUTAGE_S = float(os.environ.get("BENCH_WEBHOOK_OUTAGE", "10"))
RETRY_SCALE = os.environ.get("BENCH_WEBHOOK_RETRY_SCALE", "1")
LOSS_WAIT_S = float(os.environ.get("BENCH_WEBHOOK_LOSS_WAIT", "420"))
DRAIN_WAIT_S = float(os.environ.get("BENCH_WEBHOOK_DRAIN_WAIT", "120"))
ADMIN_EMAIL = "webhooks-admin@example.com"
ADMIN_PASSWORD = "bench webhooks admin 1"
HERE = os.path.dirname(os.path.abspath(__file__))

_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_ts(s):
    """RFC 3339 to Unix seconds (any number of fraction digits)."""
    m = _TS.match(s)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {s!r}")
    base, frac, tz = m.groups()
    tz = "+00:00" if tz == "Z" else tz
    t = datetime.datetime.fromisoformat(base + tz).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


class Receiver:
    """A loopback endpoint: answers `status` at once; for a 2xx, records the
    first arrival of each webhook-id (repeats are counted, not recorded)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.status = 200
        self.arrivals = {}   # webhook-id -> (arrival, type, data id, createdAt)
        self.repeats = 0
        self.refused = 0
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = rcv.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                wid = self.headers.get("webhook-id")
                if status >= 300:
                    with rcv.lock:
                        rcv.refused += 1
                    return
                try:
                    event = json.loads(body)
                    data = event.get("data") or {}
                    created = data.get("createdAt") if event.get("type") == "message.created" else None
                    rec = (arrived, event.get("type"), data.get("id"),
                           parse_ts(created) if created else None)
                except ValueError:
                    rec = (arrived, None, None, None)
                with rcv.lock:
                    if wid in rcv.arrivals:
                        rcv.repeats += 1
                    else:
                        rcv.arrivals[wid] = rec

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return dict(self.arrivals)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def metric(B, name):
    """One unlabelled series of GET /metrics (None if absent)."""
    conn = http.client.HTTPConnection("127.0.0.1", urlport(B), timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def urlport(B):
    return int(B.BASE_URL.rsplit(":", 1)[1].split("/")[0])


def admin_token(B, client):
    exe = os.readlink(f"/proc/{B.SERVER_PID}/exe")
    p = subprocess.run(
        [exe, "create-admin", "--email", ADMIN_EMAIL, "--name", "Bench webhooks"],
        env={"PATH": os.environ.get("PATH", ""), "DATABASE_URL": B.DATABASE_URL,
             "APP_ENV": "development", "DEALROOM_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        B.die(f"dealroom create-admin failed: {p.stdout}")
    _, login = client.request("POST", "/api/v1/auth/login",
                              {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, expect=200)
    return login["data"]["tokens"]["accessToken"]


def start_posts(B, token, paths_file, first_path, duration, raw_name):
    threads = max(1, min(B.THREADS, B.CONNECTIONS))
    cmd = [B.WRK, "-t", str(threads), "-c", str(B.CONNECTIONS), "-d", f"{duration}s",
           "--timeout", f"{B.TIMEOUT}s", "--latency",
           "-s", os.path.join(HERE, "wrk-sessions.lua"), B.BASE_URL + first_path]
    req = {"method": "POST", "body": B.MESSAGE_BODY, "token": token}
    e = B.wrk_env(req)
    e["BENCH_WRK_LUA"] = os.path.join(HERE, "wrk.lua")
    e["BENCH_PATHS_FILE"] = paths_file
    raw = open(os.path.join(B.OUT, raw_name), "w") if raw_name else subprocess.DEVNULL
    if raw_name:
        raw.write("$ " + " ".join(cmd) + "\n")
        raw.flush()
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    B.CHILDREN.append(p)
    return p, raw, cmd


def message_ids(B, sids):
    arr = ",".join(f"'{s}'" for s in sids)
    out = B.psql_value(f"SELECT id FROM messages WHERE session_id IN ({arr})")
    return set(x for x in out.split("\n") if x)


def sample_pending(B, stop, samples):
    while not stop.is_set():
        try:
            samples.append((time.time(), metric(B, "webhook_deliveries_pending")))
        except OSError:
            pass
        stop.wait(1.0)


def wait_arrived(B, rcv, expected, limit):
    """Waits until every id in `expected` arrived as a message.created (or
    `limit` seconds); returns (arrived ids, the last arrival's time)."""
    deadline = time.monotonic() + limit
    while True:
        snap = rcv.snapshot()
        got = {r[2]: r[0] for r in snap.values() if r[1] == "message.created" and r[2] in expected}
        if len(got) == len(expected) or time.monotonic() > deadline:
            return got, snap
        if not B.server_alive():
            B.server_died()
        time.sleep(0.25)


def wait_pending_zero(B, limit=10):
    deadline = time.monotonic() + limit
    v = None
    while time.monotonic() < deadline:
        v = metric(B, "webhook_deliveries_pending")
        if v == 0:
            return 0
        time.sleep(0.5)
    return v


def delivery_counts(B, webhook_id):
    out = B.psql_value(
        f"SELECT status || '=' || count(*) FROM webhook_deliveries "
        f"WHERE webhook_id = '{webhook_id}' GROUP BY status ORDER BY status")
    return dict(x.split("=") for x in out.split("\n") if x)


def run(B, client):
    B.say(f"webhooks: one endpoint on a loopback receiver, (c) into {SESSIONS} sessions, "
          f"{B.WARMUP} s warm-up, {B.DURATION} s measured, with and without it; then a "
          f"{OUTAGE_S:.0f} s outage (retry scale {RETRY_SCALE})")
    token = admin_token(B, client)
    sids = []
    for i in range(SESSIONS):
        _, created = client.request("POST", "/api/v1/sessions", {"title": f"Webhooks bench {i + 1}"},
                                    token=token, expect=201)
        sids.append(created["data"]["session"]["id"])
    paths = [f"/api/v1/sessions/{s}/messages" for s in sids]
    paths_file = os.path.join(B.OUT, "webhooks-paths.txt")
    with open(paths_file, "w") as f:
        f.write("\n".join(paths) + "\n")

    # 1. (c) into the sessions, no endpoint.
    B.settle()
    if B.WARMUP > 0:
        B.finish_wrk(*start_posts(B, token, paths_file, paths[0], B.WARMUP, None), "webhooks warm-up",
                     warmup=True)
        B.settle()
    B.vacuum()
    base = B.finish_wrk(*start_posts(B, token, paths_file, paths[0], B.DURATION, "wrk-webhooks-off.txt"),
                        "webhooks, no endpoint")
    B.say(f"webhooks: (c) without an endpoint: {base['rps']:.0f} posts/s")

    # 2. The endpoint, and (c) again.
    rcv = Receiver()
    _, hook = client.request("POST", "/api/v1/webhooks",
                             {"url": f"http://127.0.0.1:{rcv.port}/hook", "events": ["*"],
                              "description": "make bench"}, token=token, expect=201)
    webhook_id = hook["data"]["webhook"]["id"]
    before = message_ids(B, sids)
    B.settle()
    B.vacuum()
    stop = threading.Event()
    samples = []
    sampler = threading.Thread(target=sample_pending, args=(B, stop, samples), daemon=True)
    t_start = time.time()
    sampler.start()
    on = B.finish_wrk(*start_posts(B, token, paths_file, paths[0], B.DURATION, "wrk-webhooks-on.txt"),
                      "webhooks, one endpoint")
    t_end = time.time()
    pending_at_end = metric(B, "webhook_deliveries_pending")
    expected = message_ids(B, sids) - before
    got, snap = wait_arrived(B, rcv, expected, DRAIN_WAIT_S)
    pending_after = wait_pending_zero(B)
    stop.set()
    sampler.join()
    lat = [(r[0] - r[3]) * 1000 for r in snap.values()
           if r[1] == "message.created" and r[2] in expected and r[3] is not None]
    arrivals = sorted(r[0] for r in snap.values())
    in_run = sum(1 for a in arrivals if t_start <= a <= t_end)
    last = max(got.values()) if got else None
    run_stats = {
        "posts_rps_no_endpoint": base["rps"],
        "posts_rps_endpoint": on["rps"],
        "posts_ratio": on["rps"] / base["rps"],
        "post_p99_ms_no_endpoint": base["latency_ms"]["p99"],
        "post_p99_ms_endpoint": on["latency_ms"]["p99"],
        "non_2xx": base["non_2xx"] + on["non_2xx"],
        "socket_errors": base["socket_errors"] + on["socket_errors"],
        "messages_posted": len(expected),
        "messages_delivered": len(got),
        "lost": len(expected) - len(got),
        "repeats": rcv.repeats,
        "deliveries_per_s_during_run": in_run / (t_end - t_start),
        "deliveries_per_s_overall": len(got) / (last - t_start) if last else None,
        "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                       "max": max(lat) if lat else None},
        "pending_at_end_of_posts": pending_at_end,
        "pending_peak": max((v for _, v in samples if v is not None), default=None),
        "drained_s_after_posts": (last - t_end) if last and len(got) == len(expected) else None,
        "pending_after_drain": pending_after,
        "wrk_no_endpoint": base,
        "wrk_endpoint": on,
    }
    B.say(f"webhooks: (c) with the endpoint {on['rps']:.0f} posts/s "
          f"({100 * run_stats['posts_ratio']:.0f} %), {len(got)}/{len(expected)} delivered, "
          f"p99 {run_stats['latency_ms']['p99']} ms")

    # 3. The outage: 503 while the posts go on, then 200.
    before = message_ids(B, sids)
    B.settle()
    rcv.status = 503
    t_out = time.time()
    outage_posts = B.finish_wrk(*start_posts(B, token, paths_file, paths[0], max(1, int(OUTAGE_S)),
                                             "wrk-webhooks-outage.txt"), "webhooks, outage")
    rest = OUTAGE_S - (time.time() - t_out)
    if rest > 0:
        time.sleep(rest)
    pending_at_recovery = metric(B, "webhook_deliveries_pending")
    rcv.status = 200
    t_rec = time.time()
    B.say(f"webhooks: the receiver answers 200 again; waiting for the backlog "
          f"({pending_at_recovery:.0f} pending), at most {LOSS_WAIT_S:.0f} s")
    expected2 = message_ids(B, sids) - before
    pend60 = None
    deadline = time.monotonic() + LOSS_WAIT_S
    pend_trace = []
    while True:
        snap = rcv.snapshot()
        got2 = {r[2]: r[0] for r in snap.values() if r[1] == "message.created" and r[2] in expected2}
        now = time.time()
        if pend60 is None and now - t_rec >= 60:
            pend60 = {"pending": metric(B, "webhook_deliveries_pending"),
                      "missing": len(expected2) - len(got2)}
        if len(pend_trace) == 0 or now - pend_trace[-1][0] >= 5:
            pend_trace.append((now, len(expected2) - len(got2)))
        if len(got2) == len(expected2) or time.monotonic() > deadline:
            break
        if not B.server_alive():
            B.server_died()
        time.sleep(0.25)
    last2 = max(got2.values()) if got2 else None
    drained2 = (last2 - t_rec) if last2 and len(got2) == len(expected2) else None
    outage = {
        "outage_s": OUTAGE_S,
        "retry_scale": RETRY_SCALE,
        "posts_during_outage": len(expected2),
        "posts_rps_during_outage": outage_posts["rps"],
        "refused_attempts": rcv.refused,
        "pending_at_recovery": pending_at_recovery,
        "delivered": len(got2),
        "lost": len(expected2) - len(got2),
        "drained_s_after_recovery": drained2,
        "at_60_s": pend60,
        "missing_every_5_s": [(round(t - t_rec, 1), m) for t, m in pend_trace],
        "pending_after": wait_pending_zero(B),
        "deliveries_by_status": delivery_counts(B, webhook_id),
        "repeats_total": rcv.repeats,
    }
    rcv.stop()
    result = {"sessions": SESSIONS, "connections": B.CONNECTIONS, "duration_s": B.DURATION,
              "run": run_stats, "outage": outage}
    with open(os.path.join(B.OUT, "webhooks.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_summary(result)
    return result


def print_summary(r):
    s, o = r["run"], r["outage"]

    def ms(v):
        return "-" if v is None else f"{v:.0f} ms"

    def secs(v):
        return "not within the wait" if v is None else f"{v:.1f} s"
    print(f"\nWebhooks: one endpoint (loopback, 200 at once) on *, (c) into {r['sessions']} sessions, "
          f"{r['connections']} connections, {r['duration_s']} s")
    print(f"  (c) no endpoint        {s['posts_rps_no_endpoint']:8.0f} posts/s  p99 {ms(s['post_p99_ms_no_endpoint'])}")
    print(f"  (c) with the endpoint  {s['posts_rps_endpoint']:8.0f} posts/s  p99 {ms(s['post_p99_ms_endpoint'])}"
          f"  ({100 * s['posts_ratio']:.0f} % of no endpoint; target >= 80 %)")
    print(f"  deliveries/s           {s['deliveries_per_s_during_run']:8.0f} during the posts, "
          f"{s['deliveries_per_s_overall'] or 0:.0f} until the last arrived")
    print(f"  201 -> delivery        p50 {ms(s['latency_ms']['p50'])}, p90 {ms(s['latency_ms']['p90'])}, "
          f"p99 {ms(s['latency_ms']['p99'])} (target < 500 ms), max {ms(s['latency_ms']['max'])}")
    print(f"  delivered              {s['messages_delivered']}/{s['messages_posted']} "
          f"(repeats {s['repeats']}); pending when the posts stopped {s['pending_at_end_of_posts']}, "
          f"peak {s['pending_peak']}, drained {secs(s['drained_s_after_posts'])} after, "
          f"then pending {s['pending_after_drain']}")
    print(f"  outage {o['outage_s']:.0f} s (retry scale {o['retry_scale']}): {o['posts_during_outage']} posted, "
          f"{o['refused_attempts']} attempts refused, {o['pending_at_recovery']} pending at recovery")
    print(f"  after recovery         {o['delivered']}/{o['posts_during_outage']} delivered, lost {o['lost']}, "
          f"drained {secs(o['drained_s_after_recovery'])} (target 60 s); at 60 s: {o['at_60_s']}; "
          f"by status {o['deliveries_by_status']}")

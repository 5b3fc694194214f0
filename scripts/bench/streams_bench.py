"""make bench's streamed-replies scenario (BENCH_SCENARIOS=streams).

1000 subscribers (BENCH_STREAMS) on 100 sessions (BENCH_REPLY_SESSIONS, so
10 streams a session), while an agent streams one reply per session at 20
deltas a second each (BENCH_DELTA_RATE) for BENCH_DURATION seconds, each
delta sent after the previous one's 200. The client is scripts/bench/sse-bench
with AGENT_TOKEN set: it records each delta's 200 by (message, seq) and each
`message.delta` arrival at each subscriber on the same clock, and checks that
every stream sees every applied delta of its session's reply once, in seq
order.

Three measured steps, each on an idle server:
  s0  (b) (wrk, a page of 50 messages) alone, before the streams;
  s1  the streams alone: delta delivery p99, deltas/s, RSS;
  s2  the streams again with (b) running alongside for the same seconds;
  s3  (b) alone again, after (the VM's speed drifts: the baseline is the
      mean of s0 and s3).
Writes OUT/streams-results.json and prints a summary. Called by bench.py's
main() with bench.py itself as `bench` (its helpers: seed, wrk, meters).
"""

import json
import os
import subprocess
import time

TARGET_P99_MS = 50.0
TARGET_PAGE_DROP = 0.15


def _agent_token(bench, client):
    """A user promoted to agent (the database's role, read per request)."""
    email, password = "streams-agent@example.com", "bench password 1"
    _, reg = client.request("POST", "/api/v1/auth/register",
                            {"email": email, "password": password, "name": "Stream agent"},
                            expect=201)
    uid = reg["data"]["user"]["id"]
    bench.psql("-c", f"UPDATE users SET role = 'agent' WHERE id = '{uid}'")
    time.sleep(1.1)
    _, login = client.request("POST", "/api/v1/auth/login",
                              {"email": email, "password": password}, expect=200)
    return login["data"]["tokens"]["accessToken"]


def _start(bench, agent, streams, sessions, rate, seconds):
    e = dict(os.environ, BASE_URL=bench.BASE_URL, SERVER_PID=str(bench.SERVER_PID),
             STREAMS=str(streams), SESSIONS=str(sessions), RATE=str(rate),
             SECONDS=str(seconds), AGENT_TOKEN=agent)
    p = subprocess.Popen([bench.env("BENCH_SSE")], env=e, stdout=subprocess.PIPE, text=True)
    bench.CHILDREN.append(p)
    return p


def _wait_streaming(bench, p):
    """Blocks until sse-bench says the deltas start."""
    while True:
        line = p.stdout.readline()
        if not line:
            p.wait()
            if not bench.server_alive():
                bench.server_died()
            bench.die(f"sse-bench ended before streaming (exit {p.returncode})")
        if '"phase"' in line:
            return


def _finish(bench, p, seconds):
    stdout, _ = p.communicate(timeout=seconds * 10 + 180)
    if p.returncode != 0:
        bench.die(f"sse-bench failed (exit {p.returncode}): {stdout[-2000:]}")
    if not bench.server_alive():
        bench.server_died()
    lines = [x for x in stdout.strip().splitlines() if x.startswith("{")]
    return json.loads(lines[-1])


def _streams_step(bench, key, agent, page, streams, sessions, rate):
    label = f"{key}. {streams} streams on {sessions} sessions, {sessions} replies at {rate} deltas/s"
    if page:
        label += ", (b) alongside"
    bench.say(f"{label}, {bench.DURATION} s")
    bench.settle()
    bench.vacuum()
    wrk = None
    with bench.RssSampler() as rss, bench.CpuMeter() as cpu:
        p = _start(bench, agent, streams, sessions, rate, bench.DURATION)
        _wait_streaming(bench, p)
        if page:
            wrk = bench.start_wrk(page, bench.DURATION, bench.CONNECTIONS, "wrk-streams-b.txt")
            wrk = bench.finish_wrk(*wrk, "streams (b) alongside")
        res = _finish(bench, p, bench.DURATION)
    res.update({"rss_peak_kib": rss.peak, "cpu": cpu.result})
    if wrk:
        res["page"] = wrk
    return res


def run(bench, client, page):
    streams = int(bench.env("BENCH_STREAMS", "1000"))
    sessions = int(bench.env("BENCH_REPLY_SESSIONS", "100"))
    rate = int(bench.env("BENCH_DELTA_RATE", "20"))
    if not bench.env("BENCH_SSE", ""):
        bench.die("the streams scenario needs scripts/bench/sse-bench (unset BENCH_SKIP_BUILD)")
    if page is None:
        ids = bench.seed(client, bench.MESSAGES)
        page = {"method": "GET", "path": f"/api/v1/sessions/{ids['session_id']}/messages?limit=50",
                "token": ids["token"], "tag": "page"}
    agent = _agent_token(bench, client)

    out = {"streams": streams, "sessions": sessions, "rate_per_reply": rate,
           "duration_s": bench.DURATION, "connections": bench.CONNECTIONS}
    out["s0"] = bench.run_scenario("streams.s0", "s0. (b) without streams", [page],
                                   bench.CONNECTIONS, profile=False)[0]
    out["s1"] = _streams_step(bench, "s1", agent, None, streams, sessions, rate)
    out["s2"] = _streams_step(bench, "s2", agent, page, streams, sessions, rate)
    out["s3"] = bench.run_scenario("streams.s3", "s3. (b) without streams, again", [page],
                                   bench.CONNECTIONS, profile=False)[0]
    base = (out["s0"]["rps"] + out["s3"]["rps"]) / 2
    out["page_rps_without"] = base
    out["page_rps_with"] = out["s2"]["page"]["rps"]
    out["page_change"] = out["page_rps_with"] / base - 1 if base else None
    for k in ("s1", "s2"):
        r = out[k]
        r["in_order_and_complete"] = (
            r["out_of_order"] == 0 and r["streams_missing_deltas"] == 0
            and r["deliveries"] == r["deliveries_expected"]
            and r["deltas_applied"] == r["deltas_planned"])
    with open(os.path.join(bench.OUT, "streams-results.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print_streams(out)
    return out


def print_streams(out):
    print()
    print(f"streamed replies: {out['streams']} streams on {out['sessions']} sessions, "
          f"{out['sessions']} replies at {out['rate_per_reply']} deltas/s for {out['duration_s']} s")
    print(f"{'':4} {'applied':>11} {'deltas/s':>9} {'delivered':>15} {'in order':>9} "
          f"{'p50':>8} {'p99':>8} {'max':>8} {'RSS peak':>9}")
    for k in ("s1", "s2"):
        r = out[k]
        print(f"{k:4} {r['deltas_applied']:>5}/{r['deltas_planned']:<5} {r['deltas_per_second']:>9.0f} "
              f"{r['deliveries']:>7}/{r['deliveries_expected']:<7} "
              f"{'yes' if r['in_order_and_complete'] else 'NO':>9} "
              f"{r['latency_ms_p50']:>6.1f}ms {r['latency_ms_p99']:>6.1f}ms {r['latency_ms_max']:>6.1f}ms "
              f"{r['rss_peak_kib'] / 1024:>6.1f}MiB")
    print(f"(b) page: {out['page_rps_without']:.0f} req/s without streams (s0 {out['s0']['rps']:.0f}, "
          f"s3 {out['s3']['rps']:.0f}), {out['page_rps_with']:.0f} with (s2): "
          f"{100 * out['page_change']:+.1f}% (target: no worse than -{100 * TARGET_PAGE_DROP:.0f}%)")
    p99 = max(out["s1"]["latency_ms_p99"], out["s2"]["latency_ms_p99"])
    print(f"delta p99 {out['s1']['latency_ms_p99']:.1f} ms alone, {out['s2']['latency_ms_p99']:.1f} ms with (b) "
          f"(target under {TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'not met'})")

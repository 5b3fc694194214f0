#!/usr/bin/env python3
"""`make abuse`: issue 18's five scenarios against the release binary on
loopback, each on a fresh server and database. Raw sockets throughout, so no
client library hides what the server does. Every loop is bounded in count and
time; the only target is 127.0.0.1. Run through scripts/abuse/run.sh."""

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

BIN = os.environ["ABUSE_BIN"]
OUT = os.environ["ABUSE_OUT"]
DB = os.environ["ABUSE_DB"]
PG = os.environ["ABUSE_PG"]
HOST = "127.0.0.1"

# This process holds up to ~1,300 sockets at once.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

results = []


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """`dealroom serve` on a fresh database, with a soft open-file limit of
    1024 (as on many hosts) that it may raise to the hard one."""

    def __init__(self, name, env=None):
        url = subprocess.run([PG, "createdb", DB], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        self.port = free_port()
        self.log_path = os.path.join(OUT, f"server-{name}.log")
        full = {
            "PATH": os.environ["PATH"], "APP_ENV": "production", "HOST": HOST,
            "PORT": str(self.port), "DATABASE_URL": url,
            "JWT_SECRET": "abuse-test-secret-of-at-least-32-bytes-long",
            "LOG_LEVEL": "info", "DB_POOL_SIZE": str(2 * os.cpu_count()),
            "BCRYPT_ROUNDS": "4", "RATE_LIMIT_MAX": "1000000000",
            "AUTH_RATE_LIMIT_MAX": "1000000000", "RATE_LIMIT_WINDOW": "1000",
        }
        full.update(env or {})
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["bash", "-c", 'ulimit -Sn 1024; exec "$0" serve', BIN], env=full,
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if request("GET", "/health", port=self.port)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"the server did not start; see {self.log_path}")

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def rss_mib(self):
        return self.status("VmRSS") / 1024

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()


def read_response(sock, timeout=30):
    """One response, by Content-Length; (status, headers, body) or None if
    the connection ends first."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return status, headers, rest[:n]


def raw(method, path, port, body=None, token=None, close=True):
    h = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if close:
        h += "Connection: close\r\n"
    if token:
        h += f"Authorization: Bearer {token}\r\n"
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        h += "Content-Type: application/json\r\n"
    h += f"Content-Length: {len(data)}\r\n\r\n"
    return h.encode() + data


def request(method, path, port, body=None, token=None, timeout=30):
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(raw(method, path, port, body, token))
        r = read_response(s, timeout)
        if r is None:
            raise OSError("no response")
        status, headers, data = r
        return status, json.loads(data) if data else None


def user(port, email):
    st, b = request("POST", "/api/v1/auth/register", port,
                    {"email": email, "password": "password123", "name": "Abuse"})
    assert st == 201, (st, b)
    return b["data"]["tokens"]["accessToken"]


def health_ms(port):
    t = time.time()
    try:
        st, _ = request("GET", "/health", port, timeout=20)
        return (time.time() - t) * 1000 if st == 200 else None
    except OSError:
        return None


def figure(scenario, what, value):
    results.append((scenario, what, value))
    print(f"  {what}: {value}", flush=True)


def scenario_1():
    print("1. stalled request bodies (1,100 connections, Content-Length 1000, 1 byte sent)")
    srv = Server("1")
    try:
        figure(1, "server open-file limit (soft, after start)",
               open(f"/proc/{srv.proc.pid}/limits").read().split("Max open files")[1].split()[0])
        conns, t0 = [], time.time()
        for _ in range(1100):
            try:
                s = socket.create_connection((HOST, srv.port), timeout=5)
                s.sendall(b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
                conns.append((s, time.time()))
            except OSError:
                break
        figure(1, "connections opened", len(conns))
        h = health_ms(srv.port)
        figure(1, "GET /health during the flood", f"{h:.0f} ms" if h is not None else "no answer in 20 s")
        got, waits = 0, []
        for s, sent in conns:
            try:
                r = read_response(s, 30)
                if r and r[0] == 408:
                    got += 1
                    waits.append(time.time() - sent)
            except OSError:
                pass
            s.close()
        figure(1, "answered 408 REQUEST_TIMEOUT", f"{got} of {len(conns)}")
        if waits:
            waits.sort()
            figure(1, "time to the 408, median / max", f"{waits[len(waits)//2]:.1f} s / {waits[-1]:.1f} s")
        figure(1, "'connection cap reached' log lines", srv.logtext().count("connection cap reached"))
        figure(1, "scenario time", f"{time.time() - t0:.0f} s")
    finally:
        srv.stop()


def scenario_2():
    print("2. stalled readers (150 clients ask for the largest page, 200 x 32,000 chars, and never read)")
    srv = Server("2")
    try:
        token = user(srv.port, "pager@example.com")
        st, b = request("POST", "/api/v1/sessions", srv.port, {"title": "big"}, token)
        sid = b["data"]["session"]["id"]
        content = "x" * 32000
        for _ in range(200):
            st, _ = request("POST", f"/api/v1/sessions/{sid}/messages", srv.port,
                            {"content": content}, token)
            assert st == 201
        st, b = request("GET", f"/api/v1/sessions/{sid}/messages?limit=200", srv.port, token=token)
        page = len(json.dumps(b).encode())
        figure(2, "largest page", f"{len(b['data']['items'])} items, {page / 1048576:.1f} MiB")
        base = srv.rss_mib()
        figure(2, "RSS before", f"{base:.0f} MiB")
        conns = []
        for _ in range(150):
            s = socket.create_connection((HOST, srv.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(raw("GET", f"/api/v1/sessions/{sid}/messages?limit=200", srv.port,
                          token=token, close=False))
            conns.append(s)
        peak, t0 = 0, time.time()
        while time.time() - t0 < 10:
            peak = max(peak, srv.rss_mib())
            time.sleep(0.2)
        figure(2, "RSS with 150 stalled readers (after 10 s)", f"{srv.rss_mib():.0f} MiB (peak {peak:.0f} MiB)")
        # (That the send timeout ends such connections is proven by
        # tests/api/slow_clients.rs; here the page fits the kernel's buffers.)
        for s in conns:
            s.close()
        time.sleep(2)
        figure(2, "RSS after", f"{srv.rss_mib():.0f} MiB")
    finally:
        srv.stop()


def scenario_3():
    print("3. shutdown: 20 requests on idle keep-alive connections just before SIGTERM; then under load")
    srv = Server("3a", {"SHUTDOWN_GRACE": "5s"})
    conns = []
    for _ in range(20):
        s = socket.create_connection((HOST, srv.port), timeout=5)
        s.sendall(raw("GET", "/health", srv.port, close=False))
        read_response(s)
        conns.append(s)
    for s in conns:
        s.sendall(raw("GET", "/health", srv.port, close=False))
    srv.proc.send_signal(15)
    answered = 0
    for s in conns:
        try:
            r = read_response(s, 10)
            answered += r is not None and r[0] == 200
        except OSError:
            pass
        s.close()
    code = srv.proc.wait(30)
    srv.stop()
    figure(3, "responses to the 20 requests sent before SIGTERM", f"{answered} of 20 (exit {code})")

    srv = Server("3b", {"SHUTDOWN_GRACE": "5s"})
    counts = {"answered": 0, "unanswered": 0, "reset in backlog": 0}
    lock = threading.Lock()

    def client():
        t0 = time.time()
        while time.time() - t0 < 20:
            try:
                s = socket.create_connection((HOST, srv.port), timeout=5)
            except OSError:
                return
            n = 0
            with s:
                while True:
                    try:
                        s.sendall(raw("GET", "/health", srv.port, close=False))
                    except OSError:
                        break
                    try:
                        r = read_response(s, 10)
                    except ConnectionResetError:
                        r = "reset"
                    except OSError:
                        r = None
                    key = ("answered" if isinstance(r, tuple) else
                           "reset in backlog" if r == "reset" and n == 0 else "unanswered")
                    with lock:
                        counts[key] += 1
                    if key != "answered" or r[1].get("connection") == "close":
                        break
                    n += 1

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    time.sleep(3)
    srv.proc.send_signal(15)
    for t in threads:
        t.join()
    code = srv.proc.wait(30)
    srv.stop()
    figure(3, "under load (32 keep-alive clients), requests answered", counts["answered"])
    figure(3, "under load, requests on accepted connections without a response", counts["unanswered"])
    figure(3, "under load, connections reset in the listen backlog at close", counts["reset in backlog"])
    figure(3, "exit status", code)


def scenario_4(label, env):
    print(f"4. memory after ordinary load ({label}): 32 clients paging and posting for 20 s")
    srv = Server("4-" + label.replace(" ", "_").replace("=", "-"), env)
    try:
        token = user(srv.port, "load@example.com")
        st, b = request("POST", "/api/v1/sessions", srv.port, {"title": "load"}, token)
        sid = b["data"]["session"]["id"]
        for i in range(200):
            request("POST", f"/api/v1/sessions/{sid}/messages", srv.port,
                    {"content": f"message {i} " + "y" * 200}, token)
        start = srv.rss_mib()
        count = [0]
        lock = threading.Lock()

        def client(k):
            t0 = time.time()
            s = socket.create_connection((HOST, srv.port), timeout=10)
            n = 0
            while time.time() - t0 < 20:
                if k % 2:
                    req = raw("POST", f"/api/v1/sessions/{sid}/messages", srv.port,
                              {"content": "z" * 300}, token, close=False)
                else:
                    req = raw("GET", f"/api/v1/sessions/{sid}/messages?limit=50", srv.port,
                              token=token, close=False)
                s.sendall(req)
                if read_response(s) is None:
                    break
                n += 1
            s.close()
            with lock:
                count[0] += n

        threads = [threading.Thread(target=client, args=(k,)) for k in range(32)]
        for t in threads:
            t.start()
        peak = 0
        while any(t.is_alive() for t in threads):
            peak = max(peak, srv.rss_mib())
            time.sleep(0.2)
        threads_n = srv.status("Threads")
        time.sleep(5)
        figure(4, f"{label}: RSS at start / peak / 5 s after the load",
               f"{start:.0f} / {peak:.0f} / {srv.rss_mib():.0f} MiB ({threads_n} threads, {count[0] / 20:.0f} req/s)")
    finally:
        srv.stop()


def scenario_5():
    print("5. protocol-level rejections (300 each: malformed request line, 140 KB header, slow header)")
    srv = Server("5")
    try:
        statuses = {}

        def one(payload, wait=10):
            try:
                with socket.create_connection((HOST, srv.port), timeout=5) as s:
                    try:
                        s.sendall(payload)
                    except OSError:
                        pass
                    r = read_response(s, wait)
                    key = (r[0], len(r[2]) > 0) if r else None
            except OSError:
                key = "reset"
            statuses[key] = statuses.get(key, 0) + 1

        for _ in range(300):
            one(b"NOT HTTP AT ALL\x01\r\n\r\n")
        for _ in range(300):
            one(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 140000 + b"\r\n\r\n")
        threads = [threading.Thread(target=one, args=(b"GET /health HTTP/1.1\r\nHost: x\r\n", 15))
                   for _ in range(300)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1)
        figure(5, "answers (status, has body): count",
               ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)))
        log = srv.logtext().splitlines()
        figure(5, "ERROR lines in the log", sum('"level":"ERROR"' in l for l in log))
        access = [json.loads(l) for l in log if '"target":"dealroom::access"' in l]
        by = {}
        for a in access:
            by[a["status"]] = by.get(a["status"], 0) + 1
        figure(5, "access-log lines by status", by)
    finally:
        srv.stop()


def main():
    only = os.environ.get("ABUSE_ONLY", "12345")
    t0 = time.time()
    if "1" in only:
        scenario_1()
    if "2" in only:
        scenario_2()
    if "3" in only:
        scenario_3()
    if "4" in only:
        # The binary's own allocator (mimalloc; libpq's allocations on
        # glibc's malloc with two arenas): README, "Abuse".
        scenario_4("as built", {})
    if "5" in only:
        scenario_5()
    print(f"\nabuse took {time.time() - t0:.0f} s")
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump([{"scenario": s, "figure": w, "value": str(v)} for s, w, v in results], f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`make abuse`: issue 18's five scenarios and issue 23's three (6, 7, 8)
against the release binary on loopback, each on a fresh server and database
at the default settings unless a scenario says otherwise. Raw sockets
throughout, so no client library hides what the server does. Every loop is
bounded in count and time; the only target is 127.0.0.1. Run through
scripts/abuse/run.sh."""

import json
import os
import resource
import selectors
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

# This process holds up to ~2,100 sockets at once (scenario 6).
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
    1024 (as on many hosts) that it may raise to the hard one. The settings
    are the defaults (`DB_POOL_SIZE` 16 included) but for the rate limits
    (which would refuse the script's own flood), bcrypt's cost (4, for quick
    registrations) and `MEDIA_DIR` (under target/abuse)."""

    def __init__(self, name, env=None):
        url = subprocess.run([PG, "createdb", DB], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        self.port = free_port()
        self.log_path = os.path.join(OUT, f"server-{name}.log")
        full = {
            "PATH": os.environ["PATH"], "APP_ENV": "production", "HOST": HOST,
            "PORT": str(self.port), "DATABASE_URL": url,
            "JWT_SECRET": "abuse-test-secret-of-at-least-32-bytes-long",
            "LOG_LEVEL": "info", "MEDIA_DIR": os.path.join(OUT, "media"),
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


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


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
        def page_ms(limit):
            times = []
            for _ in range(3):
                t = time.time()
                st, b = request("GET", f"/api/v1/sessions/{sid}/messages?limit={limit}",
                                srv.port, token=token)
                times.append(time.time() - t)
            return pct(times, 0.5) * 1000, b

        ms_200, b = page_ms(200)
        fits = len(b["data"]["items"])
        page = len(json.dumps(b).encode())
        ms_fits, _ = page_ms(fits)
        figure(2, "largest page", f"{fits} items, {page / 1048576:.1f} MiB")
        # The same page asked for exactly what fits: what limit + 1 rows
        # read by the statement cost.
        figure(2, f"that page alone asked with limit=200 / limit={fits} (median of 3)",
               f"{ms_200:.0f} ms / {ms_fits:.0f} ms")
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
    signalled = time.time()
    answered = 0
    for s in conns:
        try:
            r = read_response(s, 10)
            answered += r is not None and r[0] == 200
        except OSError:
            pass
    # The 20 connections stay open on this side, idle: the server closes
    # them (500 ms after the signal) and exits.
    code = srv.proc.wait(30)
    exited = time.time() - signalled
    closed = 0
    for s in conns:
        try:
            s.settimeout(0.1)
            closed += s.recv(1) == b""
        except ConnectionResetError:
            closed += 1
        except OSError:
            pass
        s.close()
    srv.stop()
    figure(3, "responses to the 20 requests sent before SIGTERM", f"{answered} of 20 (exit {code})")
    figure(3, "idle keep-alive connections closed by the server; SIGTERM to exit",
           f"{closed} of 20; {exited:.2f} s")

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
    signalled = time.time()
    code = srv.proc.wait(30)
    exited = time.time() - signalled
    for t in threads:
        t.join()
    srv.stop()
    figure(3, "under load (32 keep-alive clients), requests answered", counts["answered"])
    figure(3, "under load, requests on accepted connections without a response", counts["unanswered"])
    figure(3, "under load, connections reset in the listen backlog at close", counts["reset in backlog"])
    figure(3, "under load, exit status; SIGTERM to exit", f"{code}; {exited:.2f} s")


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


class HealthProbe:
    """`GET /health` on a fresh connection every 20 ms in a thread, until
    stopped: its latencies, and how many found no answer within 20 s."""

    def __init__(self, port):
        self.port, self.ms, self.failed = port, [], 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            h = health_ms(self.port)
            if h is None:
                self.failed += 1
            else:
                self.ms.append(h)
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()
        if not self.ms:
            return f"no answer ({self.failed} tries)"
        return (f"p50 {pct(self.ms, 0.5):.1f} ms, p99 {pct(self.ms, 0.99):.1f} ms, max "
                f"{max(self.ms):.0f} ms ({len(self.ms)} answered, {self.failed} not within 20 s)")


def server_ends(port):
    """The server's ends of its TCP connections on `port` (/proc/net/tcp):
    {state: (count, bytes not yet sent)}; 01 established, 04 FIN-WAIT-1 (the
    server closed it, the kernel still sends what it holds)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        n, unsent = found.get(fields[3], (0, 0))
                        found[fields[3]] = (n + 1, unsent + int(fields[4].split(":")[0], 16))
        except OSError:
            pass
    return found


def server_established(port):
    return server_ends(port).get("01", (0, 0))[0]


def chunked_head(path, port):
    """A chunked POST's headers and first chunk; the rest never comes."""
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n").encode()


def scenario_6():
    print("6. unread chunked bodies: a chunked POST, its first chunk, then nothing (2,000 clients to"
          " a route that needs a token, 2,000 to no route, 200 to a route that reads the body)")
    srv = Server("6")
    try:
        for label, path, count, expect, limit in [
                ("401 (POST /api/v1/sessions, no token)", "/api/v1/sessions", 2000, 401, 20),
                ("404 (POST /api/v1/no-such-route)", "/api/v1/no-such-route", 2000, 404, 20),
                ("408 (POST /api/v1/auth/register, body read)", "/api/v1/auth/register", 200, 408, 30)]:
            sel = selectors.DefaultSelector()
            conns = {}
            probe = HealthProbe(srv.port)
            t0 = time.time()

            def pump(timeout):
                for key, _ in sel.select(timeout):
                    sock, c = key.fileobj, conns[key.fileobj]
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        data = None
                    if data:
                        c["buf"] += data
                        if c["answered"] is None and b"\r\n\r\n" in c["buf"]:
                            c["answered"] = time.time()
                        continue
                    c["closed"], c["reset"] = time.time(), data is None
                    sel.unregister(sock)

            for _ in range(count):
                try:
                    sock = socket.create_connection((HOST, srv.port), timeout=5)
                    sent = time.time()
                    sock.sendall(chunked_head(path, srv.port))
                except OSError:
                    break
                sock.setblocking(False)
                conns[sock] = {"sent": sent, "buf": b"", "answered": None, "closed": None,
                               "reset": False}
                sel.register(sock, selectors.EVENT_READ)
                pump(0)
            opened = time.time() - t0
            while sel.get_map() and time.time() - t0 < opened + limit:
                pump(0.5)
            # This side keeps every socket a few seconds more; /health is
            # asked throughout.
            time.sleep(3)
            health = probe.stop()
            answered = closing = closed = resets = 0
            to_answer, to_close = [], []
            for sock, c in conns.items():
                head = c["buf"].split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
                if head.startswith(f"http/1.1 {expect} "):
                    answered += 1
                    to_answer.append(c["answered"] - c["sent"])
                    closing += "\r\nconnection: close" in head
                if c["closed"] is not None:
                    closed += 1
                    resets += c["reset"]
                    to_close.append(c["closed"] - c["sent"])
                sock.close()
            sel.close()
            figure(6, f"{label}: clients (opened in {opened:.1f} s)", len(conns))
            figure(6, f"{label}: answered {expect} with Connection: close",
                   f"{closing} of {len(conns)} ({answered} answered {expect})")
            figure(6, f"{label}: connection closed by the server",
                   f"{closed} of {len(conns)} ({resets} by a reset)")
            if to_answer and to_close:
                unit = (lambda x: f"{x:.1f} s") if expect == 408 else (lambda x: f"{x * 1000:.0f} ms")
                figure(6, f"{label}: time to the answer / to the close, median / max",
                       f"{unit(pct(to_answer, 0.5))} / {unit(max(to_answer))}; "
                       f"{unit(pct(to_close, 0.5))} / {unit(max(to_close))}")
            figure(6, f"{label}: GET /health while they are held", health)
        figure(6, "'connection cap reached' log lines", srv.logtext().count("connection cap reached"))
    finally:
        srv.stop()


def scenario_7():
    print("7. stalled search readers (200 messages of 30,000 characters with a common word;"
          " 100 clients search it with limit=200 and never read)")
    srv = Server("7")
    t0 = time.time()
    try:
        token = user(srv.port, "searcher@example.com")
        st, b = request("POST", "/api/v1/sessions", srv.port, {"title": "long"}, token)
        sid = b["data"]["session"]["id"]
        for i in range(200):
            words = [f"offer{i} price{k % 97} word" for k in range(2000)]
            content = " ".join(words)[:30000]
            st, _ = request("POST", f"/api/v1/sessions/{sid}/messages", srv.port,
                            {"content": content}, token)
            assert st == 201
        path = "/api/v1/messages/search?q=word&limit=200"
        took = []
        for _ in range(3):
            t = time.time()
            st, b = request("GET", path, srv.port, token=token)
            took.append(time.time() - t)
            assert st == 200, (st, b)
        page = len(json.dumps(b, separators=(",", ":")).encode())
        figure(7, "a search page (limit=200), alone",
               f"{len(b['data']['items'])} hits, {page / 1024:.0f} KiB, nextCursor "
               f"{'set' if b['data'].get('nextCursor') else 'null'}; {pct(took, 0.5) * 1000:.0f} ms"
               f" (median of 3)")
        fits = len(b["data"]["items"])
        took = []
        for _ in range(3):
            t = time.time()
            st, b = request("GET", f"/api/v1/messages/search?q=word&limit={fits}", srv.port,
                            token=token)
            took.append(time.time() - t)
        figure(7, f"the same {fits} hits asked with limit={fits}, alone",
               f"{pct(took, 0.5) * 1000:.0f} ms (median of 3)")
        base = srv.rss_mib()
        figure(7, "RSS before", f"{base:.0f} MiB")
        conns = []
        for _ in range(100):
            sock = socket.create_connection((HOST, srv.port), timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(raw("GET", path, srv.port, token=token, close=False))
            conns.append(sock)
        sent = time.time()
        peak = 0
        while time.time() - sent < 10:
            peak = max(peak, srv.rss_mib())
            time.sleep(0.2)
        figure(7, "RSS with 100 stalled searchers (after 10 s)",
               f"{srv.rss_mib():.0f} MiB (peak {peak:.0f} MiB)")
        # Past SEND_TIMEOUT (30 s), until the server's end of every
        # connection has closed (at most 70 s). A response the kernel's
        # buffers took whole is done for the server: its connection closes
        # when its keep-alive runs out; one they could not take is cut at
        # SEND_TIMEOUT.
        closed_at = None
        while time.time() - sent < 70:
            if server_established(srv.port) == 0:
                closed_at = closed_at or time.time() - sent
                if time.time() - sent >= 32:
                    break
            peak = max(peak, srv.rss_mib())
            time.sleep(0.2)
        ends = server_ends(srv.port)
        left = ends.get("01", (0, 0))[0]
        closing, unsent = ends.get("04", (0, 0))
        figure(7, "the server's end of the 100 connections",
               (f"all closed {closed_at:.0f} s after the requests" if not left else
                f"{left} still open {time.time() - sent:.0f} s after the requests") +
               f"; {closing} closed with {unsent / 1048576:.1f} MiB of their responses still in"
               f" the kernel's send buffers (FIN-WAIT-1)")
        figure(7, "RSS past SEND_TIMEOUT",
               f"{srv.rss_mib():.0f} MiB {time.time() - sent:.0f} s after the requests"
               f" (peak {peak:.0f} MiB)")
        # Each reader's answer: its status and size, from the head that
        # reached it.
        statuses, sizes = {}, []
        for sock in conns:
            buf = b""
            sock.settimeout(0.5)
            try:
                while b"\r\n\r\n" not in buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except OSError:
                pass
            sock.close()
            head, _, body = buf.partition(b"\r\n\r\n")
            status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "none"
            if status != "200" and b'"code":"' in body:
                status += " " + body.split(b'"code":"')[1].split(b'"')[0].decode()
            statuses[status] = statuses.get(status, 0) + 1
            n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length:")]
            if n and status == "200":
                sizes.append(n[0])
        figure(7, "the 100 answers by status",
               ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
        if sizes:
            figure(7, "each 200's Content-Length", f"{min(sizes):,}–{max(sizes):,} bytes "
                   f"(PAGE_MAX_BYTES {256 * 1024:,})")
        access = [json.loads(l) for l in srv.logtext().splitlines()
                  if '"target":"dealroom::access"' in l and "/messages/search" in l]
        ms = [a["ms"] for a in access[-len(conns):] if a["status"] == 200]
        if ms:
            figure(7, "the 200s' time in the server (access log), median / max",
                   f"{pct(ms, 0.5) / 1000:.1f} s / {max(ms) / 1000:.1f} s")
        figure(7, "scenario time", f"{time.time() - t0:.0f} s")
    finally:
        srv.stop()


def scenario_8():
    print("8. slow uploads (BODY_TIMEOUT=5s, MEDIA_UPLOAD_TIMEOUT=30s): a 16 KiB PNG over ~15 s,"
          " one over ~45 s, and a JSON body over ~10 s")
    srv = Server("8", {"BODY_TIMEOUT": "5s", "MEDIA_UPLOAD_TIMEOUT": "30s"})
    try:
        token = user(srv.port, "uploader@example.com")
        out = {}

        def trickle(name, path, ctype, body, pieces, every):
            """Sends the headers, then `body` in `pieces` pieces `every`
            seconds apart, stopping at an early answer."""
            sock = socket.create_connection((HOST, srv.port), timeout=5)
            head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{srv.port}\r\nConnection: close\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            t0 = time.time()
            sock.sendall(head)
            step = -(-len(body) // pieces)
            sent = 0
            sel = selectors.DefaultSelector()
            sel.register(sock, selectors.EVENT_READ)
            while sent < len(body):
                if sel.select(every):
                    break  # answered before the body ended
                try:
                    sock.sendall(body[sent:sent + step])
                except OSError:
                    break
                sent += step
            try:
                r = read_response(sock, 60)
            except OSError:
                r = None
            took = time.time() - t0
            sel.close()
            sock.close()
            code = json.loads(r[2]).get("code") if r and r[0] >= 400 and r[2] else None
            out[name] = (r[0] if r else None, code, took, min(sent, len(body)), len(body))

        png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x00" * (16 * 1024 - 16)
        boundary = "abuse-boundary"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\""
                f"\r\nContent-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
        mp = f"multipart/form-data; boundary={boundary}"
        json_body = json.dumps({"email": "late@example.com", "password": "password123",
                                "name": "Late"}).encode()
        runs = [
            ("upload over ~15 s", "/api/v1/media", mp, form, 15, 1.0),
            ("upload over ~45 s", "/api/v1/media", mp, form, 45, 1.0),
            ("JSON body over ~10 s (POST /api/v1/auth/register)", "/api/v1/auth/register",
             "application/json", json_body, 10, 1.0),
        ]
        threads = [threading.Thread(target=trickle, args=r) for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, *_ in runs:
            st, code, took, sent, total = out[name]
            figure(8, f"{name}: answer",
                   f"{st}{' ' + code if code else ''} at {took:.1f} s ({sent:,} of {total:,} bytes sent)")
    finally:
        srv.stop()


def main():
    only = os.environ.get("ABUSE_ONLY", "12345678")
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
    if "6" in only:
        scenario_6()
    if "7" in only:
        scenario_7()
    if "8" in only:
        scenario_8()
    print(f"\nabuse took {time.time() - t0:.0f} s")
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump([{"scenario": s, "figure": w, "value": str(v)} for s, w, v in results], f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

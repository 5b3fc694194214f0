#!/usr/bin/env bash
# The interactive API docs (/docs) in a real browser: headless Chromium,
# driven over the DevTools protocol (a pipe, Python's standard library only).
# Starts its own `dealroom serve` on a free loopback port and checks that the
# page renders every operation of the document with exactly its responses, a
# token field only where the operation is secured, and inputs for its header
# parameters; that register, login and a chat session work from the page; that
# an upload through the file picker answers 201 and its download shows size and
# type (and honours Range and If-None-Match); that the event stream shows a
# message posted meanwhile, resumes with Last-Event-ID and stops; and that
# nothing the page does breaks its Content-Security-Policy.
#
# Usage: scripts/browser-test.sh   (`make test-browser` builds first)
# Environment:
#   DATABASE_URL   the database to serve from; unset: a scratch database in this
#                  checkout's local cluster (scripts/pg.sh), dropped at the end
#   CHROMIUM       the browser; unset: chromium, chromium-browser or google-chrome
#   DEALROOM_BIN   the server binary; unset: `cargo build --bin dealroom` and its
#                  target/debug/dealroom
#   BROWSER_TEST_SCREENSHOTS   a directory to write a PNG of the page after each step
# Without a browser it prints why and exits 0 (skipped).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"

browser="${CHROMIUM:-}"
if [ -z "$browser" ]; then
  for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$candidate" >/dev/null 2>&1; then browser=$(command -v "$candidate"); break; fi
  done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null 2>&1; then
  echo "browser test skipped: no Chromium found (apt-get install chromium, or set CHROMIUM)"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "browser test needs python3" >&2; exit 1; }

# The page is compiled into the binary: build it, so that it is this tree's.
if [ -n "${DEALROOM_BIN:-}" ]; then
  bin="$DEALROOM_BIN"
else
  "${CARGO:-cargo}" build --bin dealroom >&2
  bin="${CARGO_TARGET_DIR:-target}/debug/dealroom"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dealroom-browser-test.XXXXXX")
server_pid=""
scratch_db=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$scratch_db" ]; then scripts/pg.sh dropdb "$scratch_db" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${DATABASE_URL:-}" ]; then
  database_url="$DATABASE_URL"
else
  scripts/pg.sh start >/dev/null
  scratch_db="dealroom_browser_test_$$"
  database_url=$(scripts/pg.sh createdb "$scratch_db" 2>/dev/null | tail -n 1)
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
APP_ENV=test DATABASE_URL="$database_url" HOST=127.0.0.1 PORT="$port" BCRYPT_ROUNDS=4 \
  RATE_LIMIT_MAX=1000000 AUTH_RATE_LIMIT_MAX=1000000 MEDIA_STORAGE=disk MEDIA_DIR="$work/media" \
  LOG_LEVEL="${LOG_LEVEL:-warn}" "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=1)' "$base" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "dealroom serve exited:" >&2; cat "$work/server.log" >&2; exit 1
  fi
  sleep 0.2
done

echo "browser test: $("$browser" --version 2>/dev/null | head -n 1) against $base/docs"
status=0
python3 - "$base" "$browser" "$work" <<'PY' || status=$?
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zlib

BASE, BROWSER, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
SHOTS = os.environ.get("BROWSER_TEST_SCREENSHOTS")


class Failure(Exception):
    pass


class Browser:
    """Chromium with --remote-debugging-pipe: commands go in on its fd 3 and
    answers come out on its fd 4, each a JSON text ended by a NUL byte."""

    def __init__(self):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def child():
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(WORK, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--mute-audio", "--window-size=1280,1800", f"--user-data-dir={os.path.join(WORK, 'profile')}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.answers = {}
        self.events = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cond:
                    if "id" in msg:
                        self.answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        with self.cond:
            self.next_id += 1
            ident = self.next_id
        msg = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.to_browser, data):]
        deadline = time.monotonic() + timeout
        with self.cond:
            while ident not in self.answers:
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise Failure(f"no answer from the browser to {method}")
                self.cond.wait(left)
            answer = self.answers.pop(ident)
        if "error" in answer:
            raise Failure(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Page:
    def __init__(self, browser):
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network", "DOM"):
            self.cmd(f"{domain}.enable")
        # Injected by DevTools, so the page's CSP does not apply to it.
        self.cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));")})
        self.shot = 0

    def cmd(self, method, params=None, timeout=30):
        return self.browser.send(method, params, self.session, timeout)

    def events(self, method):
        with self.browser.cond:
            return [e["params"] for e in self.browser.events
                    if e.get("sessionId") == self.session and e.get("method") == method]

    def eval(self, expression):
        r = self.cmd("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise Failure(f"page script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def wait(self, expression, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure(f"timed out waiting for {what}")
            time.sleep(0.1)

    def screenshot(self, name):
        if not SHOTS:
            return
        import base64
        os.makedirs(SHOTS, exist_ok=True)
        self.shot += 1
        data = self.cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        with open(os.path.join(SHOTS, f"{self.shot:02d}-{name}.png"), "wb") as f:
            f.write(base64.b64decode(data))


def png_1x1():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x80\x00")) + chunk(b"IEND", b""))


# Helpers the checks call inside the page; `id` is an operation's anchor
# (`post-/api/v1/auth/register`).
HELPERS = r"""
window.T = {
  op(id) { const d = document.getElementById(id); if (!d) throw new Error(`no operation ${id}`); return d; },
  open(id) { const d = this.op(id); d.open = true; d.scrollIntoView(); return true; },
  input(id, name) { return this.op(id).querySelector(`.params [name="${name}"]`); },
  set(id, name, value) { const i = this.input(id, name); i.value = value; i.dispatchEvent(new Event("input")); return true; },
  body(id) { return this.op(id).querySelector(".try textarea"); },
  editBody(id, change) { const t = this.body(id); const v = JSON.parse(t.value); change(v); t.value = JSON.stringify(v); return true; },
  send(id) { this.op(id).querySelector("button.send").click(); return true; },
  idle(id) { return !this.op(id).querySelector("button.send").disabled; },
  status(id) { const s = this.op(id).querySelector(".out .status"); return s ? s.textContent : ""; },
  text(id) { return this.op(id).querySelector(".out").innerText; },
  json(id) { const pre = this.op(id).querySelector(".out > pre"); return pre ? JSON.parse(pre.textContent) : null; },
};
true
"""

REGISTER = "post-/api/v1/auth/register"
LOGIN = "post-/api/v1/auth/login"
NEW_SESSION = "post-/api/v1/sessions"
POST_MESSAGE = "post-/api/v1/sessions/{id}/messages"
EVENTS = "get-/api/v1/sessions/{id}/events"
UPLOAD = "post-/api/v1/media"
DOWNLOAD = "get-/api/v1/media/{id}"


def ok(message):
    print(f"  ok: {message}", flush=True)


def js(value):
    return json.dumps(value)


def answered(page, op, status, what):
    """Waits for the operation's answer; it must start with `status`."""
    page.wait(f"T.status({js(op)}) !== '' && T.idle({js(op)})", what)
    got = page.eval(f"T.status({js(op)})")
    if not got.startswith(str(status)):
        raise Failure(f"{what}: expected {status}, got {got}: {page.eval(f'T.text({js(op)})')[:800]}")


def requests_to(page, path):
    return [e["request"] for e in page.events("Network.requestWillBeSent")
            if e["request"]["url"].split("?")[0] == BASE + path]


def header(request, name):
    return next((v for k, v in request["headers"].items() if k.lower() == name.lower()), None)


def run(page):
    doc = json.load(urllib.request.urlopen(BASE + "/api/v1/openapi.json"))
    ops = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                ops[f"{method}-{path}"] = op

    page.cmd("Page.navigate", {"url": BASE + "/docs"})
    page.wait(f"document.querySelectorAll('details.op').length === {len(ops)}", "every operation to render")
    page.eval(HELPERS)
    rendered = page.eval("[...document.querySelectorAll('details.op')].map((d) => d.id)")
    if set(rendered) != set(ops):
        raise Failure(f"rendered operations differ: missing {set(ops) - set(rendered)}, extra {set(rendered) - set(ops)}")
    ok(f"renders all {len(ops)} operations")

    shown = page.eval("""Object.fromEntries([...document.querySelectorAll('details.op')].map((d) => [d.id, {
      responses: (() => { const h = [...d.querySelectorAll('h4')].find((x) => x.textContent === 'Responses');
        return [...h.nextElementSibling.querySelectorAll('tr')].slice(1).map((r) => r.cells[0].textContent); })(),
      auth: d.querySelector('.try .auth') !== null,
      headers: [...d.querySelectorAll('.try .params .row')].filter((r) => r.querySelector('.pin').textContent === 'header')
        .map((r) => r.querySelector('[name]').getAttribute('name')),
      files: [...d.querySelectorAll('.try input[type=file]')].map((i) => i.name),
      bodies: [...d.querySelectorAll('textarea')].map((t) => t.value),
    }]))""")
    for anchor, op in ops.items():
        got = shown[anchor]
        if got["responses"] != list(op["responses"]):
            raise Failure(f"{anchor}: responses table {got['responses']} but the document says {list(op['responses'])}")
        secured = any(r for r in op.get("security", doc.get("security", [])))
        if got["auth"] != secured:
            raise Failure(f"{anchor}: token note shown={got['auth']} but secured={secured}")
        wanted = [p["name"] for p in op.get("parameters", []) if p.get("in") == "header"]
        if got["headers"] != wanted:
            raise Failure(f"{anchor}: header inputs {got['headers']}, the document has {wanted}")
        for body in got["bodies"]:
            if '"string"' in body:
                raise Failure(f"{anchor}: a \"string\" placeholder in an example body: {body}")
            json.loads(body)
    ok("each responses table lists exactly the document's statuses")
    ok("a token note on every secured operation, none on the public ones")
    ok("header parameters have inputs (Last-Event-ID, Range, If-None-Match, If-Range)")
    ok("example bodies are JSON without \"string\" placeholders")
    if shown[UPLOAD]["files"] != ["file"]:
        raise Failure(f"the upload's file inputs are {shown[UPLOAD]['files']}")
    ok("the upload has a file picker for its `file` part")
    page.screenshot("rendered")

    # Register, then take its accessToken from the answer.
    email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    page.eval(f"T.open({js(REGISTER)}) && T.editBody({js(REGISTER)}, (v) => {{ v.email = {js(email)}; }}) && T.send({js(REGISTER)})")
    answered(page, REGISTER, 201, "register")
    registered = page.eval(f"T.json({js(REGISTER)})")
    password = json.loads(page.eval(f"T.body({js(REGISTER)}).value"))["password"]
    page.eval(f"T.op({js(REGISTER)}).querySelector('.out button.secondary').click(), true")
    if page.eval("document.getElementById('token').value") != registered["data"]["tokens"]["accessToken"]:
        raise Failure("'Use this accessToken' did not fill the token field")
    links = page.eval(f"[...T.op({js(REGISTER)}).querySelectorAll('.out .hint a')].map((a) => a.textContent)")
    if "GET /api/v1/users/{id}" not in links:
        raise Failure(f"the register answer's links list {links}")
    if page.eval(f"T.input('get-/api/v1/users/{{id}}', 'id').value") != registered["data"]["user"]["id"]:
        raise Failure("the links did not fill the new user's id into GET /users/{id}")
    ok(f"register from the page: 201, {email}; its accessToken fills the token field, its links the user's id")
    page.screenshot("registered")

    # Login is public: no Authorization header although a token is set.
    page.eval(f"T.open({js(LOGIN)}) && T.editBody({js(LOGIN)}, (v) => {{ v.email = {js(email)}; v.password = {js(password)}; }}) && T.send({js(LOGIN)})")
    answered(page, LOGIN, 200, "login")
    sent = requests_to(page, "/api/v1/auth/login")
    if not sent or any(header(r, "Authorization") for r in sent):
        raise Failure(f"login (public) was sent with an Authorization header: {sent}")
    ok("login from the page: 200, sent without Authorization (a public operation)")

    # A chat session; the document's links fill its id into the operations on it.
    page.eval(f"T.open({js(NEW_SESSION)}) && T.send({js(NEW_SESSION)})")
    answered(page, NEW_SESSION, 201, "create a chat session")
    session_id = page.eval(f"T.json({js(NEW_SESSION)}).data.session.id")
    sent = requests_to(page, "/api/v1/sessions")
    if not sent or not all((header(r, "Authorization") or "").startswith("Bearer ") for r in sent):
        raise Failure("POST /sessions was sent without the bearer token")
    if page.eval(f"T.input({js(POST_MESSAGE)}, 'id').value") != session_id:
        raise Failure("the links did not fill the new session's id into POST /sessions/{id}/messages")
    ok(f"create a chat session: 201 with Authorization: Bearer; its id fills the linked operations")

    # Upload through the file picker.
    picture = os.path.join(WORK, "pixel.png")
    with open(picture, "wb") as f:
        f.write(png_1x1())
    page.eval(f"T.open({js(UPLOAD)})")
    handle = page.cmd("Runtime.evaluate", {"expression": f"T.op({js(UPLOAD)}).querySelector('input[type=file]')"})
    page.cmd("DOM.setFileInputFiles", {"files": [picture], "objectId": handle["result"]["objectId"]})
    page.eval(f"T.send({js(UPLOAD)})")
    answered(page, UPLOAD, 201, "upload")
    media = page.eval(f"T.json({js(UPLOAD)}).data.media")
    if media["mimeType"] != "image/png" or media["fileName"] != "pixel.png":
        raise Failure(f"the upload stored {media}")
    sent = requests_to(page, "/api/v1/media")
    if not (header(sent[-1], "Content-Type") or "").startswith("multipart/form-data; boundary="):
        raise Failure(f"the upload's Content-Type was {header(sent[-1], 'Content-Type')}")
    ok(f"upload via the file picker: 201, multipart/form-data, {media['mimeType']}, {media['sizeBytes']} bytes")
    page.screenshot("uploaded")

    # Download: size and type and a blob: download link, never an <img>.
    page.eval(f"T.open({js(DOWNLOAD)}) && T.set({js(DOWNLOAD)}, 'id', {js(media['id'])}) && T.send({js(DOWNLOAD)})")
    answered(page, DOWNLOAD, 200, "download")
    text = page.eval(f"T.text({js(DOWNLOAD)})")
    if f"{media['sizeBytes']} bytes of image/png" not in text:
        raise Failure(f"the download shows {text!r}")
    link = page.eval(f"(() => {{ const a = T.op({js(DOWNLOAD)}).querySelector('.out a[download]'); return a && [a.href, a.download]; }})()")
    if not link or not link[0].startswith("blob:") or link[1] != "pixel.png":
        raise Failure(f"the download link is {link}")
    if page.eval("document.querySelectorAll('img').length"):
        raise Failure("the page shows an <img>")
    ok(f"download: 200, shown as {media['sizeBytes']} bytes of image/png with a blob: link saving pixel.png")
    page.eval(f"T.set({js(DOWNLOAD)}, 'Range', 'bytes=0-9') && T.send({js(DOWNLOAD)})")
    answered(page, DOWNLOAD, 206, "a ranged download")
    if "10 bytes of image/png, bytes 0-9/" not in page.eval(f"T.text({js(DOWNLOAD)})"):
        raise Failure(f"the ranged download shows {page.eval(f'T.text({js(DOWNLOAD)})')!r}")
    page.eval(f"T.set({js(DOWNLOAD)}, 'Range', '') && T.set({js(DOWNLOAD)}, 'If-None-Match', {js(chr(34) + media['sha256'] + chr(34))}) && T.send({js(DOWNLOAD)})")
    answered(page, DOWNLOAD, 304, "a conditional download")
    ok("header parameters are sent: Range gives 206 (10 bytes), If-None-Match gives 304")

    # The event stream: live, an event posted meanwhile, Stop, and resuming.
    page.eval(f"T.open({js(EVENTS)}) && T.set({js(EVENTS)}, 'id', {js(session_id)}) && T.send({js(EVENTS)})")
    page.wait(f"T.status({js(EVENTS)}).startsWith('200') && T.op({js(EVENTS)}).querySelector('ol.events li.event') !== null",
              "the event stream to open")
    opening = page.eval(f"/id (\\S+)/.exec(T.op({js(EVENTS)}).querySelector('ol.events li.event .ev-meta').textContent)[1]")
    content = f"hello from the docs page {uuid.uuid4().hex[:8]}"
    page.eval(f"T.open({js(POST_MESSAGE)}) && T.editBody({js(POST_MESSAGE)}, (v) => {{ v.content = {js(content)}; delete v.clientMessageId; }}) && T.send({js(POST_MESSAGE)})")
    answered(page, POST_MESSAGE, 201, "post a message")
    page.wait(f"""[...T.op({js(EVENTS)}).querySelectorAll('ol.events li.event')].some((li) =>
        li.querySelector('.ev-name').textContent === 'message.created' && li.textContent.includes({js(content)}))""",
              "the posted message on the event stream")
    ok("event stream: 200, the message posted meanwhile shows as message.created")
    page.screenshot("streaming")
    page.eval(f"T.op({js(EVENTS)}).querySelector('button.stop').click(), true")
    page.wait(f"T.idle({js(EVENTS)}) && T.text({js(EVENTS)}).includes('Stopped')", "Stop to end the stream")
    ok("Stop aborts the stream")
    page.eval(f"T.set({js(EVENTS)}, 'Last-Event-ID', {js(opening)}) && T.send({js(EVENTS)})")
    page.wait(f"""[...T.op({js(EVENTS)}).querySelectorAll('ol.events li.event')].some((li) =>
        li.querySelector('.ev-name').textContent === 'message.created' && li.textContent.includes({js(content)}))""",
              "the missed message replayed after Last-Event-ID")
    sent = requests_to(page, f"/api/v1/sessions/{session_id}/events")
    if header(sent[-1], "Last-Event-ID") != opening:
        raise Failure(f"Last-Event-ID sent as {header(sent[-1], 'Last-Event-ID')!r}")
    page.eval(f"T.op({js(EVENTS)}).querySelector('button.stop').click(), true")
    page.wait(f"T.idle({js(EVENTS)})", "Stop to end the resumed stream")
    ok(f"Last-Event-ID {opening} is sent and replays the missed message; Stop again")

    violations = page.eval("window.__cspViolations")
    logged = [e["entry"]["text"] for e in page.events("Log.entryAdded")
              if "Content Security Policy" in e["entry"]["text"] or e["entry"].get("source") == "security"]
    logged += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["args"])
               for e in page.events("Runtime.consoleAPICalled") if e["type"] in ("error", "assert")]
    thrown = [e["exceptionDetails"].get("exception", {}).get("description") or e["exceptionDetails"].get("text")
              for e in page.events("Runtime.exceptionThrown")]
    if violations or logged or thrown:
        raise Failure(f"CSP violations {violations}, errors logged {logged}, exceptions {thrown}")
    ok("no CSP violation, console error or uncaught exception")


browser = Browser()
try:
    run(Page(browser))
except Failure as e:
    print(f"FAIL: {e}", file=sys.stderr)
    sys.exit(1)
finally:
    browser.close()
print("browser test passed")
PY

if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$work/server.log" >&2
  [ -f "$work/chromium.log" ] && { echo "--- chromium log (last 20 lines)" >&2; tail -n 20 "$work/chromium.log" >&2; }
fi
exit "$status"

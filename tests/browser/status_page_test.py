#!/usr/bin/env python3
"""The status page in a real browser: headless Chromium against a real `yoke run`.

In a temp folder, on 127.0.0.1 with free ports, it starts `yoke run` and drops three versions
of the fixture service (small shell scripts exec'ing it):
  1.0.0  becomes running;
  2.0.0  exits at once, so it is rejected: the decision list has an entry;
  3.0.0  answers 404 on /lost, 5xx on 5% of requests and logs an error on /items. The judge is
         tuned never to decide, so 3.0.0 stays under test while the page is read.
With load going through the proxy, it loads http://127.0.0.1:<admin>/ in
`chromium --headless=new --dump-dom`, reads the values off the page by their ids, and checks
them against /status fetched just before and just after: versions, ports and pids exactly,
counters between the two readings; the Meta panel shows the embedded repository yoke keeps by
default. It follows the page's link to the newest decision. Then it serves the same page with a
canned /status whose meta remote is unreachable with commits queued, and checks the panel
turns into a warning, and whose meta shows three hosts: the Fleet panel lists them. The history charts, the timeline (with /decisions), the clean-pass line and
the times with their zone are read off the same DOM. Then it drives the page through Chromium's
DevTools protocol (over --remote-debugging-pipe): a wrong token is refused and forgotten, the
right one (typed once, kept in memory: no cookie, no storage) rejects 3.0.0, the page shows the
decision's id, /status agrees, and the panels of the finished window are cleared. Last it takes a screenshot (--screenshot, else $YOKE_STATUS_PAGE_SCREENSHOT, else in the temp folder)
and prints where it is.

Stdlib only. Every wait has a deadline, every process it starts is stopped by its pid (SIGTERM,
then SIGKILL). Exits 0 when every check holds, 1 with a message naming the failed check.
"""
import argparse
import ctypes
import fcntl
import html.parser
import re
import select
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CHROMIUM_TIMEOUT_S = 60
JUDGE_MIN_WINDOW_S = 600


class Failure(Exception):
    pass


def log(text):
    print(f"status_page_test: {text}", flush=True)


def check(condition, what):
    if not condition:
        raise Failure(what)


_reserved_ports = []  # lock files held open until this process ends


def free_ports(count=1):
    """The first of `count` consecutive ports below the kernel's ephemeral range, nothing
    listening on them, reserved against the other test processes by a lock on
    /tmp/yoke-test-ports/<port> each (as FreePorts() in tests/fakes/process_harness.cc): a port
    from bind(0) may be taken by any process's next outgoing connection before the server it
    was meant for binds it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    first = max(1024, low - 12000)
    folder = "/tmp/yoke-test-ports"
    os.makedirs(folder, mode=0o1777, exist_ok=True)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(2000):
        start = rng.randrange(first, low - count + 1)
        held = []
        for port in range(start, start + count):
            lock = open(os.path.join(folder, str(port)), "a")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
                    s.listen(1)
            except OSError:
                lock.close()
                break
            held.append(lock)
        if len(held) == count:
            _reserved_ports.extend(held)
            return start
        for lock in held:
            lock.close()
    raise Failure("no free port found")


def get(port, path, timeout=5):
    """GET on 127.0.0.1 with http.client, so no proxy from the environment gets in the way."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, res.getheader("Content-Type", ""), res.read().decode("utf-8", "replace")
    finally:
        conn.close()


def status_of(admin):
    return status(admin)


def status(admin):
    try:
        code, _, body = get(admin, "/status")
        return json.loads(body) if code == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def drop(base, name, content):
    hidden = os.path.join(base, "." + name + ".writing")
    with open(hidden, "w") as f:
        f.write(content)
    os.chmod(hidden, 0o755)
    os.rename(hidden, os.path.join(base, name))


class Load:
    """Steady user traffic through yoke's proxy; bounded in time and count."""

    def __init__(self, port, paths, threads=2, max_requests=200000, max_seconds=120):
        self.port, self.paths = port, paths
        self.stop = threading.Event()
        self.answered = 0
        self.lock = threading.Lock()
        self.max_requests, self.deadline = max_requests, time.monotonic() + max_seconds
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        conn = None
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            with self.lock:
                if self.answered >= self.max_requests:
                    return
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.paths[i % len(self.paths)])
                conn.getresponse().read()
                with self.lock:
                    self.answered += 1
            except (OSError, http.client.HTTPException):
                if conn:
                    conn.close()
                conn = None
            i += 1
            self.stop.wait(0.002)
        if conn:
            conn.close()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


class PageValues(html.parser.HTMLParser):
    """Collects, from the dumped DOM, every element's text and data-* attributes by id, the
    rows of the tables (by data-route, data-id, data-gate) and the new error kinds."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.by_id = {}
        self.rows = {"route": {}, "id": {}, "gate": {}, "host": {}}
        self.kinds = {}
        self.body = {}
        self.links = []
        self.stack = []  # open elements: (tag, id, attrs, text parts)
        self.row = None  # the open table row: (kind, key, cells)
        self.row_attrs = {}
        self.host_classes = {}  # the Fleet panel's rows: host -> class
        self.tag_names = set()

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def handle_starttag(self, tag, attrs):
        self.tag_names.add(tag)
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "tr":
            for kind in self.rows:
                if f"data-{kind}" in a:
                    self.row = (kind, a[f"data-{kind}"], [])
                    self.row_attrs = a
        if tag == "li" and "data-kind" in a:
            self.kinds[a["data-kind"]] = int(a.get("data-value", "0"))
        if tag == "td" and self.row is not None:
            self.row[2].append(a)
        if tag not in self.VOID:
            self.stack.append((tag, a.get("id"), a, []))

    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            kind, key, cells = self.row
            self.rows[kind][key] = cells
            if kind == "host":
                self.host_classes[key] = self.row_attrs.get("class", "")
            self.row = None
        while self.stack:
            open_tag, ident, attrs, parts = self.stack.pop()
            text = "".join(parts)
            if self.stack:
                self.stack[-1][3].append(text)
            if ident:
                self.by_id[ident] = {"text": text.strip(), **attrs}
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][3].append(data)

    def text(self, ident):
        check(ident in self.by_id, f"the page has no element #{ident}")
        return self.by_id[ident]["text"]

    def number(self, ident):
        check(ident in self.by_id, f"the page has no element #{ident}")
        value = self.by_id[ident].get("data-value", "")
        check(value != "", f"#{ident} has no data-value (text {self.by_id[ident]['text']!r})")
        return int(value)


def chromium_run(chromium, profile, url, extra, timeout=CHROMIUM_TIMEOUT_S):
    """Runs headless Chromium once in its own process group; returns (stdout, stderr)."""
    argv = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-dev-shm-usage", "--disable-extensions", "--no-proxy-server",
            "--hide-scrollbars", f"--user-data-dir={profile}",
            "--virtual-time-budget=4000", *extra, url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise Failure(f"chromium did not finish within {timeout} s: {' '.join(argv)}")
    finally:
        stop_group(proc)  # helpers Chromium left in its group, if any
    check(proc.returncode == 0, f"chromium exited with {proc.returncode}: {err.decode()[-2000:]}")
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def stop_group(proc):
    """SIGTERM to the process group led by `proc` (a pid this script started), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; helpers may still be in the group for a moment.
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return


def between(name, before, page, after):
    check(before <= page <= after,
          f"{name}: the page shows {page}, not between /status before ({before}) and after ({after})")


def check_page(page, before, after, admin):
    """The page's values against /status read just before and just after the page was."""
    check(page.body.get("data-state") == "ok",
          f"the page did not load /status (data-state={page.body.get('data-state')!r}; "
          f"#conn says {page.by_id.get('conn', {}).get('text')!r})")
    check(int(page.body.get("data-fetches", "0")) >= 1, "the page rendered no /status")
    check(page.text("service") == after["service"], "service name differs")
    check("hidden" in page.by_id["panel-fleet"], "the Fleet panel shows though meta has one host")

    # Roles: exact, and stable between the two readings.
    for role in ("running", "testing"):
        b, a = before[role], after[role]
        check(b and a, f"no {role} instance in /status")
        for field in ("version", "port", "pid", "instance"):
            check(b[field] == a[field], f"{role}.{field} changed while the page was read")
        check(page.text(f"{role}-version") == a["version"],
              f"{role} version: page {page.text(role + '-version')!r}, /status {a['version']!r}")
        for field in ("port", "pid", "instance"):
            check(page.number(f"{role}-{field}") == a[field],
                  f"{role} {field}: page {page.number(role + '-' + field)}, /status {a[field]}")
        check(page.text(f"{role}-state") == "up", f"{role} is not shown up")
        between(f"{role} uptime", b["uptime_s"], page.number(f"{role}-uptime"), a["uptime_s"])

    # Evidence counters only grow while one candidate is under test.
    tb, ta = before["evidence"]["total"], after["evidence"]["total"]
    for ident, field in (("ev-pairs", "pairs"), ("ev-same", "same_status"),
                         ("ev-t5xx", "testing_5xx_running_not"),
                         ("ev-t4xx", "testing_4xx_running_ok"),
                         ("ev-noanswer", "testing_no_answer"),
                         ("rate-testing-5xx", "testing_errors"),
                         ("rate-running-5xx", "running_errors"),
                         ("rate-testing-4xx", "testing_4xx"), ("rate-running-4xx", "running_4xx")):
        between(ident, tb[field], page.number(ident), ta[field])
    check(page.number("ev-pairs") > 0, "the page shows no pairs")
    check(page.number("ev-t4xx") > 0, "the page shows no 4xx where running was ok")
    check(page.text("ev-candidate") == after["evidence"]["candidate"], "candidate differs")

    lb, la = before["evidence"]["logs"], after["evidence"]["logs"]
    for side in ("running", "testing"):
        for field in ("errors", "warnings", "requests"):
            between(f"{side} log {field}", lb[side][field], page.number(f"log-{side}-{field}"),
                    la[side][field])
    check(page.number("log-testing-errors") > 0, "the page shows no testing log errors")
    kinds_after = {k["kind"]: k["count"] for k in la["new_error_kinds"]}
    check(page.kinds, "the page lists no new error kind")
    for kind, count in page.kinds.items():
        check(kind in kinds_after and count <= kinds_after[kind],
              f"new error kind {kind!r} ({count}) is not in /status after: {kinds_after}")

    # Per route: the lost route is there, its counters between the readings.
    routes = page.rows["route"]
    check("/lost" in routes, f"no row for /lost in the routes table: {sorted(routes)}")
    for route, cells in routes.items():
        for c in cells:
            field = c.get("data-field")
            if not field:
                continue
            rb = before["evidence"]["routes"].get(route, {}).get(field, 0)
            ra = after["evidence"]["routes"].get(route, {}).get(field)
            check(ra is not None, f"route {route} is on the page but not in /status after")
            between(f"route {route} {field}", rb, int(c["data-value"]), ra)
    check(int(next(c for c in routes["/lost"] if c.get("data-field") ==
                   "testing_4xx_running_ok")["data-value"]) > 0, "/lost shows no lost answers")

    # Each route's own 5xx gate as the judge last read it: counts between the readings, an
    # outcome the judge gives (never "fail": this judge is tuned never to decide).
    gate_rows = 0
    for route, cells in routes.items():
        gb = before["evidence"]["routes"].get(route, {}).get("judge_5xx") or {}
        ga = after["evidence"]["routes"].get(route, {}).get("judge_5xx")
        for c in cells:
            kind = c.get("data-judge")
            if not kind:
                continue
            check(ga is not None, f"route {route} shows a 5xx gate that /status after lacks")
            if kind == "rates":
                gate_rows += 1
                for field in ("testing_count", "testing_total", "running_count", "running_total"):
                    attr = "data-" + field.replace("_", "-")
                    between(f"route {route} 5xx gate {field}", gb.get(field, 0), int(c[attr]),
                            ga[field])
            elif kind == "outcome":
                check(c["data-value"] in ("pass", "wait", "not judged"),
                      f"route {route} 5xx gate outcome {c['data-value']!r}")
            elif kind == "margin":
                check(0 < float(c["data-value"]) < 1, f"route {route} margin {c['data-value']}")
    check(gate_rows > 0, "no route shows its 5xx gate")

    # The judge's reading and the time left in the minimum window.
    ja, jb = after["judge"], before["judge"]
    check(page.text("judge-verdict") == ja["verdict"] == "wait",
          f"judge verdict: page {page.text('judge-verdict')!r}, /status {ja['verdict']!r}")
    check(page.text("judge-reason").startswith("window "),
          f"judge reason: {page.text('judge-reason')!r}")
    check(page.number("judge-min-window") == ja["min_window_s"] == JUDGE_MIN_WINDOW_S,
          "min window differs")
    check(page.number("judge-min-pairs") == ja["min_pairs"], "min pairs differ")
    between("judge window", jb["window_s"], page.number("judge-window"), ja["window_s"])
    between("judge pairs", jb["pairs"], page.number("judge-pairs"), ja["pairs"])
    between("time left", ja["min_window_s"] - ja["window_s"], page.number("judge-time-left"),
            jb["min_window_s"] - jb["window_s"])
    check(page.number("judge-time-left") == page.number("judge-min-window") -
          page.number("judge-window"), "time left is not min window - window")
    check(0 <= page.number("judge-progress") < 100, "progress bar out of range")
    check(set(page.rows["gate"]) == {g["name"] for g in ja["gates"]},
          f"gates differ: page {sorted(page.rows['gate'])}")

    # The clean-pass line: what a promotion needs (min_pairs here, a million) and what is left.
    needed = max(ja.get("clean_pass_pairs", 0), ja["min_pairs"])
    check(page.number("judge-clean-pairs") == needed,
          f"clean pass needs: page {page.number('judge-clean-pairs')}, /status {needed}")
    between("pairs left", needed - ja["pairs"], page.number("judge-pairs-left"),
            needed - jb["pairs"])
    check(page.text("judge-eta").startswith("about "), f"eta: {page.text('judge-eta')!r}")
    check(ja.get("clean_pass_pairs", 0) >= 2000,
          f"/status judge.clean_pass_pairs is {ja.get('clean_pass_pairs')}, not the judge's figure")
    # /status gates carry their numbers.
    g5 = next(g for g in ja["gates"] if g["name"] == "5xx")
    check(g5.get("testing_total", 0) > 0 and "z" in g5 and "margin" in g5,
          f"/status's 5xx gate has no figures: {g5}")

    # Times with their zone.
    zoned = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$")
    check(zoned.match(page.text("updated")), f"updated: {page.text('updated')!r} has no zone")

    # History: the charts are drawn from /status/history, never more points than it had after.
    code, _, body = get(admin, "/status/history")
    check(code == 200, f"GET /status/history: {code}")
    history = json.loads(body)
    points = int(page.by_id["panel-history"].get("data-points", "0"))
    check(1 <= points <= len(history["points"]) <= history["capacity"],
          f"history points: page {points}, /status/history {len(history['points'])}")
    check(history["interval_s"] == 2, f"history interval {history['interval_s']}")
    for chart in ("chart-errors", "chart-latency", "chart-rate"):
        check(int(page.by_id[chart].get("data-points", "0")) == points,
              f"#{chart} drew {page.by_id[chart].get('data-points')} points, not {points}")
    newest = history["points"][-1]
    check(newest["candidate"] == "3.0.0" and newest["pairs"] > 0,
          f"the newest history point is not 3.0.0's window: {newest}")
    check(any(p["testing_p50_ms"] is not None for p in history["points"]),
          "no history point has testing's latency")

    # The timeline: every decision /decisions gives, with the rejection of 2.0.0.
    code, _, body = get(admin, "/decisions?limit=200")
    check(code == 200, f"GET /decisions: {code}")
    timeline = json.loads(body)
    check(page.number("timeline-count") == len(timeline["decisions"]) and
          page.number("timeline-total") == timeline["total"],
          f"timeline: page {page.number('timeline-count')} of {page.number('timeline-total')}, "
          f"/decisions {len(timeline['decisions'])} of {timeline['total']}")
    check(any(d["to_version"] == "2.0.0" and d["verdict"] == "REJECT"
              for d in timeline["decisions"]), f"/decisions lacks the rejection: {timeline}")
    # Actions are off until a token is given.
    check(page.by_id["token-state"].get("data-value") == "0", "the page starts with a token")

    pb, pa = before["proxy"], after["proxy"]
    between("proxy requests", pb["requests"], page.number("proxy-requests"), pa["requests"])
    between("mirror sent", before["mirror"]["sent"], page.number("mirror-sent"),
            after["mirror"]["sent"])

    # Decisions: the newest is the rejection of 2.0.0, with a link that serves it in full.
    da = after["decisions"]
    check(page.number("decisions-total") == da["total"] >= 1, "decision count differs")
    newest = da["recent"][0]
    check(newest["id"] in page.rows["id"], f"decision {newest['id']} is not on the page")
    href = "decisions/" + urllib.parse.quote(newest["id"], safe="")
    check(href in page.links, f"no link {href} on the page: {page.links}")
    code, ctype, text = get(admin, "/" + href)
    check(code == 200 and ctype.startswith("text/plain"), f"GET /{href}: {code} {ctype}")
    check('verdict: REJECT' in text and 'to_version: "2.0.0"' in text,
          f"GET /{href} is not the rejection of 2.0.0:\n{text}")
    code, _, _ = get(admin, "/decisions/..%2Fstate%2Fadmin.token")
    check(code == 400, f"a traversal id was answered {code}, not 400")

    # Meta: the config has no meta {}, so yoke keeps the embedded <base>/meta with no remote;
    # its commits (the host status, the rejection of 2.0.0) are counted, none is queued.
    mb, ma = before["meta"], after["meta"]
    check(page.text("meta-repository") == ma["repository"] == mb["repository"] and
          ma["repository"].endswith("/meta"),
          f"meta repository: page {page.text('meta-repository')!r}, /status {ma['repository']!r}")
    check(page.text("meta-remote") == "no remote (embedded)",
          f"meta remote: page {page.text('meta-remote')!r}, /status url {ma['url']!r}")
    check(page.text("meta-channel-release") == (ma["channel_release"] or "none"),
          f"channel's release: page {page.text('meta-channel-release')!r}")
    for ident, field in (("meta-commits", "commits"), ("meta-queued", "queued"),
                         ("meta-bad-records", "bad_records"),
                         ("meta-artifact-failures", "artifact_failures")):
        between(ident, mb[field], page.number(ident), ma[field])
    check(ma["commits"] >= 1, f"no commit to meta after a decision: {ma}")
    check(page.number("meta-queued") == 0, "the embedded meta shows commits queued")
    check(page.text("meta-last-error") == (ma["last_error"] or "none"),
          f"meta last error: page {page.text('meta-last-error')!r}, /status {ma['last_error']!r}")
    check(page.by_id["panel-meta"].get("data-warn") == "0",
          "the Meta panel warns about the embedded repository")


HOSTILE = '<img src=x onerror="document.title=1">"\\'


def check_meta_warning(chromium, work, page_html, status_json):
    """The page served with a canned /status in which meta's remote does not answer and commits
    are queued: the Meta panel and the banner must say so."""
    s = json.loads(json.dumps(status_json))
    url = "file:///nowhere/meta.git"
    s["meta"].update(url=url, remote_ok=False, queued=3, fetches=7, fetch_failures=7,
                     last_error="cannot fetch from " + url)
    # Meta with three hosts, one of them stale, and a rollout: the Fleet panel shows them.
    seen = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600))
    s["meta"]["fleet"] = {
        "project": "hello", "env": "prod", "commit": "0123456789abcdef",
        "members": [
            {"host": "web1", "service": "hello", "channel": "stable", "running": "2.0.0",
             "judge": "idle", "last_verdict": "promote", "seen": seen, "stage": "1/2 canary"},
            {"host": "web2", "service": "hello", "channel": "stable", "running": "1.0.0",
             "testing": "2.0.0", "judge": "judging", "seen": seen, "stage": "2/2 all"},
            {"host": "web3", "service": "hello", "channel": "stable", "running": "1.0.0",
             "judge": "unknown", "seen": seen, "stale": True, "stage": "2/2 all"},
            # Names come from meta, which anyone with push access writes: text, never markup.
            {"host": HOSTILE, "service": "hello", "channel": "stable", "running": HOSTILE,
             "judge": "idle", "seen": "not a time", "stage": HOSTILE}],
        "rollouts": [{"channel": "stable", "release": "2.0.0", "stage": "2/2 all",
                      "state": "rolling", "detail": "waits for web2"}]}
    bodies = {"/": ("text/html; charset=utf-8", page_html),
              "/status": ("application/json", json.dumps(s))}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ctype, body = bodies.get(self.path.split("?")[0], ("text/plain", None))
            data = (body if body is not None else "not found").encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dom, _ = chromium_run(chromium, os.path.join(work, "chromium"),
                              f"http://127.0.0.1:{server.server_address[1]}/", ["--dump-dom"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    page = PageValues()
    page.feed(dom)
    page.close()
    check(page.body.get("data-state") == "ok", "the page did not load the canned /status")
    check(page.by_id["panel-meta"].get("data-warn") == "1",
          "the Meta panel does not warn about an unreachable remote with commits queued")
    check(page.text("meta-remote") == url, f"meta remote: {page.text('meta-remote')!r}")
    check(page.text("meta-remote-state") == "unreachable",
          f"remote state: {page.text('meta-remote-state')!r}")
    check(page.number("meta-queued") == 3, f"queued: {page.number('meta-queued')}")
    check("warn-text" in page.by_id["meta-queued"].get("class", ""), "queued is not highlighted")
    check(page.text("meta-last-error") == "cannot fetch from " + url, "last error differs")
    check("hidden" not in page.by_id["panel-fleet"], "the Fleet panel is hidden with 4 hosts")
    check(page.number("fleet-count") == 4, f"fleet count: {page.number('fleet-count')}")
    check(page.text("fleet-env") == "hello/prod", f"fleet env: {page.text('fleet-env')!r}")
    check(sorted(page.rows["host"]) == sorted(["web1", "web2", "web3", HOSTILE]),
          f"fleet rows: {sorted(page.rows['host'])}")
    check("img" not in page.tag_names, "a host name from meta became markup on the page")
    check("host-stale" in page.host_classes.get("web3", "") and
          "host-stale" not in page.host_classes.get("web1", ""),
          f"the stale host is not marked: {page.host_classes}")
    check(page.text("fleet-rollouts") ==
          "rollout stable 2.0.0: rolling, stage 2/2 all (waits for web2)",
          f"fleet rollouts: {page.text('fleet-rollouts')!r}")
    banner = page.text("banner")
    check("meta's remote is unreachable" in banner and "3 meta commits wait to be pushed" in banner,
          f"the banner does not warn about meta: {banner!r}")


class Cdp:
    """Chromium's DevTools protocol over --remote-debugging-pipe (JSON messages ended by NUL on
    fds 3 and 4 of the browser), enough to evaluate JavaScript in the page. Every read has a
    deadline; the browser runs in its own process group and is stopped by its pid."""

    def __init__(self, chromium, profile, url):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        argv = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--disable-extensions", "--no-proxy-server",
                f"--user-data-dir={profile}", "--remote-debugging-pipe", url]
        # The shell puts the pipe's ends on fds 3 and 4, where Chromium looks for them. bash, not
        # sh: dash refuses a redirection from an fd above 9, and the pipe's ends often are.
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}', "sh", *argv],
            pass_fds=(to_browser_r, from_browser_w), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        check(page is not None, f"chromium has no page target: {targets}")
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True})["sessionId"]

    def call(self, method, params=None, timeout=20, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    check("error" not in answer, f"{method}: {answer.get('error')}")
                    return answer["result"]
            left = deadline - time.monotonic()
            check(left > 0, f"chromium did not answer {method} within {timeout} s")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                check(chunk, f"chromium closed its pipe during {method}")
                self.buffer += chunk

    def eval(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        check("exceptionDetails" not in result, f"{expression}: {result.get('exceptionDetails')}")
        return result["result"].get("value")

    def wait(self, what, expression, timeout=20):
        return wait_for(what, lambda: self.eval(expression), timeout)

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Failure:
            pass
        stop_group(self.proc)
        os.close(self.to_browser)
        os.close(self.from_browser)


def check_actions(chromium, work, admin, base):
    """Drives the page: a wrong token is refused and forgotten; the right one rejects 3.0.0."""
    with open(os.path.join(base, "state", "admin.token")) as f:
        token = f.read().strip()
    cdp = Cdp(chromium, os.path.join(work, "chromium-cdp"), f"http://127.0.0.1:{admin}/")
    try:
        cdp.wait("the page to load /status",
                 "Boolean(document.body && document.body.dataset.state === 'ok' && "
                 "document.body.dataset.slowFetches)")
        check(cdp.eval("document.querySelector('button[data-action=reject]').disabled"),
              "the reject button works without a token")

        def act(action, tok):
            cdp.eval(f"""(() => {{
                document.getElementById('token-input').value = {json.dumps(tok)};
                document.getElementById('token-set').click();
                document.getElementById('action-reason').value = 'seen on the page';
                document.getElementById('action-result').dataset.status = '';
                document.querySelector('button[data-action={action}]').click(); }})()""")
            return cdp.wait(f"the answer to {action}",
                            "document.getElementById('action-result').dataset.status || ''")

        status = act("promote", "wrong-token")
        check(status == "401", f"a wrong token got HTTP {status}")
        check(cdp.eval("document.getElementById('token-state').dataset.value") == "0",
              "the page kept a token that was refused")
        status = act("reject", token)
        result = cdp.eval("document.getElementById('action-result').textContent")
        check(status == "200", f"reject with the token: HTTP {status}: {result}")
        decision = cdp.eval("document.getElementById('action-result').dataset.decision")
        check("rejected 3.0.0" in result and decision, f"the page's answer: {result!r}")
        check(cdp.eval("document.cookie === '' && localStorage.length === 0 && "
                       "sessionStorage.length === 0"), "the token left a cookie or storage")
        check(cdp.eval("document.getElementById('token-input').value") == "",
              "the token stays in the input field")
        newest = wait_for("the hand rejection in /status", lambda: next(
            (d for d in (status_of(admin) or {}).get("decisions", {}).get("recent", [])
             if d["id"] == decision), None), 20)
        check(newest.get("verdict") == "REJECT" and newest.get("to_version") == "3.0.0" and
              newest.get("author") == "status page", f"the decision the page made: {newest}")
        # The window is over: its panels are cleared, not left showing the last pairs.
        cdp.wait("the evidence panels to clear",
                 "document.getElementById('panel-evidence').dataset.stale === '1' && "
                 "document.getElementById('ev-pairs').textContent === '–'")
        return decision
    finally:
        cdp.close()


def run(args, work):
    yoke, fixture = os.path.abspath(args.yoke), os.path.abspath(args.fixture)
    for path in (yoke, fixture):
        check(os.access(path, os.X_OK), f"{path} is not an executable (build first)")
    chromium = args.chromium
    check(shutil.which(chromium) is not None,
          f"{chromium} not found: install it with `bash scripts/setup.sh` "
          f"(or apt-get install chromium), or pass --chromium")

    base = os.path.join(work, "base")
    os.makedirs(base)
    first = free_ports(21)  # port_range: first .. first + 20
    proxy, admin = free_ports(), free_ports()
    config = os.path.join(work, "hello.txtpb")
    with open(config, "w") as f:
        # A judge that never decides: 3.0.0 stays under test while the page is read.
        f.write(f'''service: "hello"
base_dir: "{base}"
listen: "127.0.0.1:{proxy}"
admin_listen: "127.0.0.1:{admin}"
port_range {{ first: {first} last: {first + 20} }}
command: "{{artifact}} --port {{port}} --version {{version}} --json-log logs/json/app.log"
health {{ http_path: "/health" timeout_ms: 5000 interval_ms: 50 }}
stop_grace_ms: 1500
tick_ms: 50
intake {{ settle_ms: 300 }}
judge {{ min_window_s: {JUDGE_MIN_WINDOW_S} max_window_s: 1800 min_pairs: 1000000
         min_events: 1000000 lost_route_min: 1000000 new_kind_min: 1000000 }}
''')
    out = open(os.path.join(work, "yoke.out"), "w")
    # Started before any thread of this script (preexec_fn is not safe with threads). Should this
    # script die without cleaning up, yoke gets SIGTERM and stops its instances.
    proc = subprocess.Popen([yoke, "run", "--config", config], stdout=out,
                            stderr=subprocess.STDOUT, preexec_fn=lambda: die_with_parent(signal.SIGTERM))
    log(f"yoke run (pid {proc.pid}): proxy 127.0.0.1:{proxy}, admin 127.0.0.1:{admin}, "
        f"base {base}")
    load = None
    pids = set()
    leftover = []
    try:
        wait_for("the admin API", lambda: status(admin), 20)
        script = "#!/bin/sh\nexec " + fixture + ' "$@" {}\n'
        drop(base, "hello-1.0.0", script.format(""))
        s = wait_for("1.0.0 to run", lambda: (lambda s: s if s and s.get("running") and
                     s["running"].get("up") else None)(status(admin)), 20)
        pids.add(s["running"]["pid"])
        load = Load(proxy, ["/version", "/items", "/orders/17", "/lost"])

        drop(base, "hello-2.0.0", script.format("--crash-after-ms 1"))
        wait_for("the rejection of 2.0.0",
                 lambda: any(d.get("to_version") == "2.0.0" and d.get("verdict") == "REJECT"
                             for d in (status(admin) or {}).get("decisions", {}).get("recent", [])),
                 20)
        drop(base, "hello-3.0.0", script.format(
            "--status /lost=404 --error-rate 0.05 "
            "--log-error '/items=inventory lookup failed for sku'"))

        def evidence_ready():
            s = status(admin)
            if not s or not s.get("testing") or s["testing"]["version"] != "3.0.0":
                return None
            t = s["evidence"]["total"]
            logs = s["evidence"].get("logs", {})
            ready = (s["testing"]["up"] and t["pairs"] >= 100 and t["testing_4xx_running_ok"] > 0
                     and logs.get("testing", {}).get("errors", 0) > 0
                     and logs.get("new_error_kinds"))
            return s if ready else None

        s = wait_for("3.0.0 under test with evidence", evidence_ready, 30)
        pids.add(s["testing"]["pid"])

        url = f"http://127.0.0.1:{admin}/"
        code, ctype, page_html = get(admin, "/")
        check(code == 200 and ctype.startswith("text/html"), f"GET /: {code} {ctype}")
        check("http://" not in page_html and "https://" not in page_html,
              "the page refers to something outside")

        before = status(admin)
        started = time.monotonic()
        dom, _ = chromium_run(chromium, os.path.join(work, "chromium"), url, ["--dump-dom"])
        after = status(admin)
        log(f"chromium --dump-dom took {time.monotonic() - started:.1f} s")
        check(before and after, "/status did not answer around the page load")
        with open(os.path.join(work, "page.html"), "w") as f:
            f.write(dom)
        page = PageValues()
        page.feed(dom)
        page.close()
        check_page(page, before, after, admin)
        log(f"page matches /status: running {page.text('running-version')}, testing "
            f"{page.text('testing-version')}, {page.number('ev-pairs')} pairs "
            f"(/status {before['evidence']['total']['pairs']}..{after['evidence']['total']['pairs']})")
        check_meta_warning(chromium, work, page_html, after)
        log("the Meta panel warns about an unreachable remote with commits queued")

        shot = os.path.abspath(args.screenshot or os.environ.get("YOKE_STATUS_PAGE_SCREENSHOT") or
                               os.path.join(work, "status_page.png"))
        os.makedirs(os.path.dirname(shot), exist_ok=True)
        if os.path.exists(shot):
            os.remove(shot)
        chromium_run(chromium, os.path.join(work, "chromium"), url,
                     [f"--screenshot={shot}", "--window-size=1280,2200"])
        with open(shot, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG")
        check(os.path.getsize(shot) > 10000, f"{shot} is suspiciously small")

        decision = check_actions(chromium, work, admin, base)
        log(f"the page's actions: a wrong token refused, 3.0.0 rejected by decision {decision}")
    finally:
        if load:
            load.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log(f"yoke (pid {proc.pid}) ignored SIGTERM for 30 s: SIGKILL")
                proc.kill()
                proc.wait(timeout=10)
        out.close()
        # yoke stops its instances; any it left are stopped here by their pids, and fail the test.
        for pid in pids:
            if pid and alive(pid):
                leftover.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    check(not leftover, f"instance pids {leftover} were still alive after yoke stopped")
    # SIGTERM is a clean stop (exit 0); anything else (a sanitizer report, a crash) fails.
    if proc.returncode != 0:
        with open(os.path.join(work, "yoke.out"), errors="replace") as f:
            tail = f.read()[-3000:]
        raise Failure(f"yoke exited with {proc.returncode} after SIGTERM, not 0:\n{tail}")
    return shot


def die_with_parent(sig):
    """In a child before exec: the kernel sends `sig` when this script's process dies."""
    ctypes.CDLL(None).prctl(1, int(sig))  # PR_SET_PDEATHSIG


def on_sigterm(signum, frame):
    raise Failure(f"stopped by signal {signum} (a CTest timeout?)")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yoke", required=True, help="the built yoke binary")
    parser.add_argument("--fixture", required=True, help="the built fixture_service binary")
    parser.add_argument("--chromium", default=os.environ.get("YOKE_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--screenshot", help="where to save the PNG "
                        "(default: $YOKE_STATUS_PAGE_SCREENSHOT, else in the temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    started = time.monotonic()
    signal.signal(signal.SIGTERM, on_sigterm)  # so the cleanup in run() still happens
    work = tempfile.mkdtemp(prefix="yoke-status-page-")
    failed, shot = None, None
    try:
        shot = run(args, work)
    except Failure as e:
        failed = str(e)
    if failed:
        log(f"FAILED: {failed}")
        log(f"kept {work} (yoke.out, base/, page.html) for a look")
    elif not args.keep:
        # Everything but a screenshot kept there goes.
        for name in os.listdir(work):
            path = os.path.join(work, name)
            if path != shot:
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        if not os.listdir(work):
            os.rmdir(work)
    if shot:
        log(f"screenshot: {shot}")
    log(f"{'failed' if failed else 'passed'} in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

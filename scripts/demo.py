#!/usr/bin/env python3
"""yoke's demo: a real promotion and a real rejection of the bundled sample service.

In a temp base folder on 127.0.0.1, with yoke's embedded meta (a local git repository in
<base>/meta, no remote) and steady load from this script through yoke's proxy:
  1. v1.0.0 is released with `yoke meta release add` and `yoke meta channel set`, and runs;
  2. v2.0.0 (a good build) is released the same way, mirrored, judged and promoted;
  3. v3.0.0 (loses the /lost route, logs a new kind of error and answers a JSON field with
     another type) is judged and rejected; the body diff names the changed field;
  4. a config change (a flag and an env var in the service's definition in meta, committed
     with git as an operator would) starts 2.0.0 again with the new definition as the
     candidate 2.0.0+def-<digest>, which is mirrored, judged and promoted; the decision names
     the fields that changed, and `yoke meta resolve` shows where each field was set.
It prints what happens as it happens, then a summary of the decisions and where their files
are, in the base and in meta. Every wait has a deadline; every process it starts is stopped by
its pid.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TTY = sys.stdout.isatty()
BOLD, DIM, OFF = ("\033[1m", "\033[2m", "\033[0m") if TTY else ("", "", "")


def say(text):
    if TTY:
        print("\r\033[K", end="")
    print(f"{BOLD}==>{OFF} {text}", flush=True)


def free_port(avoid=range(0)):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def wait_for(what, condition, timeout=60.0, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if tick:
            tick()
        time.sleep(0.25)
    raise SystemExit(f"demo: timed out waiting for {what}")


def status(admin):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=2) as r:
            return json.load(r)
    except OSError:
        return None


def build(folder, name, content):
    """Writes an artifact where a CI job would leave it."""
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(content)
    os.chmod(path, 0o755)
    return path


def release(yoke, config, version, artifact, githash):
    """Releases `version` through meta, as an operator or a CI job would."""
    for args in (["meta", "release", "add", "--config", config, "--version", version,
                  "--artifact", artifact, "--source", f"https://example.com/hello.git={githash}"],
                 ["meta", "channel", "set", "--config", config, "--version", version]):
        print(f"    {DIM}$ yoke {' '.join(args[:3])} ... --version {version}{OFF}", flush=True)
        done = subprocess.run([yoke] + args, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"demo: yoke {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        print(f"    {DIM}{done.stdout.strip()}{OFF}", flush=True)


def read_decision(path):
    fields = {"lost_routes": [], "new_error_kinds": [], "definition_changes": []}
    with open(path) as f:
        for line in f:
            if ":" in line and not line.startswith(" ") and not line.startswith("gates"):
                key, value = line.split(":", 1)
                value = value.strip()[1:-1].replace('\\"', '"') if value.strip().startswith('"') \
                    else value.strip()
                if key in fields and isinstance(fields[key], list):
                    fields[key].append(value)
                else:
                    fields[key] = value
    return fields


class Load:
    """Steady user traffic through the proxy, counting answers and failures."""

    def __init__(self, port, paths, threads=2):
        self.port, self.paths = port, paths
        self.stop, self.answered, self.failed = False, 0, 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        conn, i = None, 0
        deadline = time.monotonic() + 600
        while not self.stop and time.monotonic() < deadline:
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.paths[i % len(self.paths)])
                response = conn.getresponse()
                response.read()
                with self.lock:
                    self.answered += 1
                    if response.status >= 500 and response.getheader("Server") == "yoke":
                        self.failed += 1
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failed += 1
                conn = None
            i += 1
            time.sleep(0.002)

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(timeout=10)


def progress(admin, load):
    s = status(admin)
    if not s or not s.get("testing"):
        return
    j, t = s.get("judge", {}), s["testing"]
    window, min_window = j.get("window_s", 0), max(1, j.get("min_window_s", 1))
    pairs, min_pairs = j.get("pairs", 0), max(1, j.get("min_pairs", 1))
    done = min(1.0, min(window / min_window, pairs / min_pairs))
    bar = "#" * int(done * 20) + "." * (20 - int(done * 20))
    ev = s["evidence"]["total"]
    line = (f"  running {s['running']['version'] if s.get('running') else '-'} | "
            f"testing {t['version']} [{bar}] {window}/{min_window} s, {pairs}/{min_pairs} pairs | "
            f"testing 4xx where running ok: {ev['testing_4xx_running_ok']}, 5xx: "
            f"{ev['testing_5xx_running_not']} | users served {load.answered}, failed {load.failed} "
            f"| judge: {j.get('verdict') or '-'}")
    if TTY:
        print("\r\033[K" + line[: shutil.get_terminal_size().columns - 1], end="", flush=True)
    elif time.monotonic() - progress.last >= 2:  # a log, not a terminal: a line every 2 s
        progress.last = time.monotonic()
        print(line, flush=True)


progress.last = 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--yoke", required=True)
    parser.add_argument("--sample", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the base folder afterwards")
    args = parser.parse_args()
    yoke, sample = os.path.abspath(args.yoke), os.path.abspath(args.sample)

    work = tempfile.mkdtemp(prefix="yoke-demo-")
    base = os.path.join(work, "base")
    os.makedirs(base)
    first = free_port()
    first = first if first < 65000 else 40000
    instances = range(first, first + 21)
    proxy, admin = free_port(instances), free_port(instances)
    config = os.path.join(work, "hello.txtpb")
    with open(config, "w") as f:
        f.write(f'''service: "hello"
base_dir: "{base}"
listen: "127.0.0.1:{proxy}"
admin_listen: "127.0.0.1:{admin}"
port_range {{ first: {first} last: {first + 20} }}
command: "{{artifact}} --port {{port}} --version {{version}} --json-log logs/json/app.log"
health {{ http_path: "/health" timeout_ms: 5000 interval_ms: 100 }}
stop_grace_ms: 3000
intake {{ settle_ms: 500 }}
judge {{ min_window_s: 10 min_pairs: 1000 auto_promote_major: true body_diff_min_samples: 5 }}
mirror {{ body_sample_rate: 1 }}
meta {{ project: "demo" host: "demo-host" }}
''')
    say(f"the config: {config}")
    subprocess.run([yoke, "check-config", config], check=True)
    log = open(os.path.join(work, "yoke.out"), "w")
    proc = subprocess.Popen([yoke, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT)
    say(f"yoke run started (pid {proc.pid}): proxy on 127.0.0.1:{proxy}, admin API on "
        f"127.0.0.1:{admin}, base {base}")
    say(f"its status page, live while the demo runs: http://127.0.0.1:{admin}/")
    load = None
    pids = set()
    builds = os.path.join(work, "builds")
    os.makedirs(builds)
    try:
        with open(sample, "rb") as f:
            binary = f.read()
        wait_for("yoke's meta repository", lambda: (status(admin) or {}).get("meta"))
        say(f"meta, the git record of releases and decisions: {os.path.join(base, 'meta')}")
        say("releasing the sample service as 1.0.0 on the channel yoke follows (demo/prod/stable)")
        release(yoke, config, "1.0.0", build(builds, "hello-1.0.0", binary), "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
        s = wait_for("1.0.0 to serve", lambda: (status(admin) or {}).get("running") and
                     status(admin)["running"].get("up") and status(admin))
        pids.add(s["running"]["pid"])
        say(f"running: 1.0.0 on port {s['running']['port']} (pid {s['running']['pid']})")
        load = Load(proxy, ["/version", "/items", "/orders/17", "/lost", "/api/items/7",
                            "/api/items/8", "/api/items/9"])
        say("steady load through the proxy: GET /version, /items, /orders/17, /lost")

        say("releasing 2.0.0, a good build: it is started as testing and every request is "
            "mirrored to it")
        release(yoke, config, "2.0.0", build(builds, "hello-2.0.0", binary), "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f80912345678")
        decision = wait_for("the verdict on 2.0.0", lambda: decision_for(base, "2.0.0"), 120,
                            lambda: progress(admin, load))
        say(f"decision on 2.0.0: {decision['verdict']} - {decision['reason']}")
        s = wait_for("2.0.0 to serve", lambda: (status(admin) or {}).get("running", {}).get(
            "version") == "2.0.0" and status(admin)["running"].get("up") and status(admin), 60)
        pids.add(s["running"]["pid"])
        say(f"running: 2.0.0 on port {s['running']['port']}; 1.0.0 drained, stopped and archived")

        say("releasing 3.0.0, a bad build: it answers 404 on /lost, logs "
            "'inventory lookup failed for sku <n>' on /items and answers /api/items/N's price "
            "as a string")
        release(yoke, config, "3.0.0", build(builds, "hello-3.0.0", (
            f"#!/bin/sh\nexec {sample} \"$@\" --status /lost=404 "
            f"--log-error '/items=inventory lookup failed for sku' --price-as-string\n"
        ).encode()), "0badf00d0badf00d0badf00d0badf00d0badf00d")
        decision = wait_for("the verdict on 3.0.0", lambda: decision_for(base, "3.0.0"), 120,
                            lambda: progress(admin, load))
        say(f"decision on 3.0.0: {decision['verdict']} - {decision['reason']}")
        wait_for("3.0.0 to be archived", lambda: os.path.exists(os.path.join(base, "archive", "hello-3.0.0.zip")))

        say("a config change through meta: the service's definition gains a flag and an env "
            "var (committed with git to demo/prod/services/hello.txtpb)")
        change_definition(base, work, 'flags { name: "new_cart" value: "on" }\n'
                                      'env { key: "CART_LIMIT" value: "50" }\n')
        done = subprocess.run([yoke, "meta", "resolve", "--config", config, "--host", "demo-host",
                               "--service", "hello"], capture_output=True, text=True, check=True)
        print(f"    {DIM}$ yoke meta resolve --config {config} --host demo-host --service hello{OFF}")
        for line in done.stdout.splitlines():
            print(f"    {DIM}{line}{OFF}")
        decision = wait_for("the verdict on 2.0.0's new definition",
                            lambda: decision_for(base, "2.0.0+def-", prefix=True), 120,
                            lambda: progress(admin, load))
        say(f"decision on {decision['to_version']}: {decision['verdict']} - {decision['reason']}")
        for change in decision["definition_changes"]:
            say(f"  changed: {change}")
        if decision["verdict"] == "PROMOTE":
            s = wait_for(f"{decision['to_version']} to serve", lambda: (status(admin) or {}).get(
                "running", {}).get("version") == decision["to_version"] and
                status(admin)["running"].get("up") and status(admin), 60)
            pids.add(s["running"]["pid"])
            say(f"running: {decision['to_version']}, the same binary with the new definition")
        load.close()
        say(f"users: {load.answered} requests answered, {load.failed} failed")

        print(f"\n{BOLD}Summary{OFF}")
        for name in sorted(os.listdir(os.path.join(base, "decisions"))):
            d = read_decision(os.path.join(base, "decisions", name))
            print(f"  {d['verdict']:7} {d['from_version']} -> {d['to_version']} by {d['author']}: "
                  f"{d['reason']}")
            if d["lost_routes"]:
                print(f"          lost routes: {', '.join(d['lost_routes'])}")
            if d["new_error_kinds"]:
                print(f"          new error kinds: {', '.join(d['new_error_kinds'])}")
            for change in d["definition_changes"]:
                print(f"          definition: {change}")
            for part in d["reason"].split("; "):
                if part.startswith("body_diff: "):
                    print(f"          body diff: {part[len('body_diff: '):]}")
            print(f"          base: {DIM}{os.path.join(base, 'decisions', name)}{OFF}")
            print(f"          meta: {DIM}demo/prod/hosts/demo-host/hello/decisions/{name}{OFF}")
        print(f"  running: {os.readlink(os.path.join(base, 'running'))}")
        print(f"  archives: {', '.join(sorted(os.listdir(os.path.join(base, 'archive'))))}")
        wait_for("meta to hold every decision", lambda: meta_decisions(yoke, config) >= 2, 30)
        print(f"\n{BOLD}Meta{OFF} ({os.path.join(base, 'meta')}; `yoke meta log --config {config}`):")
        done = subprocess.run([yoke, "meta", "log", "--config", config], capture_output=True,
                              text=True, check=True)
        for line in done.stdout.splitlines():
            print("  " + line)
        print()
    finally:
        if load:
            load.close()
        if proc.poll() is None:
            say("stopping yoke with SIGTERM: it stops its instances first")
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        else:
            code = proc.returncode
        log.close()
    alive = [p for p in pids if p and os.path.exists(f"/proc/{p}") and
             open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    if alive:
        raise SystemExit(f"demo: instance pids {alive} are still alive")
    say(f"yoke exited with {code}; no instance left running")
    if args.keep:
        say(f"base folder kept at {base}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if code == 0 and load and load.failed == 0 else 1


def meta_decisions(yoke, config):
    done = subprocess.run([yoke, "meta", "log", "--config", config], capture_output=True,
                          text=True)
    return len(done.stdout.splitlines()) if done.returncode == 0 else 0


def change_definition(base, work, text):
    """Commits the service's definition to the supervisor's meta with git, as an operator
    would: clone, write, commit, push (again after a rebase if yoke committed meanwhile)."""
    clone = os.path.join(work, "operator-meta")
    if not os.path.isdir(clone):
        subprocess.run(["git", "clone", "-q", os.path.join(base, "meta"), clone], check=True)
    git = ["git", "-C", clone, "-c", "user.name=operator", "-c", "user.email=op@example.com"]
    subprocess.run(git + ["pull", "-q", "--rebase"], check=True)
    path = os.path.join(clone, "demo", "prod", "services", "hello.txtpb")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "hello: new_cart on, CART_LIMIT 50"], check=True)
    print(f"    {DIM}$ git commit -m 'hello: new_cart on, CART_LIMIT 50' && git push{OFF}")
    for _ in range(5):
        if subprocess.run(git + ["push", "-q", "origin", "HEAD:main"]).returncode == 0:
            return
        subprocess.run(git + ["pull", "-q", "--rebase"], check=True)
    raise SystemExit("demo: could not push the definition to meta")


def decision_for(base, version, prefix=False):
    folder = os.path.join(base, "decisions")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if (f"-to-{version}" in name) if prefix else name.endswith(f"-to-{version}.txtpb"):
            return read_decision(os.path.join(folder, name))
    return None


if __name__ == "__main__":
    sys.exit(main())

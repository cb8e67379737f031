#!/usr/bin/env python3
"""yoke's demo: the supervisor on the bundled sample service, in a temp base on 127.0.0.1.

It shows, in order: v1 taken in and serving as running; v2 started as testing beside it;
a broken v3 rejected with its reason; what the base folder holds; a clean stop.
Every wait has a deadline; every process it starts is stopped by its pid.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

STEP = "\033[1m==>\033[0m " if sys.stdout.isatty() else "==> "


def say(text):
    print(STEP + text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"demo: timed out waiting for {what}")


def read_record(path):
    """The few fields of a text-format InstanceRecord the demo shows."""
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                if ":" in line and not line.startswith(" "):
                    key, value = line.split(":", 1)
                    fields[key.strip()] = value.strip().strip('"')
    except OSError:
        return None
    return fields


def role(base, name, version):
    record = read_record(os.path.join(base, name, "instance.txtpb"))
    if record and record.get("version") == version and record.get("ready_at"):
        return record
    return None


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return r.read().decode().strip()


def drop(base, name, content, mode=0o755):
    hidden = os.path.join(base, "." + name + ".writing")
    with open(hidden, "wb") as f:
        f.write(content)
    os.chmod(hidden, mode)
    os.rename(hidden, os.path.join(base, name))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--yoke", required=True)
    parser.add_argument("--sample", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the base folder afterwards")
    args = parser.parse_args()
    yoke = os.path.abspath(args.yoke)
    sample = os.path.abspath(args.sample)

    work = tempfile.mkdtemp(prefix="yoke-demo-")
    base = os.path.join(work, "base")
    os.makedirs(base)
    first = free_port()
    first = first if first < 65000 else 40000
    config = os.path.join(work, "hello.txtpb")
    with open(config, "w") as f:
        f.write(f'''service: "hello"
base_dir: "{base}"
listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
port_range {{ first: {first} last: {first + 20} }}
command: "{{artifact}} --port {{port}} --version {{version}} --json-log logs/json/app.log"
health {{ http_path: "/health" timeout_ms: 5000 interval_ms: 100 }}
stop_grace_ms: 3000
intake {{ settle_ms: 500 }}
''')
    say(f"config {config}")
    subprocess.run([yoke, "check-config", config], check=True)

    log = open(os.path.join(work, "yoke.out"), "w")
    proc = subprocess.Popen([yoke, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT)
    say(f"yoke run started (pid {proc.pid}); its log: {base}/yoke.log")
    try:
        with open(sample, "rb") as f:
            binary = f.read()
        say("dropping the sample service as hello-1.0.0 into the base")
        drop(base, "hello-1.0.0", binary)
        running = wait_for("v1 to serve", lambda: role(base, "running", "1.0.0"))
        say(f"running: 1.0.0 on port {running['port']} (pid {running['pid']}) answers "
            f"{get(int(running['port']), '/version')!r}")

        say("dropping hello-2.0.0: it starts as testing beside running")
        drop(base, "hello-2.0.0", binary)
        testing = wait_for("v2 to start", lambda: role(base, "testing", "2.0.0"))
        say(f"testing: 2.0.0 on port {testing['port']} (pid {testing['pid']}) answers "
            f"{get(int(testing['port']), '/version')!r}; running still serves 1.0.0")

        say("dropping hello-3.0.0, which is not a program: it supersedes 2.0.0 and is rejected")
        drop(base, "hello-3.0.0", b"this is not a program\n")
        for zip_name in ("hello-2.0.0.zip", "hello-3.0.0.zip"):
            wait_for(zip_name, lambda: os.path.exists(os.path.join(base, "archive", zip_name)))
        decisions = sorted(os.listdir(os.path.join(base, "decisions")))
        for name in decisions:
            record = read_record(os.path.join(base, "decisions", name))
            say(f"decision {name}: {record.get('verdict')} - {record.get('reason')}")

        say("yoke versions:")
        subprocess.run([yoke, "versions", "--config", config], check=True)
        say(f"running still answers {get(int(running['port']), '/version')!r}")
    finally:
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
    for pid in (running["pid"], testing["pid"]):
        if os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split(")")[-1][:3]:
            raise SystemExit(f"demo: instance pid {pid} is still alive")
    say(f"yoke exited with {code}; no instance left running")
    if args.keep:
        say(f"base folder kept at {base}")
    else:
        subprocess.run(["rm", "-rf", work], check=False)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

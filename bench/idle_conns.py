#!/usr/bin/env python3
"""Opens N keep-alive connections to a proxy, sends one request on each and reads its answer,
then holds them all idle and prints the proxy's RSS (VmRSS, VmHWM) from /proc/PID/status.
   python3 bench/idle_conns.py PORT PID [N=10000]
Loopback only; bounded: each socket times out after 10 s, the whole run after 120 s."""
import resource, selectors, socket, sys, time

port, pid = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
deadline = time.monotonic() + 120


def rss():
    with open(f"/proc/{pid}/status") as f:
        return {l.split(':')[0]: l.split()[1] for l in f if l.startswith(('VmRSS', 'VmHWM'))}


before = rss()
request = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"
conns, answered = [], 0
for i in range(n):
    if time.monotonic() > deadline:
        break
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    conns.append(s)
    if len(conns) % 500 == 0 or i == n - 1:  # read answers in batches, so the run stays quick
        for c in conns[answered:]:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                chunk = c.recv(4096)
                if not chunk:
                    break
                body += chunk
            answered += 1
time.sleep(1)  # let the proxy settle into idle (not a condition: a measurement interval)
after = rss()
print(f"connections open and idle: {len(conns)} (answered {answered})")
print(f"proxy RSS before: {int(before['VmRSS']) // 1024} MiB; with them idle: "
      f"{int(after['VmRSS']) // 1024} MiB (peak {int(after['VmHWM']) // 1024} MiB); "
      f"{(int(after['VmRSS']) - int(before['VmRSS'])) * 1024 // max(1, len(conns))} B each")
for c in conns:
    c.close()

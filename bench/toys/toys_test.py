#!/usr/bin/env python3
"""Functional test of the toy servers and of loadgen (ctest: toys_loadgen).

    toys_test.py --loadgen PATH --toy NAME=PATH... [--skipped NAME...]

For each toy: start it on an ephemeral loopback port (PORT 0: it prints the port first),
fetch the page once with curl (when curl is installed), run loadgen -c 20 -n 2000 against
it checking every body against the 305-byte page, and stop it with SIGTERM. Then loadgen's
own behaviour: keep-alive against a small HTTP/1.1 server, connection failures against a
closed port, timeouts against a server that never answers. toy-cpc and toy-nptl must be
there; a toy CMake could not build (its library missing) is reported as skipped. Every wait
is bounded; only 127.0.0.1 is used.
"""
import argparse
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

REQUIRED = ("cpc", "nptl")
PAGE_BYTES = 305
CONCURRENCY = 20
REQUESTS = 2000
# Toys that catch SIGTERM and exit 0; the others die of it (default action), as documented.
CLEAN_EXIT = ("cpc", "asio")


class Failure(Exception):
    pass


def check(ok, what):
    print(f"  [{' ok ' if ok else 'FAIL'}] {what}", flush=True)
    if not ok:
        raise Failure(what)


def run_loadgen(loadgen, args, timeout=60):
    p = subprocess.run([loadgen, *args], capture_output=True, text=True, timeout=timeout)
    report = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    return p.returncode, report, p.stderr


class Toy:
    def __init__(self, name, path):
        self.name = name
        self.proc = subprocess.Popen([path, "0"], stdout=subprocess.PIPE, text=True)
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()))
        reader.start()
        reader.join(5)
        if not line[0] or not line[0].strip().isdigit():
            self.stop()
            raise Failure(f"toy-{name}: no port on its first line (got {line[0]!r})")
        self.port = int(line[0])

    def stop(self):
        """SIGTERM; returns the exit status (negative: killed by that signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


def curl_page(port, out_path):
    """The page as curl fetches it, or None when curl is not installed."""
    curl = shutil.which("curl")
    if not curl:
        return None
    p = subprocess.run(
        [curl, "-sS", "--max-time", "5", "-o", out_path, "-w", "%{http_code}",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=10)
    with open(out_path, "rb") as f:
        return p.returncode, p.stdout, f.read()


def test_toy(name, path, loadgen, tmp, expected_page):
    """Returns the page the toy served (the first toy's becomes the reference)."""
    print(f"toy-{name}:", flush=True)
    toy = Toy(name, path)
    try:
        got = curl_page(toy.port, os.path.join(tmp, f"curl-{name}"))
        if got is None:
            print("  (curl not installed: skipping the curl check)")
        else:
            rc, code, body = got
            check(rc == 0 and code == "200", f"curl: exit {rc}, HTTP status {code}")
            check(len(body) == PAGE_BYTES, f"curl: a {PAGE_BYTES}-byte page ({len(body)})")
            if expected_page is None:
                expected_page = body
            check(body == expected_page, "curl: the same page as the other toys")
        if expected_page is None:  # no curl: loadgen still checks every length
            expected_page = b""
        expect = []
        if expected_page:
            page_path = os.path.join(tmp, "page")
            with open(page_path, "wb") as f:
                f.write(expected_page)
            expect = ["--expect-body", page_path]
        samples = os.path.join(tmp, f"samples-{name}.csv")
        rc, r, err = run_loadgen(loadgen, [
            "-c", str(CONCURRENCY), "-n", str(REQUESTS), "--expect-bytes", str(PAGE_BYTES),
            *expect, "--samples", samples, f"http://127.0.0.1:{toy.port}/"])
        summary = " ".join(f"{k}={r.get(k)}" for k in
                           ("ok", "failed", "requests_per_s", "mean_ms", "measured_load"))
        print(f"  loadgen: {summary}")
        ok = rc == 0 and r.get("failed") == "0" and r.get("ok") == str(REQUESTS)
        check(ok, f"loadgen: {REQUESTS} requests, 0 failed (exit {rc})" +
              ("" if ok else f"\n{err.strip()}"))
        with open(samples) as f:
            lines = f.read().splitlines()
        rows = [l.split(",") for l in lines[1:]]
        check(lines[0] == "start_us,service_us,status,ok" and len(rows) == REQUESTS and
              all(row[2] == "200" and row[3] == "1" for row in rows),
              "samples: one line per request, every one 200 and ok")
        lm = float(r.get("measured_load", "0"))
        check(0 < lm <= CONCURRENCY + 0.5, f"measured load {lm} in (0, {CONCURRENCY}]")
    finally:
        status = toy.stop()
    if name in CLEAN_EXIT:
        check(status == 0, f"exits with status 0 on SIGTERM ({status})")
    else:
        check(status in (0, -signal.SIGTERM), f"ends on SIGTERM ({status})")
    return expected_page


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0  # one handler per connection
    lock = threading.Lock()

    def setup(self):
        with self.lock:
            KeepAliveHandler.connections += 1
        super().setup()

    def do_GET(self):
        body = b"x" * PAGE_BYTES
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_loadgen_alone(loadgen):
    print("loadgen:", flush=True)
    # Keep-alive: 4 clients, 400 requests, on about 4 connections.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rc, r, err = run_loadgen(loadgen, [
            "-k", "-c", "4", "-n", "400", "--expect-bytes", str(PAGE_BYTES),
            f"http://127.0.0.1:{server.server_address[1]}/"])
        conns = KeepAliveHandler.connections
        ok = rc == 0 and r.get("ok") == "400" and r.get("keep_alive") == "1"
        check(ok, f"-k: 400 requests, 0 failed (exit {rc})" + ("" if ok else f"\n{err.strip()}"))
        check(4 <= conns <= 8, f"-k: requests share connections ({conns} for 400 requests)")
        # Without -k, the HTTP/1.1 server still gets one connection per request.
        KeepAliveHandler.connections = 0
        rc, r, _ = run_loadgen(loadgen, [
            "-c", "4", "-n", "40", f"http://127.0.0.1:{server.server_address[1]}/"])
        conns = KeepAliveHandler.connections
        check(rc == 0 and conns == 40, f"no -k: a connection per request ({conns} for 40)")
    finally:
        server.shutdown()
        server.server_close()

    # A closed port: every request fails to connect; exit status 1.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    rc, r, _ = run_loadgen(loadgen, ["-c", "3", "-n", "9", f"http://127.0.0.1:{closed_port}/"])
    check(rc == 1 and r.get("failed_connect") == "9" and r.get("ok") == "0",
          f"closed port: 9 connect failures, exit 1 (exit {rc})")

    # A server that accepts (in the kernel's backlog) and never answers: timeouts.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        rc, r, _ = run_loadgen(loadgen, [
            "-c", "2", "-n", "2", "--timeout", "0.3", f"http://127.0.0.1:{s.getsockname()[1]}/"])
        check(rc == 1 and r.get("failed_timeout") == "2",
              f"silent server: 2 timeouts at 0.3 s (exit {rc}, {r.get('elapsed_s')} s)")
    finally:
        s.close()

    rc, _, _ = run_loadgen(loadgen, ["-n", "1", "ftp://127.0.0.1:1/"])
    check(rc == 2, f"a URL it cannot parse: exit 2 ({rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--toy", action="append", default=[], help="NAME=PATH")
    ap.add_argument("--skipped", action="append", default=[])
    args = ap.parse_args()
    toys = dict(t.split("=", 1) for t in args.toy)
    try:
        for name in REQUIRED:
            check(name in toys, f"toy-{name} is built")
        for name in args.skipped:
            print(f"toy-{name}: not built (library missing or sanitizer tree): skipped")
        with tempfile.TemporaryDirectory() as tmp:
            page = None
            # toy-cpc first: its page is the reference for the others.
            for name in sorted(toys, key=lambda n: n != "cpc"):
                page = test_toy(name, toys[name], args.loadgen, tmp, page)
        test_loadgen_alone(args.loadgen)
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAILED: {e}")
        return 1
    print("all toy checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Integration tests of apps/httpd: the real binary, driven over 127.0.0.1.

    httpd_test.py path/to/httpd GROUP      (GROUP: basics cache hostile limits emfile shutdown memory closing)

Each group starts the server with --port 0 on a temporary document root (the port is read
from the first line it prints), talks to it with curl, Python's http.client and raw sockets
(standard library only), and stops it with SIGTERM, checking for exit status 0. Every wait
is bounded; only the loopback interface is used.
"""
import http.client
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WAIT = 5.0  # seconds: the bound on any single expectation
CURL = shutil.which("curl")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print(f"  ok: {what}")


# ---- the server ---------------------------------------------------------------------------


class Server:
    def __init__(self, binary, root, *args, nofile=None):
        preexec = None
        if nofile:
            def preexec():
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.log_path = os.path.join(os.path.dirname(root), "access.log")
        # Every group runs on one loop and on two (ctest registers both; see CMakeLists.txt).
        loops = [] if "--threads" in args else [
            "--threads", os.environ.get("HTTPD_TEST_THREADS", "1")]
        self.proc = subprocess.Popen(
            [binary, "--root", root, "--port", "0", "--bind", "127.0.0.1",
             "--access-log", self.log_path, *loops, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        first = self.proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
        if not m:
            self.kill()
            raise Failure(f"unexpected first line: {first!r}; stderr: {self.proc.stderr.read()!r}")
        self.port = int(m.group(1))

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure(f"no exit within 10 s of {sig.name}")
        check(code == 0, f"{sig.name} -> exit status 0 (got {code})")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ---- clients ------------------------------------------------------------------------------


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.settimeout(WAIT)
    return s


class Conn:
    """A raw connection that reads whole responses (head + Content-Length body), so that
    pipelined responses are read one at a time without losing bytes."""

    def __init__(self, port):
        self.sock = connect(port)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if head_request or status == 304:
            n = 0
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed_by_server(self, limit=WAIT):
        """True when the server closes within limit (what it sends first is dropped)."""
        end = time.monotonic() + limit
        try:
            while time.monotonic() < end:
                self.sock.settimeout(max(0.05, end - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()


def read_to_close(s, limit=WAIT):
    """Everything received until the server closes, and how it closed: "eof" (a FIN),
    "reset", or "timeout"."""
    got = b""
    end = time.monotonic() + limit
    try:
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                return got, "eof"
            got += chunk
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        pass
    return got, "timeout"


def raw_exchange(port, data, limit=WAIT):
    """Sends data, returns everything received until the server closes (bounded)."""
    s = connect(port)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, _ = read_to_close(s, limit)
    s.close()
    return got


def status_of(response):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
    return int(m.group(1)) if m else None


def get(port, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def still_serving(port, what):
    status, _, body = get(port, "/a.txt")
    check(status == 200 and body == b"hello\n", f"after {what}: a normal request still works")


def curl(*args):
    out = subprocess.run([CURL, "-s", "-S", "--max-time", "10", *args], capture_output=True,
                         timeout=20)
    return out.returncode, out.stdout


# ---- the document root --------------------------------------------------------------------


def make_root(base):
    root = os.path.join(base, "root")
    os.makedirs(os.path.join(root, "dir"))
    os.makedirs(os.path.join(root, "noindex"))
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"hello\n")
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"<h1>home</h1>\n")
    with open(os.path.join(root, "dir", "index.html"), "wb") as f:
        f.write(b"<h1>dir</h1>\n")
    with open(os.path.join(root, "style.css"), "wb") as f:
        f.write(b"body{}\n")
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(bytes(range(256)) * 4)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(5 * 1024 * 1024))
    with open(os.path.join(base, "secret.txt"), "wb") as f:
        f.write(b"SECRET\n")
    os.symlink("../secret.txt", os.path.join(root, "escape"))
    os.symlink("/etc", os.path.join(root, "etc"))
    os.symlink("a.txt", os.path.join(root, "alias.txt"))
    return root


# ---- groups -------------------------------------------------------------------------------


def group_basics(binary, base, root):
    srv = Server(binary, root)
    try:
        port = srv.port
        status, h, body = get(port, "/a.txt")
        check(status == 200 and body == b"hello\n", "GET /a.txt -> 200 and the bytes")
        check(h["content-type"] == "text/plain; charset=utf-8", "Content-Type from the extension")
        check(h["content-length"] == "6", "Content-Length")
        check("date" in h and h["date"].endswith(" GMT"), "Date header")
        check(h["server"].startswith("cpc-httpd"), "Server header")
        check("etag" in h and "last-modified" in h, "ETag and Last-Modified")
        status, h, body = get(port, "/a.txt", method="HEAD")
        check(status == 200 and body == b"" and h["content-length"] == "6", "HEAD: head only")
        status, h, _ = get(port, "/style.css?v=3")
        check(status == 200 and h["content-type"].startswith("text/css"), "query string ignored")
        check(get(port, "/data.bin")[1]["content-type"] == "application/octet-stream",
              "unknown extension: application/octet-stream")
        check(get(port, "/alias.txt")[2] == b"hello\n", "a symlink inside the root is followed")

        # index.html and the redirect
        status, _, body = get(port, "/")
        check(status == 200 and body == b"<h1>home</h1>\n", "/ -> index.html")
        status, h, _ = get(port, "/dir?x=1")
        check(status == 301 and h["location"] == "/dir/?x=1", "/dir -> 301 to /dir/")
        check(get(port, "/dir/")[2] == b"<h1>dir</h1>\n", "/dir/ -> dir/index.html")
        check(get(port, "/noindex/")[0] == 404, "a directory without index.html -> 404")
        check(get(port, "/a.txt/")[0] == 404, "a file with a trailing slash -> 404")
        check(get(port, "/missing")[0] == 404, "missing -> 404")
        status, h, _ = get(port, "/a.txt", method="POST")
        check(status == 405 and h["allow"] == "GET, HEAD", "POST -> 405 with Allow")
        # Expect: 100-continue: "100 Continue" before the body is sent, then the answer.
        conn = Conn(port)
        conn.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        status, _, body = conn.response()
        check(status == 100 and body == b"", "Expect: 100-continue -> 100 Continue before the body")
        conn.send(b"hello")
        status, _, body = conn.response()
        check(status == 200 and body == b"hello\n", "... then the answer once the body came")
        conn.close()
        status, _, _ = get(port, "/a.txt", headers={"Expect": "x-unknown"})
        check(status == 417, f"an unknown expectation -> 417 (got {status})")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        c.request("FROB", "/a.txt")
        r = c.getresponse()
        check(r.status == 501 and r.reason == "Not Implemented",
              f"an unrecognized method -> 501 Not Implemented (got {r.status} {r.reason})")
        c.close()

        # keep-alive: several requests on one connection
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        socks = set()
        for path, want in [("/a.txt", b"hello\n"), ("/", b"<h1>home</h1>\n"),
                           ("/dir/", b"<h1>dir</h1>\n"), ("/a.txt", b"hello\n")]:
            c.request("GET", path)
            r = c.getresponse()
            check(r.read() == want and r.status == 200, f"keep-alive GET {path}")
            socks.add(id(c.sock))
        check(len(socks) == 1, "all four on one connection")
        c.close()

        # HTTP/1.0 keep-alive on request, closed otherwise
        k = Conn(port)
        k.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, h, body = k.response()
        check(status == 200 and h["connection"] == "keep-alive", "HTTP/1.0 keep-alive honoured")
        k.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        status, h, body = k.response()
        check(status == 200 and body == b"hello\n" and h["connection"] == "close",
              "HTTP/1.0 without keep-alive: Connection: close")
        check(k.closed_by_server(), "and the connection is closed")
        k.close()

        # pipelining: three requests in one write, answered in order
        p = Conn(port)
        p.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               b"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\nGET /sty")
        r1 = p.response()
        r2 = p.response(head_request=True)
        p.send(b"le.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r3 = p.response()
        r4 = p.response()
        check(r1[2] == b"hello\n" and r2[0] == 200 and r2[2] == b"" and
              r3[2] == b"<h1>dir</h1>\n" and r4[2] == b"body{}\n", "pipelined responses in order")
        check(p.closed_by_server(), "closed after Connection: close")
        p.close()

        # many pipelined requests at once: more than the request buffer holds
        p = Conn(port)
        n = 500
        p.send(b"".join(b"GET /a.txt?%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(n)))
        right = sum(1 for _ in range(n) if p.response()[2] == b"hello\n")
        check(right == n, f"{n} pipelined requests in one write: {right} answered")
        p.close()

        # conditionals
        _, h, _ = get(port, "/a.txt")
        etag, lm = h["etag"], h["last-modified"]
        check(get(port, "/a.txt", {"If-None-Match": etag})[0] == 304, "If-None-Match -> 304")
        check(get(port, "/a.txt", {"If-None-Match": '"other"'})[0] == 200, "other ETag -> 200")
        check(get(port, "/a.txt", {"If-Modified-Since": lm})[0] == 304, "If-Modified-Since -> 304")
        check(get(port, "/a.txt", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[0]
              == 200, "older If-Modified-Since -> 200")
        _, hb, _ = get(port, "/big.bin", method="HEAD")
        check(get(port, "/big.bin", {"If-None-Match": hb["etag"]})[0] == 304,
              "big file: If-None-Match -> 304")

        # ranges
        status, h, body = get(port, "/data.bin", {"Range": "bytes=10-19"})
        check(status == 206 and body == bytes(range(10, 20)) and
              h["content-range"] == "bytes 10-19/1024", "Range a-b -> 206")
        status, h, body = get(port, "/data.bin", {"Range": "bytes=1020-"})
        check(status == 206 and body == bytes(range(252, 256)), "Range a- -> 206")
        status, h, body = get(port, "/data.bin", {"Range": "bytes=-3"})
        check(status == 206 and body == bytes(range(253, 256)), "Range -n -> 206")
        status, h, _ = get(port, "/data.bin", {"Range": "bytes=2000-"})
        check(status == 416 and h["content-range"] == "bytes */1024", "unsatisfiable -> 416")
        status, _, body = get(port, "/data.bin", {"Range": "bytes=0-1,5-6"})
        check(status == 200 and len(body) == 1024, "several ranges -> 200 with the whole body")
        status, _, body = get(port, "/data.bin", {"Range": "bytes=0-1", "If-Range": '"stale"'})
        check(status == 200 and len(body) == 1024, "If-Range with another ETag -> 200")

        # the big file goes out with sendfile
        with open(os.path.join(root, "big.bin"), "rb") as f:
            big = f.read()
        status, h, body = get(port, "/big.bin")
        check(status == 200 and body == big, "5 MiB file, byte for byte (http.client)")
        status, h, body = get(port, "/big.bin", {"Range": "bytes=1000000-1000099"})
        check(status == 206 and body == big[1000000:1000100], "range of the big file")
        if CURL:
            out = os.path.join(base, "big.out")
            rc, _ = curl("-o", out, f"http://127.0.0.1:{port}/big.bin")
            with open(out, "rb") as f:
                check(rc == 0 and f.read() == big, "5 MiB file, byte for byte (curl)")
            rc, text = curl("-i", f"http://127.0.0.1:{port}/a.txt", f"http://127.0.0.1:{port}/")
            check(rc == 0 and text.count(b"HTTP/1.1 200 OK") == 2, "curl: two URLs, one connection")
            rc, text = curl("-I", f"http://127.0.0.1:{port}/dir")
            check(rc == 0 and b"301" in text.split(b"\r\n")[0], "curl -I /dir -> 301")
            rc, text = curl("-r", "0-4", f"http://127.0.0.1:{port}/a.txt")
            check(rc == 0 and text == b"hello", "curl -r 0-4")
        else:
            print("  (curl not found: its checks skipped)")
        with open(srv.log_path) as f:
            log = f.read()
        check('"GET /a.txt HTTP/1.1" 200 6' in log, "access log lines")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def group_cache(binary, base, root):
    srv = Server(binary, root, "--cache-size", "4096", "--cache-file-max", "2048")
    try:
        port = srv.port
        path = os.path.join(root, "page.html")
        with open(path, "wb") as f:
            f.write(b"version 1\n")
        check(get(port, "/page.html")[2] == b"version 1\n", "first version served")
        check(get(port, "/page.html")[2] == b"version 1\n", "served again (from the cache)")
        with open(path, "wb") as f:
            f.write(b"version two, longer\n")
        time.sleep(1.2)  # entries are revalidated at most once a second
        status, h, body = get(port, "/page.html")
        check(body == b"version two, longer\n" and h["content-length"] == "20",
              "rewritten file served new after the revalidation interval")
        with open(path + ".tmp", "wb") as f:
            f.write(b"version 3 (renamed over)\n")
        os.replace(path + ".tmp", path)
        time.sleep(1.2)
        check(get(port, "/page.html")[2] == b"version 3 (renamed over)\n",
              "file replaced by rename served new")
        os.remove(path)
        time.sleep(1.2)
        check(get(port, "/page.html")[0] == 404, "removed file -> 404")
        # More small files than the cache holds: every one is still served right.
        for i in range(12):
            with open(os.path.join(root, f"f{i}.txt"), "wb") as f:
                f.write(bytes([65 + i]) * 1000)
        right = all(get(port, f"/f{i}.txt")[2] == bytes([65 + i]) * 1000
                    for _ in range(2) for i in range(12))
        check(right, "12 files of 1000 bytes through a 4 KiB cache, twice: all right")
        with open(os.path.join(root, "big.bin"), "rb") as f:
            big = f.read()
        check(get(port, "/big.bin")[2] == big, "files over the cache limit come with sendfile")
        check(get(port, "/data.bin")[2] == bytes(range(256)) * 4, "1 KiB file")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


HOSTILE = [
    (b"GARBAGE\r\n\r\n", 400, "a request line without target"),
    (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "a request line with a fourth part"),
    (b"GET /\r\n\r\n", 400, "HTTP/0.9"),
    (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "a lower-case method (unrecognized)"),
    (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501, "an unrecognized method"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "a header line without colon"),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "a space before the colon"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obsolete line folding"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "a bad Content-Length"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
     "conflicting Content-Lengths"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     "a transfer coding it does not implement"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
     "a Transfer-Encoding whose last coding is not chunked"),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "a Transfer-Encoding in HTTP/1.0"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     b"0\r\n\r\n", 400, "Transfer-Encoding beside Content-Length"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
     "malformed chunked framing"),
    (b"GET / HTTP/1.1\r\nHost: x/../y\r\n\r\n", 400, "a Host that is not a host"),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0"),
    (b"GET / HTTP/3\r\nHost: x\r\n\r\n", 505, "HTTP/3"),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "the HTTP/2 preface"),
    (b"GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, ".."),
    (b"GET /dir/../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "../.."),
    (b"GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "%2e%2e"),
    (b"GET /%2E%2e%2fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "%2E%2e%2f"),
    (b"GET /..%5csecret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "an encoded backslash"),
    (b"GET /..\\secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "a backslash"),
    (b"GET /a.txt%00.html HTTP/1.1\r\nHost: x\r\n\r\n", 400, "%00"),
    (b"GET /escape HTTP/1.1\r\nHost: x\r\n\r\n", 404, "a symlink out of the root"),
    (b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "a symlink to /etc"),
    (b"GET http://x/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "absolute-form with .."),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), 400, "a TLS hello"),
    (bytes(range(256)) * 4, 400, "binary junk"),
    (b"\x00\x00\x00\x00\r\n\r\n", 400, "NUL bytes"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, "a control byte in a header"),
]


def group_hostile(binary, base, root):
    srv = Server(binary, root)
    try:
        port = srv.port
        for data, want, what in HOSTILE:
            got = raw_exchange(port, data)
            check(status_of(got) == want, f"{what} -> {want}")
            check(b"SECRET" not in got, f"{what}: nothing from outside the root")
            check(b"connection: close" in got.lower(), f"{what}: Connection: close")
            still_serving(port, what)
        # A client that disconnects in the middle of a request, or right after sending one.
        s = connect(port)
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHo")
        s.close()
        s = connect(port)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
        still_serving(port, "clients vanishing mid-request and mid-response")
        if CURL:
            rc, text = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{port}/../../../../etc/passwd")
            check(text == b"400", "curl --path-as-is /../../../../etc/passwd -> 400")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def group_limits(binary, base, root):
    srv = Server(binary, root, "--header-timeout", "1", "--keepalive-timeout", "1",
                 "--send-timeout", "1")
    try:
        port = srv.port
        got = raw_exchange(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        check(status_of(got) == 414, "a 9000-byte URI -> 414")
        still_serving(port, "414")
        many = b"".join(b"X-%d: v\r\n" % i for i in range(150))
        got = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        check(status_of(got) == 431, "150 header lines -> 431")
        still_serving(port, "431 (lines)")
        got = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 20000 + b"\r\n\r\n")
        check(status_of(got) == 431, "a 20 KiB header -> 431")
        still_serving(port, "431 (bytes)")
        got = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                           + b"x" * 100000)
        check(status_of(got) == 413, "a 100 kB body -> 413")
        still_serving(port, "413")
        # A small body is read and dropped: the next pipelined request is still framed.
        k = Conn(port)
        k.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nXXXXX"
               b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        check(k.response()[2] == b"hello\n" and k.response()[2] == b"hello\n",
              "a small body on a GET keeps the framing")
        # So does a small chunked body, with an extension and a trailer, over several writes.
        k.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n")
        time.sleep(0.05)
        k.send(b"abc\r\n0\r\nX-Trailer: 1\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        check(k.response()[2] == b"hello\n" and k.response()[2] == b"hello\n",
              "a small chunked body on a GET keeps the framing")
        k.close()
        got = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"186a0\r\n" + b"x" * 100000)
        check(status_of(got) == 413, "a 100 kB chunk -> 413")
        still_serving(port, "413 (chunked)")

        # slowloris: one byte at a time, never finishing the head
        s = connect(port)
        start = time.monotonic()
        s.sendall(b"GET /a.txt HTTP/1.1\r\n")
        closed = False
        try:
            for _ in range(30):
                time.sleep(0.2)
                s.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        elapsed = time.monotonic() - start
        if not closed:
            s.settimeout(WAIT)
            try:
                closed = s.recv(65536) is not None
            except Exception:
                closed = True
        check(closed and elapsed < 4, f"slowloris closed by the header timeout ({elapsed:.1f} s)")
        s.close()
        still_serving(port, "a slowloris client")

        # a connection that never speaks, and an idle keep-alive connection
        c = Conn(port)
        start = time.monotonic()
        check(c.closed_by_server(4), "a silent connection is closed (header timeout)")
        check(time.monotonic() - start > 0.5, "not before the timeout")
        c.close()
        c = Conn(port)
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        check(c.response()[0] == 200, "a request on a keep-alive connection")
        check(c.closed_by_server(4), "then the idle connection is closed (keep-alive timeout)")
        c.close()
        still_serving(port, "timeouts")

        # a client that asks for the big file and does not read it is dropped
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        still_serving(port, "a client not reading its response (meanwhile)")
        time.sleep(3)
        total = len(raw_recv_all(s))
        s.close()
        check(total < 5 * 1024 * 1024, f"a client that does not read is dropped ({total} bytes)")
        still_serving(port, "a client not reading its response")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def first_answer(conns, seconds):
    """The head of the first response to arrive on any of conns (b"" if none in time)."""
    got = {c: b"" for c in conns}
    deadline = time.monotonic() + seconds
    while got and time.monotonic() < deadline:
        readable, _, _ = select.select(list(got), [], [], deadline - time.monotonic())
        for c in readable:
            try:
                chunk = c.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                del got[c]
                continue
            got[c] += chunk
            if b"\r\n\r\n" in got[c]:
                return got[c]
    return b""


def flood_and_recover(srv, what, in_flight_ok):
    port = srv.port
    check(get(port, "/a.txt")[0] == 200, f"{what}: served before the flood")
    conns = []
    for _ in range(60):
        try:
            conns.append(connect(port))
        except OSError:
            break
    check(len(conns) >= 45, f"{what}: {len(conns)} connections opened (more than the fds)")
    time.sleep(1.0)
    cpu0 = srv.cpu_seconds()
    time.sleep(1.0)
    cpu = srv.cpu_seconds() - cpu0
    check(srv.alive(), f"{what}: the server is alive")
    check(cpu < 0.3, f"{what}: no spinning ({cpu:.2f} s of CPU in 1 s)")
    # An accepted connection is still served (503 is allowed when the server has no
    # descriptor left to open the file). On one loop the first connection is the one: the
    # backlog is FIFO. On several, each loop has a backlog of its own (SO_REUSEPORT), and the
    # first connection may wait in a loop that met EMFILE while another loop's connections
    # hold every descriptor: ask on every connection and take the first answer.
    if int(os.environ.get("HTTPD_TEST_THREADS", "1")) == 1:
        asked = conns[:1]
    else:
        asked = conns
    for c in asked:
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    got = first_answer(asked, 5.0)
    check(status_of(got) in in_flight_ok, f"{what}: an open connection is still served "
                                           f"({status_of(got)})")
    for s in conns:
        s.close()
    deadline = time.monotonic() + 10
    ok = False
    while time.monotonic() < deadline and not ok:
        try:
            ok = get(port, "/a.txt")[0] == 200
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    check(ok, f"{what}: serves again once the connections are closed")
    check(srv.alive(), f"{what}: still alive")


def group_emfile(binary, base, root):
    # The connection cap derived from the descriptor limit (no EMFILE at all)...
    srv = Server(binary, root, "--header-timeout", "20", nofile=40)
    try:
        flood_and_recover(srv, "capped", (200,))
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
    # ...and without the cap: accept really fails with EMFILE and backs off.
    srv = Server(binary, root, "--header-timeout", "20", "--max-connections", "100000",
                 nofile=40)
    try:
        flood_and_recover(srv, "EMFILE", (200, 503))
        err = srv.proc.stderr
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
    check("backing off" in err.read(), "EMFILE was met and reported")


def group_shutdown(binary, base, root):
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server(binary, root, "--keepalive-timeout", "30")
        try:
            idle = Conn(srv.port)
            idle.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            check(idle.response()[0] == 200, "a keep-alive connection, now idle")
            start = time.monotonic()
            srv.stop(sig)
            check(time.monotonic() - start < 3, f"{sig.name}: exit within the grace period")
            check(idle.closed_by_server(1), "the idle connection was closed")
            idle.close()
        finally:
            srv.kill()
    # A request in progress (the head not finished) is cut after the grace, not waited for.
    srv = Server(binary, root, "--header-timeout", "30", "--shutdown-grace", "0.5")
    try:
        slow = Conn(srv.port)
        slow.send(b"GET /a.txt HTTP/1.1\r\n")
        time.sleep(0.2)
        start = time.monotonic()
        srv.stop()
        check(time.monotonic() - start < 2, "a half-sent request does not hold the shutdown")
        slow.close()
    finally:
        srv.kill()
    # --help, --version, a bad root
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and "--policy" in out.stdout, "--help")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and "httpd" in out.stdout, "--version")
    out = subprocess.run([binary, "--root", "/nonexistent/dir", "--port", "0"],
                         capture_output=True, text=True, timeout=10)
    check(out.returncode != 0, "a missing root is refused")
    # both policies serve
    for policy in ("active", "accept"):
        srv = Server(binary, root, "--policy", policy)
        try:
            check(get(srv.port, "/a.txt")[2] == b"hello\n", f"--policy {policy} serves")
            socks = [connect(srv.port) for _ in range(20)]
            for s in socks:
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = all(status_of(raw_recv_all(s)) == 200 for s in socks)
            check(ok, f"--policy {policy}: 20 concurrent connections served")
            for s in socks:
                s.close()
            srv.stop()
        finally:
            srv.kill()


def refused_after_close(s, within=0.3):
    """After the server's end of file: True if what the client sends now is answered with a
    reset (the server closed outright), False if it is read and dropped (a lingering close,
    which reads for a second)."""
    end = time.monotonic() + within
    try:
        while time.monotonic() < end:
            s.send(b"x")
            time.sleep(0.02)
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def one_response(data):
    """(status, headers, body, rest) of the first response in data."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    return int(lines[0].split()[1]), headers, rest[:n], rest[n:]


def group_disk(binary, base, root):
    """Files changed while they are sent with sendfile (larger than the page cache takes): a
    truncated file's response stops short and the connection closes (the head promised more),
    never with bytes that are not the file's, and the server says so; a deleted or replaced
    file's response is the file as it was opened. Everyone else is served throughout."""
    size = 32 << 20  # more than the socket buffers hold, so the send is still going on
    original = bytes(i % 251 for i in range(251)) * (size // 251 + 1)
    original = original[:size]

    def start_download(name):
        with open(os.path.join(root, name), "wb") as f:
            f.write(original)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got or len(got) < (1 << 20):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        head, body = got.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        return s, length, body

    def finish(s, body):
        body = bytearray(body)  # appending to bytes would copy it every time
        while True:
            try:
                chunk = s.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            body += chunk
        s.close()
        return bytes(body)

    def truncated_under_send(mode):
        """cut.bin truncated to 1 MiB while it is sent: what the client received."""
        s, length, body = start_download("cut.bin")
        check(length == size, f"{mode}: a 32 MiB file: the head promises all of it")
        os.truncate(os.path.join(root, "cut.bin"), 1 << 20)
        still_serving(srv.port, f"{mode}: a file truncated under a send")
        body = finish(s, body)
        check(len(body) < size, f"{mode}: truncated under the send: the response stops short "
                                f"({len(body)} of {size} bytes) and the connection closes")
        return body

    def stop_and_read_stderr():
        err = srv.proc.stderr
        try:
            srv.stop()
        finally:
            srv.kill()
        return err.read()

    def check_report(log, mode):
        check("warning: cut.bin: truncated to 1048576 bytes while being sent" in log,
              f"{mode}: the truncation is reported, naming the file (stderr: {log.strip()!r})")

    srv = Server(binary, root, "--cache-file-max", "2048")
    try:
        body = truncated_under_send("copy")
        check(body == original[:len(body)], "... and every byte received is the file's")

        s, length, body = start_download("gone.bin")
        os.remove(os.path.join(root, "gone.bin"))
        body = finish(s, body)
        check(body == original, "deleted under the send: the file as it was opened, whole")

        s, length, body = start_download("swapped.bin")
        with open(os.path.join(root, "swapped.tmp"), "wb") as f:
            f.write(b"the new version\n")
        os.replace(os.path.join(root, "swapped.tmp"), os.path.join(root, "swapped.bin"))
        body = finish(s, body)
        check(body == original, "replaced under the send: the old file, whole")
        check(get(srv.port, "/swapped.bin")[2] == b"the new version\n",
              "... and the next request gets the new one")
        check(get(srv.port, "/cut.bin")[2] == original[:1 << 20],
              "the truncated file is served as it now is")
        check(get(srv.port, "/gone.bin")[0] == 404, "the deleted file is gone")
    finally:
        log = stop_and_read_stderr()
    check_report(log, "copy")

    # --sendfile: the kernel sends the pages by reference, so what a truncation does to bytes
    # already queued is the kernel's (zeros, on Linux 6.x with ext4): only the short response
    # and the report are promised.
    srv = Server(binary, root, "--cache-file-max", "2048", "--sendfile")
    try:
        body = truncated_under_send("--sendfile")
        foreign = sum(x != y for x, y in zip(body, original))
        print(f"  note: --sendfile: {foreign} of the {len(body)} bytes received were not the "
              f"file's")
    finally:
        log = stop_and_read_stderr()
    check_report(log, "--sendfile")


def group_closing(binary, base, root):
    """How connections end: a plain close when the client sent nothing more than its request
    and asked to close; a lingering close (FIN, then reading what still comes) when it may
    still be sending, so that its response is never destroyed by a reset. And requests
    larger than the usual buffer."""
    srv = Server(binary, root)
    try:
        port = srv.port
        plain = [
            (b"GET /a.txt HTTP/1.0\r\n\r\n", 200, "HTTP/1.0"),
            (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
             "HTTP/1.1 with Connection: close"),
            (b"GET /missing HTTP/1.0\r\n\r\n", 404, "a 404 to HTTP/1.0"),
            (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             b"Content-Length: 5\r\n\r\nXXXXX", 405, "a small body, read whole"),
        ]
        for request, want, what in plain:
            s = connect(port)
            s.sendall(request)
            got, how = read_to_close(s)
            status, _, body, rest = one_response(got)
            check(status == want and how == "eof" and rest == b"",
                  f"{what}: the response ({status}), then the end of file")
            check(refused_after_close(s), f"{what}: closed outright (no lingering close)")
            s.close()

        # Pipelined after a request that asks to close: the rest is never answered, and its
        # bytes still in flight do not reset the connection before the response is read.
        first = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for extra, what in [(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "a request"),
                            (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3000,
                             "100 kB of requests")]:
            s = connect(port)
            s.sendall(first + extra)
            got, how = read_to_close(s)
            status, _, body, rest = one_response(got)
            check(status == 200 and body == b"hello\n" and rest == b"" and how == "eof",
                  f"pipelined after Connection: close ({what}): one whole response, then "
                  f"the end of file ({how})")
            check(not refused_after_close(s), f"pipelined ({what}): a lingering close")
            s.close()

        # A body that is refused, not read: 413 in full, then the end of file, while the body
        # still comes (sent with the request, or after the response).
        s = connect(port)
        s.sendall(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: 200000\r\n\r\n" + b"x" * 200000)
        got, how = read_to_close(s)
        status, h, body, _ = one_response(got)
        check(status == 413 and len(body) == int(h["content-length"]) and how == "eof",
              f"a 200 kB body sent with its request: the whole 413, then the end of file "
              f"({how})")
        s.close()
        s = connect(port)
        s.sendall(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        got, how = read_to_close(s)
        status, h, body, _ = one_response(got)
        check(status == 413 and len(body) == int(h["content-length"]) and how == "eof",
              "a body refused before it is sent: the whole 413, then the end of file")
        check(not refused_after_close(s), "and the body sent afterwards is read and dropped")
        s.close()
        # A keep-alive request answered with a close (an error): its client may pipeline.
        s = connect(port)
        s.sendall(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        got, how = read_to_close(s)
        check(one_response(got)[0] == 404 and how == "eof", "keep-alive request, 404: closed")
        check(not refused_after_close(s), "with a lingering close")
        s.close()

        # Heads larger than the usual buffer: it grows, up to the limit (16 KiB of head).
        def head_of(size):
            start = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Pad: "
            return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"

        for size, want in [(6000, 200), (12000, 200), (16384, 200), (16385, 431)]:
            got = raw_exchange(port, head_of(size).replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1))
            check(status_of(got) == want, f"a head of {size} bytes -> {want}")
        c = Conn(port)
        big = head_of(12000)
        for i in range(0, len(big), 1000):  # in pieces: the buffer grows between reads
            c.send(big[i:i + 1000])
            time.sleep(0.01)
        check(c.response()[2] == b"hello\n", "a 12 kB head in pieces -> 200")
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" + big + head_of(9000))
        right = [c.response()[2] == b"hello\n" for _ in range(3)]
        check(all(right), "then pipelined: a small request and two big ones")
        c.close()
        still_serving(port, "closing")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def raw_recv_all(s):
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return got


def group_memory(binary, base, root):
    """Idle keep-alive connections cost little: no buffer, only their threads' frames."""
    if os.environ.get("HTTPD_TEST_SANITIZED"):
        print("  (sanitizer build: frames come from operator new with redzones; skipped)")
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 400
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
    srv = Server(binary, root, "--keepalive-timeout", "30", "--quiet")

    def rss():
        with open(f"/proc/{srv.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def one_request_each(conns):
        for c in conns:
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in conns:
            if c.response()[2] != b"hello\n":
                raise Failure("a response went wrong")

    def idle_connections(count):
        conns = [Conn(srv.port) for _ in range(count)]
        one_request_each(conns)
        return conns

    try:
        # The allocator's first chunks, the cache entry, and on io_uring each loop's receive
        # buffers (256 of 4 KiB, taken in turn by the reads of kept-alive connections):
        # memory of the server, not of a connection. 8 rounds of 100 connections go through
        # every buffer of each of two loops.
        warm = idle_connections(100)
        for _ in range(8):
            one_request_each(warm)
        time.sleep(0.3)
        before = rss()
        conns = idle_connections(n)
        time.sleep(0.3)
        per = (rss() - before) / n
        check(per < 2048, f"{n} idle keep-alive connections: {per:.0f} bytes each (< 2 KiB)")
        for c in warm + conns:
            c.close()
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def group_loops(binary, base, root, listener="reuseport"):
    """--threads 2: both loops accept (SO_REUSEPORT spreads connections), each serves
    keep-alive connections and files from its own cache, and the access log keeps every
    line whole although two loops append to it. With --listener shared both loops wait on
    one socket: every connection is still accepted once, by whichever loop is first."""
    srv = Server(binary, root, "--threads", "2", "--listener", listener)
    try:
        n = 200
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = raw_recv_all(s)
                check(got.startswith(b"HTTP/1.1 200") and got.endswith(b"hello\n"),
                      "a one-request connection is answered")
        keep = [Conn(srv.port) for _ in range(20)]
        for round_ in range(3):
            for c in keep:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            for c in keep:
                check(c.response()[2] == b"hello\n", f"keep-alive round {round_} answered")
        for c in keep:
            c.close()
        srv.proc.send_signal(signal.SIGTERM)
        out, _ = srv.proc.communicate(timeout=10)
        check(srv.proc.returncode == 0, "SIGTERM -> exit status 0 with two loops")
        m = re.search(r"connections accepted per loop: (\d+) (\d+)$", out, re.M)
        check(m is not None, f"two loops reported at shutdown: {out!r}")
        a, b = int(m.group(1)), int(m.group(2))
        check(a + b == n + 20, f"every connection accepted once ({a} + {b} = {n + 20})")
        if listener == "reuseport":
            check(a > 0 and b > 0, f"both loops accepted connections ({a}, {b})")
        with open(srv.log_path) as f:
            lines = f.read().splitlines()
        check(len(lines) == n + 60, f"one access-log line per response ({len(lines)})")
        check(all(re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "GET /a\.txt HTTP/1\.1" 200 6',
                               line) for line in lines), "every access-log line whole")
    finally:
        srv.kill()


def dump_until(srv, pattern, limit=WAIT):
    """Sends SIGUSR1 every half second until what the server wrote on stderr since matches
    pattern (a regex); the text read, or None."""
    got = ""
    fd = srv.proc.stderr.fileno()
    end = time.monotonic() + limit
    while time.monotonic() < end:
        srv.proc.send_signal(signal.SIGUSR1)
        pause = min(time.monotonic() + 0.5, end)
        while (left := pause - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            got += chunk.decode(errors="replace")
            if re.search(pattern, got):
                return got
    return None


def group_dump(binary, base, root):
    """SIGUSR1 prints every loop's suspended threads on stderr (cpc::dump_threads): an idle
    keep-alive connection's thread shows as waiting to read its socket, with its frames as
    file:line down to connection.cpp; the server goes on serving, the same connection
    included, and stops cleanly. The connection's thread may not wait yet when the first
    dump is taken (the response can reach the client before): the signal is repeated."""
    srv = Server(binary, root)
    try:
        c = Conn(srv.port)
        for round_ in range(2):
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            check(c.response()[2] == b"hello\n", "a keep-alive request is answered")
            dump = dump_until(
                srv, r"  thread waits on (fd \d+ \(read\)|an io_uring operation on fd \d+)\n"
                     r"(    at \S+:\d+\n)*    at \S+/connection\.cpp:\d+\n")
            check(dump is not None and re.search(r"^cpc: loop 0 .*suspended", dump, re.M),
                  f"SIGUSR1 (round {round_ + 1}) -> the connection's read wait on stderr")
            check(srv.alive(), "the server survives SIGUSR1")
            still_serving(srv.port, "SIGUSR1")
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        check(c.response()[2] == b"hello\n", "the connection is served after the dumps")
        c.close()
        srv.stop()
    finally:
        srv.kill()


GROUPS = {
    "dump": group_dump,
    "loops": group_loops,
    "loops_shared": lambda binary, base, root: group_loops(binary, base, root, "shared"),
    "memory": group_memory,
    "basics": group_basics,
    "cache": group_cache,
    "hostile": group_hostile,
    "limits": group_limits,
    "emfile": group_emfile,
    "shutdown": group_shutdown,
    "closing": group_closing,
    "disk": group_disk,
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in GROUPS:
        print(__doc__)
        return 2
    binary, group = sys.argv[1], sys.argv[2]
    base = tempfile.mkdtemp(prefix="httpd_test_")
    try:
        root = make_root(base)
        print(f"httpd {group}:")
        GROUPS[group](binary, base, root)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"httpd {group}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

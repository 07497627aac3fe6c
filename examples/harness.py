"""What the tests of the example servers share (chat_server_test.py, tutorial/tutorial_test.py).

A server binary started on an ephemeral loopback port, and a TCP client that reads lines.
Standard library only, 127.0.0.1 only, and every wait is bounded, so that a test fails on a
bug instead of hanging. Each test adds its own checks by subclassing.
"""
import queue
import re
import socket
import subprocess
import threading
import time

WAIT = 5.0  # seconds: the bound on any single expectation


class Failure(Exception):
    pass


class Timeout(Failure):
    """Nothing arrived before the deadline."""


class Server:
    """`binary --port 0 ARGS...`; the port is read from the first line it prints
    ("... listening on 127.0.0.1:PORT"). Its output is collected by a thread, so that the
    server never blocks on a full pipe: `lines` for the test to wait on, `log` for failures."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        self.log = []
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()
        try:
            self.first = self.lines.get(timeout=WAIT)
        except queue.Empty:
            self.first = None
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.first or "")
        if not m:
            raise Failure(f"unexpected first line from the server: {self.first!r}")
        self.port = int(m.group(1))

    def _collect(self):
        for line in self.proc.stdout:
            self.log.append(line.rstrip("\n"))
            self.lines.put(line)
        self.lines.put(None)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Client:
    """A TCP connection to 127.0.0.1:port that reads lines. rcvbuf, when given, shrinks the
    receive buffer before connecting (a client that does not read fills up sooner)."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(WAIT)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self, deadline):
        """Appends what one recv gives to buf; False at the end of the stream (the server
        closed or reset the connection). Raises Timeout at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout(f"timed out waiting for data (have {self.buf!r})")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout(f"timed out waiting for data (have {self.buf!r})") from None
        except ConnectionResetError:
            return False
        self.buf += data
        return bool(data)

    def line(self, wait=WAIT):
        """The next line without its newline; None at the end of the stream. Raises Timeout."""
        deadline = time.monotonic() + wait
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def expect(self, text, wait=WAIT):
        """Reads lines until one contains text, and returns it (the others are skipped)."""
        deadline = time.monotonic() + wait
        seen = []
        while True:
            try:
                line = self.line(max(deadline - time.monotonic(), 0))
            except Timeout:
                raise Failure(f"no line with {text!r} within {wait} s; got {seen}") from None
            if line is None:
                raise Failure(f"connection closed before a line with {text!r}; got {seen}")
            if text in line:
                return line
            seen.append(line)

    def closed(self, wait=WAIT):
        """True once the server has closed the connection (what arrives meanwhile is
        dropped); False if it is still open after wait seconds."""
        deadline = time.monotonic() + wait
        try:
            while self._fill(deadline):
                self.buf = b""
        except Timeout:
            return False
        return True

    def close(self):
        self.sock.close()

#!/usr/bin/env python3
"""Runs one step of the tutorial's server (docs/tutorial.md) and checks what it does.

    tutorial_test.py STEP path/to/binary [server options...]

STEP is echo, chat, timeouts, pool or many_cores. Each server is started on an ephemeral
loopback port (--port 0; the port is read from the first line it prints), with the options
given here and those of the check (--idle-ms 300 for the idle timeout's), and talked to with
plain sockets (standard library only). Every wait is bounded by WAIT; each server must still
be running at the end (no crash), and is then stopped by its PID with SIGTERM.
"""
import re
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/, for harness
import harness  # noqa: E402
from harness import WAIT, Failure  # noqa: E402


def ok(what):
    print(f"  ok: {what}")


class Server(harness.Server):
    def __init__(self, binary, *args):
        super().__init__(binary, *args)
        print(f"  server: {self.first.strip()}", flush=True)

    def stop(self):
        if self.proc.poll() is not None:
            raise Failure(f"the server died during the test (status {self.proc.returncode})")
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.collector.join(timeout=10)
        for line in self.log[1:]:
            print(f"  server: {line}")
        # The sanitizer trees run these tests too: a report fails the test, although the
        # server itself only ends by SIGTERM.
        reports = [l for l in self.log if re.search(
            r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
            r"runtime error:", l)]
        if reports:
            raise Failure(f"sanitizer report from the server: {reports[0]}")
        ok("the server ran to the end of the test and stopped on SIGTERM")


class Client(harness.Client):
    def recv_exactly(self, n):
        deadline = time.monotonic() + WAIT
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Failure(f"connection closed by the server (have {self.buf!r})")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def expect_any(self, *texts, wait=WAIT):
        """Reads lines until one contains any of texts; returns it."""
        deadline = time.monotonic() + wait
        while True:
            line = self.line(max(deadline - time.monotonic(), 0.001))
            if line is None:
                raise Failure(f"connection closed before a line with any of {texts}")
            if any(t in line for t in texts):
                return line

    def expect_closed(self, wait=WAIT):
        if not self.closed(wait):
            raise Failure(f"the connection is still open after {wait} s")


def test_echo(start):
    port = start().port
    a, b = Client(port), Client(port)
    a.send("hello\n")
    b.send("world\n")
    if a.recv_exactly(6) != b"hello\n" or b.recv_exactly(6) != b"world\n":
        raise Failure("echo mismatch")
    ok("two clients at once, each gets its own bytes back")
    payload = bytes(range(256)) * 4096  # 1 MiB: many reads and writes, in order
    threading.Thread(target=a.send, args=(payload,), daemon=True).start()
    if a.recv_exactly(len(payload)) != payload:
        raise Failure("1 MiB came back different")
    ok("1 MiB echoed intact while the client was still sending")
    a.close()
    b.send("still here\n")
    if b.recv_exactly(11) != b"still here\n":
        raise Failure("echo mismatch after another client left")
    ok("a client leaving does not disturb the others")
    b.close()


def join(port):
    c = Client(port)
    line = c.expect("welcome")
    m = re.search(r"you are (\S+)", line)
    if not m:
        raise Failure(f"no name in the welcome line {line!r}")
    c.name = m.group(1)
    return c


def chat(port):
    """The chat's checks; returns two clients still in the room."""
    a = join(port)
    b = join(port)
    a.expect(f"{b.name} joined")
    c = join(port)
    a.expect(f"{c.name} joined")
    b.expect(f"{c.name} joined")
    ok("three clients join, the others are told")
    a.send("hello everyone\n")
    b.expect(f"<{a.name}> hello everyone")
    c.expect(f"<{a.name}> hello everyone")
    ok("a line reaches every other client")
    for i in range(200):
        b.send(f"line {i}\n")
    for i in range(200):
        for who in (a, c):
            line = who.expect(f"<{b.name}> line")
            if not line.endswith(f"line {i}"):
                raise Failure(f"line {i} out of order: {line!r}")
    ok("200 lines reach the others whole and in order")
    c.send("partial ")
    time.sleep(0.1)
    c.send("line\n")
    a.expect(f"<{c.name}> partial line")
    ok("a line sent in two pieces arrives as one")
    c.close()
    a.expect(f"{c.name} left")
    b.expect(f"{c.name} left")
    ok("a client leaving is announced")
    return a, b


def test_chat(start):
    chat(start().port)


def idle_timeout(start):
    """A server with a 300 ms idle timeout drops a silent client and keeps a talking one."""
    port = start("--idle-ms", "300").port
    talker = join(port)
    began = time.monotonic()
    idle = join(port)
    talker.expect(f"{idle.name} joined")
    for _ in range(8):  # 0.8 s of talking: longer than the timeout
        talker.send("still talking\n")
        time.sleep(0.1)
    idle.expect("idle for 300 ms")
    idle.expect_closed()
    elapsed = time.monotonic() - began
    if elapsed < 0.3:
        raise Failure(f"idle client dropped after {elapsed:.2f} s, before its timeout")
    talker.expect(f"{idle.name} left (idle)")
    ok(f"a silent client is told and disconnected ({elapsed:.2f} s after joining)")
    newcomer = join(port)
    talker.expect(f"{newcomer.name} joined")
    ok("the talking client is still there after 0.8 s")


def test_timeouts(start):
    chat(start().port)
    idle_timeout(start)


def pool(port):
    a, b = chat(port)
    a.send("/resolve localhost\n")
    line = a.expect("* localhost")
    if "127.0.0.1" not in line and "::1" not in line:
        raise Failure(f"localhost resolved to something else: {line!r}")
    ok(f"/resolve on the pool: {line!r}")
    a.send("/nap 1500\n")
    time.sleep(0.1)  # the nap has started on the pool
    began = time.monotonic()
    b.send("are you awake?\n")
    # Had the nap blocked the loop, b's line would be read only after it, and a would hear
    # "napped" first. Order, not timing, decides.
    first = a.expect_any("are you awake?", "napped 1500 ms")
    took = time.monotonic() - began
    if "napped" in first:
        raise Failure("the nap blocked the loop: the chat stopped while it lasted")
    ok(f"while one thread naps on the pool, the chat goes on ({took * 1000:.0f} ms)")
    a.expect("napped 1500 ms")
    ok("the napping thread comes back to its client")
    a.send("/nap forever\n")
    a.expect("commands:")
    ok("a bad command gets the list of commands")
    return a, b


def test_pool(start):
    pool(start().port)
    idle_timeout(start)


def test_many_cores(start):
    port = start().port
    a, b = pool(port)
    others = [join(port) for _ in range(6)]
    for o in others:
        o.send(f"from {o.name}\n")
    # Each client's reader runs on its own loop: their lines may reach the room in any order.
    heard = {a.expect("> from ") for _ in others}
    if heard != {f"<{o.name}> from {o.name}" for o in others}:
        raise Failure(f"the room heard {sorted(heard)}")
    ok("six more clients, spread over the loops, all reach the room")
    for o in others:
        o.close()
    idle_timeout(start)


STEPS = {"echo": test_echo, "chat": test_chat, "timeouts": test_timeouts, "pool": test_pool,
         "many_cores": test_many_cores}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in STEPS:
        print(__doc__, file=sys.stderr)
        return 2
    binary, extra = sys.argv[2], sys.argv[3:]
    servers = []

    def start(*args):
        servers.append(Server(binary, *extra, *args))
        return servers[-1]

    try:
        STEPS[sys.argv[1]](start)
        for s in servers:
            s.stop()
    except (Failure, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        for s in servers:
            s.kill()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

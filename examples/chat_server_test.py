#!/usr/bin/env python3
"""Integration test of examples/chat_server: the real binary, real TCP clients.

    chat_server_test.py path/to/chat_server

Starts the server on an ephemeral loopback port (--port 0; the port is read from the first
line it prints), talks to it with plain sockets (standard library only), then stops it with
SIGTERM and checks that it exits with status 0. A second run checks the idle timeout and
SIGINT. Every wait is bounded; only 127.0.0.1 is used.
"""
import signal
import subprocess
import sys
import time

import harness
from harness import WAIT, Failure


class Server(harness.Server):
    def stop(self, sig, expect_code=0):
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure(f"the server did not exit within 10 s of {sig.name}")
        if code != expect_code:
            raise Failure(f"the server exited with {code} after {sig.name}")
        print(f"  ok: {sig.name} -> clean exit, status {code}")


class Client(harness.Client):
    def say(self, text):
        self.send(text.encode() + b"\n")

    def expect(self, needle, what):
        """Reads lines until one contains needle (others are skipped)."""
        try:
            line = super().expect(needle)
        except Failure as e:
            raise Failure(f"{what}: {e}") from None
        print(f"  ok: {what}")
        return line

    def expect_closed(self, what, wait=WAIT):
        """The server closes the connection (any remaining lines are skipped)."""
        if not self.closed(wait):
            raise Failure(f"{what}: the connection is still open")
        print(f"  ok: {what}")

    def who(self, before):
        """Sends /who and returns the answer; earlier lines are appended to before."""
        self.say("/who")
        while True:
            line = self.line()
            if line is None:
                raise Failure("connection closed while waiting for /who")
            if line.startswith("* online ("):
                return line
            before.append(line)


def main_scenario(binary):
    print("chat server: nick, broadcast, who, misbehaving clients, quit, SIGTERM")
    server = Server(binary)
    try:
        alice = Client(server.port)
        alice.expect("welcome", "alice is welcomed")
        bob = Client(server.port)
        bob.expect("welcome", "bob is welcomed")
        carol = Client(server.port)
        carol.expect("welcome", "carol is welcomed")

        alice.say("/nick alice")
        alice.expect("you are now alice", "/nick alice")
        bob.expect("is now known as alice", "bob sees alice's new name")
        carol.expect("is now known as alice", "carol sees alice's new name")
        bob.say("/nick bob")
        bob.expect("you are now bob", "/nick bob")
        carol.say("/nick carol")
        carol.expect("you are now carol", "/nick carol")

        alice.say("hello from alice")
        bob.expect("<alice> hello from alice", "bob hears alice")
        carol.expect("<alice> hello from alice", "carol hears alice")
        w = bob.who([])
        if w != "* online (3): alice bob carol":
            raise Failure(f"/who answered {w!r}")
        print(f"  ok: /who -> {w}")

        # An over-long line disconnects carol only.
        carol.send(b"y" * 5000 + b"\n")
        carol.expect("line too long", "carol is told her line is too long")
        carol.expect_closed("carol is disconnected")
        carol.close()
        alice.expect("carol left (line too long)", "alice is told carol left")
        bob.say("we are still here")
        alice.expect("<bob> we are still here", "alice and bob keep chatting")
        alice.say("indeed")
        bob.expect("<alice> indeed", "both ways")

        # Binary junk disconnects that client only.
        junk = Client(server.port)
        junk.expect("welcome", "a fourth client is welcomed")
        junk.send(b"\x00\xff\xfe\x01 garbage\n")
        junk.expect("not text", "binary junk is refused")
        junk.expect_closed("the junk client is disconnected")
        junk.close()
        alice.expect("left (sent binary data)", "alice is told")

        bob.say("/quit")
        bob.expect("* bye", "/quit says bye")
        bob.expect_closed("bob is disconnected after /quit")
        bob.close()
        alice.expect("bob left (quit)", "alice is told bob quit")

        # A client that never reads is cut off when its queue is full; alice stays.
        eve = Client(server.port, rcvbuf=4096)
        alice.expect("joined", "alice sees eve join")
        heard = []
        line = ("z" * 900 + "\n").encode()
        for _ in range(400):
            alice.send(line * 64)
            if alice.who(heard) == "* online (1): alice":
                break
        else:
            raise Failure("eve, who never reads, was never disconnected")
        if not any("left (too slow: not reading)" in h for h in heard):
            raise Failure(f"alice was not told why eve left: {heard[-5:]}")
        print("  ok: a client that does not read is disconnected, alice is told")
        eve.close()

        alice.say("anyone?")
        w = alice.who([])
        if w != "* online (1): alice":
            raise Failure(f"/who answered {w!r}")
        print("  ok: the server still serves alice")

        # SIGTERM: alice gets a goodbye, the server exits with status 0.
        server.proc.send_signal(signal.SIGTERM)
        alice.expect("server shutting down", "alice is told the server stops")
        alice.expect_closed("alice is disconnected")
        alice.close()
        try:
            code = server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure("the server did not exit within 10 s of SIGTERM")
        if code != 0:
            raise Failure(f"the server exited with status {code} after SIGTERM")
        print("  ok: SIGTERM -> clean exit, status 0")
    except BaseException:
        server.kill()
        print("server log:\n  " + "\n  ".join(server.log), file=sys.stderr)
        raise


def idle_scenario(binary):
    print("chat server: idle timeout, SIGINT")
    server = Server(binary, "--idle-timeout", "0.5")
    try:
        dave = Client(server.port)
        dave.expect("welcome", "dave is welcomed")
        start = time.monotonic()
        dave.expect("idle for", "dave, silent, is told he is idle")
        dave.expect_closed("dave is disconnected")
        elapsed = time.monotonic() - start
        if not 0.3 <= elapsed <= 4.0:
            raise Failure(f"idle disconnection after {elapsed:.2f} s, expected about 0.5 s")
        dave.close()
        server.stop(signal.SIGINT)
    except BaseException:
        server.kill()
        print("server log:\n  " + "\n  ".join(server.log), file=sys.stderr)
        raise


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        main_scenario(sys.argv[1])
        idle_scenario(sys.argv[1])
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

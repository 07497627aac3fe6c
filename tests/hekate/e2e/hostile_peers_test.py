"""Bad input from peers: each case closes (or rejects) that one connection, and after each
one a good peer still downloads the whole torrent correctly."""
import json
import os
import socket
import struct
import sys
import tempfile
import urllib.request

import harness
from mini_peer import (ALLOWED_FAST, BITFIELD, EXTENDED, FAST_AND_EXTENSIONS, HAVE, HAVE_ALL,
                       HAVE_NONE, INTERESTED, PLAIN, REJECT, REQUEST, UNCHOKE, Peer, Torrent,
                       bdecode, bencode)

FAILURES = []


def check(name, ok, hekate):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        FAILURES.append(name)


def handshake_failures(status_port):
    with urllib.request.urlopen(f"http://{harness.HEKATE_ADDRESS}:{status_port}/", timeout=5) as r:
        return json.loads(r.read())["handshake_failures"]


def good_download(hekate, torrent, expected):
    p = Peer(harness.HEKATE_ADDRESS, hekate.port, torrent.info_hash)
    try:
        return p.download(torrent) == expected
    finally:
        p.close()


def main():
    binary = harness.hekate_binary()
    with tempfile.TemporaryDirectory() as tmp:
        content = harness.make_content(tmp)
        path = harness.make_torrent(content, os.path.join(tmp, "sample.torrent"))
        torrent = Torrent(path)
        expected = b"".join(
            open(os.path.join(d, n), "rb").read()
            for d, n in sorted_files(content))
        assert len(expected) == torrent.length
        status_port = harness.free_port(harness.HEKATE_ADDRESS)
        hekate = harness.Hekate(binary, [tmp], ["-t", "-d", "2", "--max-peers", "100",
                                                "--status", str(status_port)])
        host, port, h = harness.HEKATE_ADDRESS, hekate.port, torrent.info_hash
        last_piece = len(torrent.hashes) - 1
        try:
            def closes(name, action, reserved=FAST_AND_EXTENSIONS, within=3):
                p = Peer(host, port, h, reserved=reserved)
                try:
                    action(p)
                    ok = p.closed_within(within)
                except (ConnectionResetError, BrokenPipeError):
                    ok = True
                finally:
                    p.close()
                check(name + ": connection closed", ok, hekate)
                check(name + ": a good peer still downloads", good_download(hekate, torrent, expected),
                      hekate)

            check("good peer downloads", good_download(hekate, torrent, expected), hekate)

            # Handshakes.
            p = Peer(host, port, b"\x01" * 20, handshake=False)
            p.send_handshake(b"\x01" * 20, PLAIN)
            check("unknown info-hash: closed", p.closed_within(3), hekate)
            p.close()
            p = Peer(host, port, h, handshake=False)
            p.send_raw(os.urandom(96))  # what an MSE (encrypted) opening looks like
            check("encrypted opening: closed at once", p.closed_within(1), hekate)
            p.close()
            p = Peer(host, port, h, handshake=False)
            p.send_raw(b"\x13BitTorrent protocol" + PLAIN)  # then nothing: half-open
            check("half-open handshake: closed after the handshake timeout", p.closed_within(9),
                  hekate)
            p.close()
            p = Peer(host, port, h, handshake=False)
            p.send_raw(b"\x13BitTorrent")  # then hangs up
            p.close()
            check("a handshake cut short is logged as such",
                  hekate.wait_for_log(r"handshake failed \(closed or reset by the peer\)", 3),
                  hekate)
            # Whose side gave up, for each of the four above.
            failures = handshake_failures(status_port)
            check("handshake failures counted by cause: %s" % failures,
                  failures == {"server_full": 0, "timed_out": 1, "cut": 1, "not_handshake": 1,
                               "unknown_info_hash": 1}, hekate)
            for reason in ("unknown info-hash", "not a plaintext handshake", "timed out"):
                check("handshake failure logged: " + reason,
                      "handshake failed (%s), closing" % reason in hekate.output(), hekate)

            # Framing and ids.
            closes("length prefix beyond 128 KiB + 13",
                   lambda p: p.send_raw(struct.pack(">I", 128 * 1024 + 14) + b"\x07"))
            closes("unknown message id", lambda p: p.send(99))
            closes("fast message without the fast bit", lambda p: p.send(HAVE_ALL), reserved=PLAIN)
            closes("extended message without BEP 10", lambda p: p.send(EXTENDED, b"\x00de"),
                   reserved=PLAIN)
            closes("HAVE of an unknown piece", lambda p: p.send(HAVE, struct.pack(">I", 1 << 20)))
            closes("HAVE of the wrong size", lambda p: p.send(HAVE, b"\x00\x00"))
            closes("BITFIELD of the wrong size", lambda p: p.send(BITFIELD, b"\xff" * 1000))
            closes("malformed extended handshake", lambda p: p.send(EXTENDED, b"\x00i12"))

            # Requests. The peer first gets unchoked.
            def unchoked(p):
                p.send(INTERESTED)
                p.wait_for({UNCHOKE})

            def bad_request(piece, begin, length):
                return lambda p: (unchoked(p), p.request(piece, begin, length))

            closes("request outside its piece",
                   bad_request(0, torrent.piece_length - 100, 16384))
            closes("request of length 0", bad_request(0, 0, 0))
            closes("request over 128 KiB", bad_request(0, 0, 128 * 1024 + 1))
            closes("request for an unknown piece", bad_request(last_piece + 1, 0, 16384))
            closes("request past the odd last piece",
                   bad_request(last_piece, 0, torrent.piece_size(last_piece) + 1))

            def flood(p):
                unchoked(p)
                one = struct.pack(">IBIII", 13, REQUEST, 0, 0, 16384)
                p.send_raw(one * 600)  # beyond the 500 a peer may queue

            closes("flood of 600 queued requests", flood, within=5)

            # A request while choked gets a REJECT from a fast peer's point of view.
            p = Peer(host, port, h)
            p.request(0, 0, 16384)
            msg_id, payload = p.wait_for({REJECT})
            check("request while choked: rejected",
                  msg_id == REJECT and struct.unpack(">III", payload) == (0, 0, 16384), hekate)
            p.close()

            # What real clients send must not get a peer dropped.
            p = Peer(host, port, h)
            p.send(HAVE_NONE)
            p.send(ALLOWED_FAST, struct.pack(">I", 0))
            p.send_raw(b"\0\0\0\0")  # keep-alive before interest
            p.send(BITFIELD, bytes(len(torrent.hashes) // 8 + (1 if len(torrent.hashes) % 8 else 0)))
            p.send(BITFIELD, bytes(len(torrent.hashes) // 8 + (1 if len(torrent.hashes) % 8 else 0)))
            p.send(EXTENDED, b"\x00" + bencode({"m": {"ut_metadata": 3, "upload_only": 4}, "reqq": 2000}))
            p.send(EXTENDED, b"\x07" + bencode({"x": 1}))  # an id hekate never offered
            try:
                check("client quirks tolerated: download completes",
                      p.download(torrent) == expected, hekate)
            except Exception as e:  # noqa: BLE001 - any failure is the test's failure
                check("client quirks tolerated: download completes (%s)" % e, False, hekate)
            p.close()

            # BEP 9: the info dictionary from hekate, piece by piece.
            p = Peer(host, port, h)
            p.send(EXTENDED, b"\x00" + bencode({"m": {"ut_metadata": 3}}))
            msg_id, payload = p.wait_for({EXTENDED})
            while payload[0] != 0:
                msg_id, payload = p.wait_for({EXTENDED})
            theirs, _ = bdecode(payload[1:])
            their_id = theirs[b"m"][b"ut_metadata"]
            size = theirs[b"metadata_size"]
            metadata = b""
            for piece in range((size + 16383) // 16384):
                p.send(EXTENDED, bytes([their_id]) + bencode({"msg_type": 0, "piece": piece}))
                while True:
                    msg_id, payload = p.wait_for({EXTENDED})
                    if payload[0] == 3:
                        break
                reply, end = bdecode(payload[1:])
                metadata += payload[1 + end:]
            check("ut_metadata serves the info dictionary", metadata == torrent.info_bytes, hekate)
            p.send(EXTENDED, bytes([their_id]) + bencode({"msg_type": 0, "piece": 1000}))
            while True:
                msg_id, payload = p.wait_for({EXTENDED})
                if payload[0] == 3:
                    break
            reply, _ = bdecode(payload[1:])
            check("ut_metadata rejects a piece out of range", reply[b"msg_type"] == 2, hekate)
            p.close()

            # A peer without the fast bit gets a BITFIELD (not HAVE_ALL) first.
            p = Peer(host, port, h, reserved=PLAIN)
            msg_id, payload = p.receive()
            check("a peer without the fast extension gets a full BITFIELD",
                  msg_id == BITFIELD and len(payload) == (len(torrent.hashes) + 7) // 8, hekate)
            p.close()
            p = Peer(host, port, h)
            msg_id, _ = p.receive()
            check("a fast peer gets HAVE_ALL", msg_id == HAVE_ALL, hekate)
            p.close()

            # A seed (HAVE_ALL, or a full bitfield) has nothing to get from hekate: closed.
            p = Peer(host, port, h)
            p.send(HAVE_ALL)
            check("a peer that has every piece is disconnected", p.closed_within(3), hekate)
            p.close()
            p = Peer(host, port, h, reserved=PLAIN)
            full = bytearray(b"\xff" * ((len(torrent.hashes) + 7) // 8))
            if len(torrent.hashes) % 8:
                full[-1] = (0xFF << (8 - len(torrent.hashes) % 8)) & 0xFF
            p.send(BITFIELD, bytes(full))
            check("a peer with a full bitfield is disconnected", p.closed_within(3), hekate)
            p.close()

            check("good peer downloads at the end", good_download(hekate, torrent, expected), hekate)
        finally:
            status = hekate.stop()
            check("hekate exits cleanly on SIGTERM", status == 0, hekate)
            if FAILURES:
                print("---- hekate log (tail) ----")
                print(hekate.output()[-6000:])
    if FAILURES:
        sys.exit("%d failure(s): %s" % (len(FAILURES), ", ".join(FAILURES)))


def sorted_files(root):
    """The files of a torrent folder in mktorrent's order (sorted paths)."""
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return [(root, rel) for rel in sorted(out)]


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    main()

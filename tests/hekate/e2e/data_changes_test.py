"""Data files changed while hekate serves them (issue 14): truncated during a download (its
pages read just before, or cold), truncated to nothing, replaced by a rename, deleted. hekate
keeps running and serving the other torrents, never sends a block that does not match the
torrent, and names the file in its log. The torrent is then checked again whole, which fails:
it is not served until a rescan finds its data whole again."""
import hashlib
import os
import re
import signal
import struct
import sys
import tempfile
import time

import harness
from mini_peer import (BLOCK, CHOKE, INTERESTED, PIECE, REJECT, UNCHOKE, Closed, Peer, Torrent,
                       bencode)

FAILURES = []
PIECE_LENGTH = 32768
SIZE = 2 * 1024 * 1024


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        FAILURES.append(name)


def single_file_torrent(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    pieces = b"".join(hashlib.sha1(data[i:i + PIECE_LENGTH]).digest()
                      for i in range(0, len(data), PIECE_LENGTH))
    info = {"name": name, "length": len(data), "piece length": PIECE_LENGTH, "pieces": pieces}
    path = os.path.join(directory, name + ".torrent")
    with open(path, "wb") as f:
        f.write(bencode({"info": info}))
    return path


def blocks_of(torrent):
    return [(p, b, min(BLOCK, torrent.piece_size(p) - b))
            for p in range(len(torrent.hashes))
            for b in range(0, torrent.piece_size(p), BLOCK)]


class Downloader:
    """Requests every block of a torrent, again and again, over connection after connection
    (hekate may close one when a file fails it); checks each block received against the
    original bytes."""

    def __init__(self, port, torrent_path, original):
        self.port = port
        self.torrent = Torrent(torrent_path)
        self.original = original
        self.received = 0
        self.mismatched = []
        self.closed = 0

    def _checked(self, payload):
        p, b = struct.unpack(">II", payload[:8])
        at = p * self.torrent.piece_length + b
        self.received += 1
        if payload[8:] != self.original[at:at + len(payload) - 8]:
            self.mismatched.append((p, b))

    def connection(self, blocks, until):
        """One connection: requests `blocks` (pipelined), reads until all came, the
        connection closes, or `until` passes. Returns the number of blocks received."""
        try:
            peer = Peer(harness.HEKATE_ADDRESS, self.port, self.torrent.info_hash, timeout=5)
        except (Closed, OSError):
            self.closed += 1
            return 0
        got = 0
        try:
            peer.send(INTERESTED)
            peer.wait_for({UNCHOKE})
            sent = 0
            while got < len(blocks) and time.monotonic() < until:
                while sent < len(blocks) and sent - got < 32:
                    peer.request(*blocks[sent])
                    sent += 1
                msg_id, payload = peer.receive()
                if msg_id == PIECE:
                    self._checked(payload)
                    got += 1
                elif msg_id in (CHOKE, REJECT):
                    got += 1 if msg_id == REJECT else 0
                    if msg_id == CHOKE:
                        break
        except (Closed, OSError):
            self.closed += 1
        finally:
            peer.close()
        return got


def main():
    binary = harness.hekate_binary()
    cases = [
        ("truncated to half, pages in memory", "half-warm.bin",
         lambda p: os.truncate(p, SIZE // 2), True),
        ("truncated to half, cold", "half-cold.bin", lambda p: os.truncate(p, SIZE // 2), False),
        ("truncated to nothing", "zero.bin", lambda p: os.truncate(p, 0), True),
        ("replaced by a rename", "renamed.bin", None, True),
        ("deleted", "deleted.bin", lambda p: os.remove(p), True),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lib = os.path.join(tmp, "library")
        os.makedirs(lib)
        originals = {}
        for _, name, _, _ in cases:
            data = os.urandom(SIZE)
            originals[name] = (data, single_file_torrent(lib, name, data))
        other_data = os.urandom(300_000)
        other = single_file_torrent(lib, "other.bin", other_data)

        hekate = harness.Hekate(binary, [lib], ["-t", "-d", "2"],
                                log_path=os.path.join(tmp, "hekate.log"))
        try:
            for label, name, change, warm in cases:
                data, torrent_path = originals[name]
                path = os.path.join(lib, name)
                d = Downloader(hekate.port, torrent_path, data)
                blocks = blocks_of(d.torrent)
                # The file mapped by hekate's loop: the first piece downloaded. Warm: every
                # page read in first (the page cache); cold: dropped from it (advice only).
                first = d.connection(blocks[:2], time.monotonic() + 10)
                check(label + ": first blocks served", first == 2 and not d.mismatched)
                if warm:
                    with open(path, "rb") as f:
                        f.read()
                else:
                    fd = os.open(path, os.O_RDONLY)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    os.close(fd)
                if change is None:
                    replacement = os.path.join(lib, name + ".new")
                    with open(replacement, "wb") as f:
                        f.write(os.urandom(SIZE))
                    os.rename(replacement, path)
                else:
                    change(path)
                # Whole downloads, connection after connection, until hekate reports the file:
                # the lost range is read at once (and again within the revalidation period).
                logged = len(hekate.output())
                deadline = time.monotonic() + 20
                named = False
                while not named and time.monotonic() < deadline and hekate.proc.poll() is None:
                    d.connection(blocks, deadline)
                    named = re.search(re.escape(path) + ": .*(truncated|bytes|replaced|deleted|missing)",
                                      hekate.output()[logged:]) is not None
                check(label + ": hekate reports what happened to the file", named)
                check(label + ": no block that does not match the torrent (%d received)"
                      % d.received, not d.mismatched)
                check(label + ": hekate still running", hekate.proc.poll() is None)
                check(label + ": another torrent still downloads",
                      download_all(hekate.port, other, other_data))
                # The torrent goes to a whole check, which its changed data fail: not served.
                torrent_name = re.escape(os.path.basename(torrent_path))
                check(label + ": the torrent is checked again, and not served",
                      wait_for_log(hekate, logged, torrent_name + ": its data changed while "
                                   "served; checking it again") and
                      wait_for_log(hekate, logged, "not serving .*" + torrent_name))
                if label == "truncated to half, pages in memory":
                    # The file made whole again, a rescan (SIGHUP) checks it and serves it.
                    with open(path, "wb") as f:
                        f.write(data)
                    restored = len(hekate.output())
                    hekate.proc.send_signal(signal.SIGHUP)
                    check(label + ": made whole again, checked and served after SIGHUP",
                          wait_for_log(hekate, restored, "verified .*" + torrent_name) and
                          download_all(hekate.port, torrent_path, data))
        finally:
            if FAILURES:
                print(hekate.output()[-4000:])
            status = hekate.stop()
        check("hekate exits cleanly", status == 0)
    if FAILURES:
        sys.exit("%d failure(s): %s" % (len(FAILURES), ", ".join(FAILURES)))


def wait_for_log(hekate, since, pattern, seconds=20):
    """True once hekate's output after offset `since` matches the regular expression."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, hekate.output()[since:]):
            return True
        time.sleep(0.05)
    return False


def download_all(port, torrent_path, expected):
    t = Torrent(torrent_path)
    try:
        p = Peer(harness.HEKATE_ADDRESS, port, t.info_hash)
        data = p.download(t)
        p.close()
        return data == expected
    except (Closed, OSError, AssertionError):
        return False


if __name__ == "__main__":
    main()

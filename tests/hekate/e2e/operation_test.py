"""Operating hekate: bad .torrent files skipped by name, missing or corrupt data not served
(--verify), SIGHUP rescans, SIGUSR1 dumps threads, the JSON status port, IPv6, and the choker's
rotation."""
import hashlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import urllib.request

import harness
from mini_peer import (CHOKE, INTERESTED, PIECE, UNCHOKE, Closed, Peer, Torrent, bencode)

FAILURES = []


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        FAILURES.append(name)


def single_file_torrent(directory, name, data, piece_length=32768, **info_extra):
    """Writes directory/name (the data) and directory/name.torrent; returns the .torrent."""
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    pieces = b"".join(hashlib.sha1(data[i:i + piece_length]).digest()
                      for i in range(0, len(data), piece_length))
    info = {"name": name, "length": len(data), "piece length": piece_length, "pieces": pieces}
    info.update(info_extra)
    path = os.path.join(directory, name + ".torrent")
    with open(path, "wb") as f:
        f.write(bencode({"info": info}))
    return path


def downloads(port, torrent_path, address=harness.HEKATE_ADDRESS, expected=None):
    t = Torrent(torrent_path)
    try:
        p = Peer(address, port, t.info_hash)
        data = p.download(t)
        p.close()
        return expected is None or data == expected
    except (Closed, OSError, AssertionError):
        return False


def refused(port, torrent_path):
    """True when hekate does not serve this torrent (the handshake is answered by a close)."""
    return refused_hash(port, Torrent(torrent_path).info_hash)


def main():
    binary = harness.hekate_binary()
    with tempfile.TemporaryDirectory() as tmp:
        lib = os.path.join(tmp, "library")
        nested = os.path.join(lib, "nested", "deeper")
        os.makedirs(nested)
        good_data = os.urandom(200_000)
        good = single_file_torrent(lib, "good.bin", good_data)
        other = single_file_torrent(nested, "other.bin", os.urandom(50_001))
        leaving = single_file_torrent(lib, "leaving.bin", os.urandom(70_000))
        corrupt_data = bytearray(os.urandom(100_000))
        corrupt = single_file_torrent(lib, "corrupt.bin", bytes(corrupt_data))
        corrupt_data[54_321] ^= 0xFF
        with open(os.path.join(lib, "corrupt.bin"), "wb") as f:
            f.write(corrupt_data)
        missing = single_file_torrent(lib, "missing.bin", os.urandom(10_000))
        os.remove(os.path.join(lib, "missing.bin"))
        short = single_file_torrent(lib, "short.bin", os.urandom(10_000))
        with open(os.path.join(lib, "short.bin"), "ab") as f:
            f.write(b"x")
        bad = {
            "garbage.torrent": os.urandom(300),
            "truncated.torrent": open(good, "rb").read()[:-10],
            "escape.torrent": bencode({"info": {"name": "x", "piece length": 32768,
                                                "pieces": b"\0" * 20,
                                                "files": [{"length": 1, "path": ["..", "etc"]}]}}),
            "pieces-not-20.torrent": bencode({"info": {"name": "y", "piece length": 32768,
                                                       "pieces": b"\0" * 19, "length": 1}}),
            "no-info.torrent": bencode({"announce": "http://127.0.0.1:1/announce"}),
        }
        for name, data in bad.items():
            with open(os.path.join(lib, name), "wb") as f:
                f.write(data)

        status_port = harness.free_port(harness.HEKATE_ADDRESS)
        hekate = harness.Hekate(binary, [lib], ["-t", "-d", "2", "--verify",
                                                "--status", str(status_port)])
        try:
            log = hekate.output()
            for name in bad:
                check("bad torrent skipped with its name: " + name, name in log)
            check("missing data reported", hekate.wait_for_log(r"not serving .*missing\.bin", 5))
            check("wrong size reported", hekate.wait_for_log(r"not serving .*short\.bin", 5))
            check("--verify: corrupt data reported",
                  hekate.wait_for_log(r"not serving .*corrupt\.bin\.torrent", 20))
            check("--verify: good torrents served after verification",
                  hekate.wait_for_log(r"verified .*leaving\.bin\.torrent", 20))
            check("good torrent downloads", downloads(hekate.port, good, expected=good_data))
            check("torrent in a nested folder downloads", downloads(hekate.port, other))
            for name, path in [("missing", missing), ("short", short), ("corrupt", corrupt)]:
                check(name + " data: not served", refused(hekate.port, path))

            # The status port.
            with urllib.request.urlopen("http://%s:%d/" % (harness.HEKATE_ADDRESS, status_port),
                                        timeout=5) as r:
                status = json.load(r)
            names = sorted(t["name"] for t in status["torrents"])
            check("status JSON lists the served torrents",
                  names == ["good.bin", "leaving.bin", "other.bin"])
            check("status JSON counts bytes sent", status["uploaded"] >= 250_001)

            # SIGHUP: a new torrent is served, a removed one drops its peers, an unchanged one
            # keeps them.
            stays = Peer(harness.HEKATE_ADDRESS, hekate.port, Torrent(good).info_hash)
            leaving_hash = Torrent(leaving).info_hash
            goes = Peer(harness.HEKATE_ADDRESS, hekate.port, leaving_hash)
            added = single_file_torrent(tmp, "added.bin", os.urandom(40_000))
            shutil.move(added, os.path.join(lib, "added.bin.torrent"))
            shutil.move(os.path.join(tmp, "added.bin"), os.path.join(lib, "added.bin"))
            os.remove(leaving)
            hekate.signal(signal.SIGHUP)
            check("rescan: removed torrent's peer disconnected", goes.closed_within(5))
            check("rescan: new torrent served",
                  harness.wait_until(lambda: downloads(hekate.port,
                                                       os.path.join(lib, "added.bin.torrent")), 10))
            check("rescan: unchanged torrent keeps its peer", not stays.closed_within(1.5))
            stays.close()
            goes.close()
            check("rescan: removed torrent refused", refused_hash(hekate.port, leaving_hash))

            # SIGUSR1: every loop's suspended threads on stderr (cpc::dump_threads), among them
            # an idle peer's, waiting to read its socket; hekate goes on serving. The peer's
            # thread may not wait yet when the first dump is taken: the signal is repeated.
            idle = Peer(harness.HEKATE_ADDRESS, hekate.port, Torrent(good).info_hash)
            peer_wait = (r"\n  thread waits on (fd \d+ \(read\)|an io_uring operation on fd "
                         r"\d+)\n(    at \S+:\d+\n)*    at \S+peer_connection\.cpp:\d+\n")

            def dumped():
                hekate.signal(signal.SIGUSR1)
                return hekate.wait_for_log(peer_wait, 0.5)
            check("SIGUSR1: a dump of the suspended threads, their frames as file:line",
                  harness.wait_until(dumped, 10)
                  and hekate.wait_for_log(r"cpc: loop 0 .*suspended thread\(s\)", 1))
            check("SIGUSR1: still serving", downloads(hekate.port, good, expected=good_data))
            check("SIGUSR1: the idle peer keeps its connection", not idle.closed_within(0.5))
            idle.close()
        finally:
            code = hekate.stop()
            check("exit status 0 after SIGTERM", code == 0)
            if FAILURES:
                print(hekate.output()[-5000:])

        # IPv6 and IPv4 on every address when --bind is not given.
        v6 = harness.Hekate(binary, [lib], ["-t", "-d", "1"], bind=None,
                            log_path=os.path.join(tmp, "v6.log"))
        try:
            if socket.has_ipv6 and v6.wait_for_log(r"listening for peers on \[::\]", 2):
                check("IPv6: downloads over ::1", downloads(v6.port, good, address="::1"))
            else:
                print("skip IPv6: this host has no IPv6 loopback")
            check("IPv4 on every address: downloads over 127.0.0.1",
                  downloads(v6.port, good, address="127.0.0.1"))
        finally:
            v6.stop()

        # A cold disk: the data is dropped from the page cache, so hekate's writer finds the
        # pages missing (mincore) and, unless the prefetch brought them in meanwhile, reads
        # them in on a pool thread (the paper's Figure 3). The bytes must be right either way.
        cold_data = os.urandom(4 << 20)
        cold = single_file_torrent(lib, "cold.bin", cold_data)
        with open(os.path.join(lib, "cold.bin"), "rb") as f:
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        cold_hekate = harness.Hekate(binary, [lib], ["-t", "-d", "3"],
                                     log_path=os.path.join(tmp, "cold.log"))
        try:
            check("cold data downloads correctly",
                  downloads(cold_hekate.port, cold, expected=cold_data))
            pool_reads = cold_hekate.output().count("reading them from the pool")
            print("     (%d batches read in on the pool)" % pool_reads)
        finally:
            cold_hekate.stop()

        # The choker: one slot, a credit of 64 KiB. A spends its credit, is choked, and B,
        # who waited, gets the slot.
        fair = harness.Hekate(binary, [lib], ["-t", "-d", "3", "-N", "1", "-C", "64K"],
                              log_path=os.path.join(tmp, "fair.log"))
        try:
            h = Torrent(good).info_hash
            a = Peer(harness.HEKATE_ADDRESS, fair.port, h)
            a.send(INTERESTED)
            a.wait_for({UNCHOKE})
            b = Peer(harness.HEKATE_ADDRESS, fair.port, h)
            b.send(INTERESTED)
            for i in range(8):
                a.request(i // 2, (i % 2) * 16384, 16384)
            received = 0
            while True:
                msg_id, _ = a.wait_for({PIECE, CHOKE})
                if msg_id == CHOKE:
                    break
                received += 16384
            check("choker: A choked after spending its credit", received >= 64 * 1024)
            b.sock.settimeout(5)
            msg_id, _ = b.wait_for({UNCHOKE})
            check("choker: B, the oldest waiter, unchoked next", msg_id == UNCHOKE)
            a.close()
            b.close()
        except (Closed, OSError) as e:
            check("choker rotation (%s)" % e, False)
        finally:
            fair.stop()
            if FAILURES:
                print(fair.output()[-3000:])
    if FAILURES:
        sys.exit("%d failure(s): %s" % (len(FAILURES), ", ".join(FAILURES)))


def refused_hash(port, info_hash):
    try:
        Peer(harness.HEKATE_ADDRESS, port, info_hash).close()
        return False
    except (Closed, OSError):
        return True


if __name__ == "__main__":
    main()

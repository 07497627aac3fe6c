"""Torrents as today's tools make them, served by hekate and downloaded whole.

- A hybrid v1+v2 torrent by python3-libtorrent 2.0 (its default: BEP 52 keys next to the v1
  ones, BEP 47 pad files after files that do not end on a piece boundary), served with -t:
  the mini peer downloads it by its v1 info-hash (SHA-1 of the info dict), every piece
  verifies, and the pad ranges are zeros; then a real libtorrent session downloads it too.
- A private torrent (BEP 27) whose announce URL points to a closed port, and a trackerless
  single-file torrent (no announce at all), served by a hekate that does announce: both
  download.

Each check prints ok or FAIL and the next checks still run; the script fails at the end if
any did, with the tail of every log (a harness.Scenario: loopback only, every wait bounded,
the temp dir removed, kept if HEKATE_E2E_KEEP is set).
"""
import os
import random
import socket

import harness
from mini_peer import Peer, Torrent, bdecode

FAILURES = []


def check(name, ok, detail=""):
    """A check that does not stop the test: prints ok or FAIL, remembers the failures."""
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else ": " + detail),
          flush=True)
    if not ok:
        FAILURES.append(name)
    return ok


def lt_torrent(lt, content, torrent_path, private=False, announce=None):
    """A .torrent for `content` (file or folder) as libtorrent 2.0 makes it by default: hybrid
    v1+v2 with pad files. Returns the decoded top-level dict."""
    fs = lt.file_storage()
    lt.add_files(fs, content)
    ct = lt.create_torrent(fs)
    if private:
        ct.set_priv(True)
    if announce:
        ct.add_tracker(announce)
    lt.set_piece_hashes(ct, os.path.dirname(content))
    data = lt.bencode(ct.generate())
    with open(torrent_path, "wb") as f:
        f.write(data)
    top, _ = bdecode(data)
    return top


def expected_stream(info, content):
    """The torrent's v1 byte stream from the files on disk: pad files are zeros. Returns
    (stream, [(offset, length) of each pad file])."""
    if b"files" not in info:
        return open(content, "rb").read(), []
    parts, pads, at = [], [], 0
    for f in info[b"files"]:
        if b"p" in f.get(b"attr", b""):
            parts.append(bytes(f[b"length"]))
            pads.append((at, f[b"length"]))
        else:
            rel = os.path.join(*(c.decode() for c in f[b"path"]))
            parts.append(open(os.path.join(content, rel), "rb").read())
        at += f[b"length"]
    return b"".join(parts), pads


def mini_download(hekate, torrent_path):
    """The mini peer's download by the v1 info-hash: (stream or None, error text)."""
    t = Torrent(torrent_path)
    try:
        p = Peer(harness.HEKATE_ADDRESS, hekate.port, t.info_hash, timeout=10)
    except OSError as e:
        return None, "connect: %s" % e
    try:
        return p.download(t), ""  # raises if a piece does not match its v1 hash
    except Exception as e:  # noqa: BLE001 - any failure is this check's failure
        return None, "%s: %s" % (type(e).__name__, e)
    finally:
        p.close()


def single_file(parent, name, size, seed):
    path = os.path.join(parent, name)
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(size))
    return path


def serves(hekate, torrent_path):
    """True when hekate's log says it serves this torrent under its v1 info-hash (the SHA-1
    of the info dict's bytes as they are in the file)."""
    v1 = Torrent(torrent_path).info_hash.hex()
    return harness.wait_until(lambda: "(%s," % v1 in hekate.output(), 5)


def libtorrent_download(s, hekate, torrent_path, content):
    """A harness.LibtorrentSession downloads the torrent from hekate, told about it with
    connect_peer, within 30 s. Returns (ok, what went wrong)."""
    lt_session = harness.LibtorrentSession(s)
    download = s.dir("libtorrent-download")
    try:
        h = lt_session.add_torrent(torrent_path, download, peer=(harness.HEKATE_ADDRESS, hekate.port))
        lt_session.wait_for_download(h, content, download, timeout=30)
        return True, ""
    except harness.TestFailure as e:
        return False, str(e)
    finally:
        lt_session.close()


def body(s):
    import libtorrent as lt

    s.note("python3-libtorrent %s" % lt.__version__)

    # --- 1. Hybrid v1+v2 with pad files, served with -t.
    hybrid_dir = s.dir("hybrid")
    content = harness.make_content(hybrid_dir, name="hybrid content", seed=21)
    torrent_path = os.path.join(hybrid_dir, "hybrid content.torrent")
    top = lt_torrent(lt, content, torrent_path)
    info = top[b"info"]
    pads = [f for f in info[b"files"] if b"p" in f.get(b"attr", b"")]
    check("hybrid .torrent has v1 and v2 keys (pieces, files, meta version 2, file tree, "
          "piece layers)",
          all(k in info for k in (b"pieces", b"files", b"file tree"))
          and info.get(b"meta version") == 2 and b"piece layers" in top)
    check("hybrid .torrent has pad files (attr 'p')", len(pads) > 0,
          "files: %r" % [(f[b"path"], f[b"length"]) for f in info[b"files"]])
    s.note("hybrid: %d files, %d of them pad files, pieces of %d bytes" % (
        len(info[b"files"]), len(pads), info[b"piece length"]))
    expected, pad_ranges = expected_stream(info, content)

    a = s.start_hekate(["-t"], directories=[hybrid_dir], debug=2, log_name="hekate-hybrid.log")
    check("hekate serves the hybrid torrent under its v1 info-hash", serves(a, torrent_path))
    data, error = mini_download(a, torrent_path)
    check("hybrid: mini peer downloads every piece by the v1 info-hash, each verifies",
          data is not None, error)
    if data is not None:
        check("hybrid: downloaded stream equals the files with zeroed pads", data == expected)
        check("hybrid: every pad range is zeros (%d ranges)" % len(pad_ranges),
              all(data[o:o + n] == bytes(n) for o, n in pad_ranges))
    ok, detail = libtorrent_download(s, a, torrent_path, content)
    check("hybrid: libtorrent %s downloads it, files identical byte for byte" % lt.__version__,
          ok, detail)
    status = a.stop()
    check("hekate (-t) exits cleanly on SIGTERM", status == 0, "status %s" % status)

    # --- 2. Private with an unreachable tracker, and trackerless; hekate announces.
    closed = harness.free_port(harness.CLIENT_ADDRESS)  # nothing listens there
    private_dir = s.dir("private")
    private_content = harness.make_content(private_dir, name="private content", seed=22)
    private_path = os.path.join(private_dir, "private content.torrent")
    private_top = lt_torrent(lt, private_content, private_path, private=True,
                             announce="http://%s:%d/announce" % (harness.CLIENT_ADDRESS, closed))
    check("private .torrent has private 1 and the closed-port announce",
          private_top[b"info"].get(b"private") == 1
          and private_top.get(b"announce", b"").endswith(b":%d/announce" % closed))

    trackerless_dir = s.dir("trackerless")
    single = single_file(trackerless_dir, "trackerless.bin", 777_777, seed=23)
    trackerless_path = os.path.join(trackerless_dir, "trackerless.bin.torrent")
    trackerless_top = lt_torrent(lt, single, trackerless_path)
    check("trackerless .torrent has no announce and no announce-list",
          b"announce" not in trackerless_top and b"announce-list" not in trackerless_top)

    b = s.start_hekate([], directories=[private_dir, trackerless_dir], debug=2,
                       log_name="hekate-announcing.log")
    check("hekate serves the private torrent", serves(b, private_path))
    check("hekate serves the trackerless torrent", serves(b, trackerless_path))
    harness.wait_until(lambda: False, 1)  # time for the first announce (to the closed port) to fail
    check("hekate still runs after its announce was refused", b.proc.poll() is None)
    for label, path, top_dict, folder in (
            ("private", private_path, private_top, private_content),
            ("trackerless", trackerless_path, trackerless_top, single)):
        data, error = mini_download(b, path)
        check("%s: mini peer downloads every piece, each verifies" % label, data is not None,
              error)
        if data is not None:
            want, _ = expected_stream(top_dict[b"info"], folder)
            check("%s: downloaded stream equals the files" % label, data == want)
    status = b.stop()
    check("hekate (announcing) exits cleanly on SIGTERM", status == 0, "status %s" % status)
    s.check(not FAILURES, "%d failure(s): %s" % (len(FAILURES), "; ".join(FAILURES)))


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    harness.Scenario("torrent_formats").run(body)

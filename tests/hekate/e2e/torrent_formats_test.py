"""Torrents as today's tools make them, served by hekate and downloaded whole.

- A hybrid v1+v2 torrent by python3-libtorrent 2.0 (its default: BEP 52 keys next to the v1
  ones, BEP 47 pad files after files that do not end on a piece boundary), served with -t:
  the mini peer downloads it by its v1 info-hash (SHA-1 of the info dict), every piece
  verifies, and the pad ranges are zeros; then a real libtorrent session downloads it too.
- A private torrent (BEP 27) whose announce URL points to a closed port, and a trackerless
  single-file torrent (no announce at all), served by a hekate that does announce: both
  download.

Each check prints ok or FAIL; the script exits non-zero on any failure, with the tail of
hekate's log. Loopback only, every wait bounded, the temp dir removed (kept if
HEKATE_E2E_KEEP is set).
"""
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import harness
from mini_peer import Peer, Torrent, bdecode

FAILURES = []
STARTED = time.monotonic()


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else ": " + detail),
          flush=True)
    if not ok:
        FAILURES.append(name)
    return ok


def note(text):
    print("[%5.1f s] %s" % (time.monotonic() - STARTED, text), flush=True)


def die_with_parent():
    """preexec_fn: hekate gets SIGKILL if this script dies before it can stop it."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class HekateProcess:
    """hekate on HEKATE_ADDRESS:free port serving `directories`, its output in `log_path`,
    stopped by its PID."""

    def __init__(self, binary, directories, args, log_path, debug=2):
        self.port = harness.free_port(harness.HEKATE_ADDRESS)
        self.log_path = log_path
        cmd = [binary, "--bind", harness.HEKATE_ADDRESS, "-p", str(self.port), "-d", str(debug), *args,
               *directories]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        note("hekate pid %d on %s:%d: %s" % (self.proc.pid, harness.HEKATE_ADDRESS, self.port,
                                             " ".join(args)))
        if not harness.wait_until(lambda: "startup:" in self.output() or self.proc.poll() is not None,
                                  15):
            self.stop()
            raise RuntimeError("hekate did not start within 15 s")
        if self.proc.poll() is not None:
            raise RuntimeError("hekate exited with status %s at startup" % self.proc.returncode)

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM to the PID; its exit status, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


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


def tree_matches(expected_root, actual_root):
    """[] when every file under expected_root is under actual_root byte for byte; else what
    differs."""
    problems = []
    for dirpath, _, names in os.walk(expected_root):
        for n in names:
            e = os.path.join(dirpath, n)
            rel = os.path.relpath(e, expected_root)
            a = os.path.join(actual_root, rel)
            if not os.path.isfile(a):
                problems.append(rel + ": missing")
            elif open(e, "rb").read() != open(a, "rb").read():
                problems.append(rel + ": different bytes")
    return problems


def libtorrent_download(lt, root, hekate, torrent_path, content, timeout=30):
    """A real libtorrent session on CLIENT_ADDRESS (DHT, LSD, UPnP, NAT-PMP off) downloads
    the torrent from hekate, told about it with connect_peer. Returns (ok, detail)."""
    port = harness.free_port(harness.CLIENT_ADDRESS)
    log_path = os.path.join(root, "libtorrent.log")
    session = lt.session({
        "listen_interfaces": "%s:%d" % (harness.CLIENT_ADDRESS, port),
        "outgoing_interfaces": harness.CLIENT_ADDRESS,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert_category.error | lt.alert_category.peer
        | lt.alert_category.status | lt.alert_category.connect,
    })
    download = os.path.join(root, "libtorrent-download")
    os.makedirs(download)
    with open(log_path, "w") as log:
        def pump():
            for a in session.pop_alerts():
                log.write("%s: %s\n" % (type(a).__name__, a.message()))
            log.flush()

        h = None
        try:
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(torrent_path)
            params.save_path = download
            h = session.add_torrent(params)
            h.connect_peer((harness.HEKATE_ADDRESS, hekate.port))
            start = time.monotonic()
            seeding = harness.wait_until(lambda: pump() is None and h.status().is_seeding, timeout,
                                         step=0.2)
            st = h.status()
            state = "state %s, progress %.3f, %d peers, %d bytes done" % (
                st.state, st.progress, st.num_peers, st.total_done)
            if not seeding:
                with open(log_path, errors="replace") as f:
                    alerts = "".join(f.readlines()[-15:])
                return False, "not seeding after %d s (%s); last alerts:\n%s" % (timeout, state,
                                                                                 alerts)
            note("libtorrent seeding after %.1f s" % (time.monotonic() - start))
            problems = tree_matches(content, os.path.join(download, os.path.basename(content)))
            return not problems, "; ".join(problems)
        finally:
            pump()
            if h is not None:
                session.remove_torrent(h)
            session.pause()


def content_folder(parent, name, seed):
    """The harness's awkward folder (nested, zero-length files, sizes not piece-aligned)."""
    os.makedirs(parent, exist_ok=True)
    return harness.make_content(parent, name=name, seed=seed)


def single_file(parent, name, size, seed):
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, name)
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(size))
    return path


def serves(hekate, torrent_path):
    """True when hekate's log says it serves this torrent under its v1 info-hash (the SHA-1
    of the info dict's bytes as they are in the file)."""
    v1 = Torrent(torrent_path).info_hash.hex()
    return harness.wait_until(lambda: "(%s," % v1 in hekate.output(), 5)


def log_tail(path, lines=40):
    with open(path, errors="replace") as f:
        return "\n".join(f.read().splitlines()[-lines:])


def main():
    binary = harness.hekate_binary()
    import libtorrent as lt

    note("python3-libtorrent %s" % lt.__version__)
    root = tempfile.mkdtemp(prefix="hekate-e2e-torrent-formats-", dir="/tmp")
    running = []
    try:
        # --- 1. Hybrid v1+v2 with pad files, served with -t.
        hybrid_dir = os.path.join(root, "hybrid")
        content = content_folder(hybrid_dir, "hybrid content", seed=21)
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
        note("hybrid: %d files, %d of them pad files, pieces of %d bytes" % (
            len(info[b"files"]), len(pads), info[b"piece length"]))
        expected, pad_ranges = expected_stream(info, content)

        a = HekateProcess(binary, [hybrid_dir], ["-t"], os.path.join(root, "hekate-hybrid.log"))
        running.append(a)
        check("hekate serves the hybrid torrent under its v1 info-hash", serves(a, torrent_path))
        data, error = mini_download(a, torrent_path)
        check("hybrid: mini peer downloads every piece by the v1 info-hash, each verifies",
              data is not None, error)
        if data is not None:
            check("hybrid: downloaded stream equals the files with zeroed pads", data == expected)
            check("hybrid: every pad range is zeros (%d ranges)" % len(pad_ranges),
                  all(data[o:o + n] == bytes(n) for o, n in pad_ranges))
        ok, detail = libtorrent_download(lt, root, a, torrent_path, content)
        check("hybrid: libtorrent %s downloads it, files identical byte for byte" % lt.__version__,
              ok, detail)
        status = a.stop()
        running.remove(a)
        check("hekate (-t) exits cleanly on SIGTERM", status == 0, "status %s" % status)

        # --- 2. Private with an unreachable tracker, and trackerless; hekate announces.
        closed = harness.free_port(harness.CLIENT_ADDRESS)  # nothing listens there
        private_dir = os.path.join(root, "private")
        private_content = content_folder(private_dir, "private content", seed=22)
        private_path = os.path.join(private_dir, "private content.torrent")
        private_top = lt_torrent(lt, private_content, private_path, private=True,
                                 announce="http://%s:%d/announce" % (harness.CLIENT_ADDRESS, closed))
        check("private .torrent has private 1 and the closed-port announce",
              private_top[b"info"].get(b"private") == 1
              and private_top.get(b"announce", b"").endswith(b":%d/announce" % closed))

        trackerless_dir = os.path.join(root, "trackerless")
        single = single_file(trackerless_dir, "trackerless.bin", 777_777, seed=23)
        trackerless_path = os.path.join(trackerless_dir, "trackerless.bin.torrent")
        trackerless_top = lt_torrent(lt, single, trackerless_path)
        check("trackerless .torrent has no announce and no announce-list",
              b"announce" not in trackerless_top and b"announce-list" not in trackerless_top)

        b = HekateProcess(binary, [private_dir, trackerless_dir], [],
                          os.path.join(root, "hekate-announcing.log"))
        running.append(b)
        check("hekate serves the private torrent", serves(b, private_path))
        check("hekate serves the trackerless torrent", serves(b, trackerless_path))
        time.sleep(1)  # time for the first announce (to the closed port) to fail
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
        running.remove(b)
        check("hekate (announcing) exits cleanly on SIGTERM", status == 0, "status %s" % status)
    except Exception as e:  # noqa: BLE001 - reported as a failure, then cleaned up
        import traceback

        traceback.print_exc()
        check("no unexpected error", False, "%s: %s" % (type(e).__name__, e))
    finally:
        for h in running:
            h.stop()
        if FAILURES:
            for name in sorted(os.listdir(root)):
                if name.startswith("hekate-") and name.endswith(".log"):
                    print("---- tail of %s ----" % name)
                    print(log_tail(os.path.join(root, name)))
        if os.environ.get("HEKATE_E2E_KEEP"):
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    note("done")
    if FAILURES:
        sys.exit("%d failure(s): %s" % (len(FAILURES), "; ".join(FAILURES)))


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    main()

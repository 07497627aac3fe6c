"""Shared pieces of hekate's end-to-end tests: content, torrents, a hekate process.

Hekate listens on 127.0.0.2 and clients run on 127.0.0.1 (rtorrent keeps one peer per
address, ctorrent refuses peers from its own address). Every wait is bounded.

Hekate runs with --threads $HEKATE_TEST_THREADS (default 1: one loop) unless a test gives
--threads itself: ctest runs every test on one loop and again on two (the _2loops tests).
"""
import filecmp
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

HEKATE_ADDRESS = "127.0.0.2"
CLIENT_ADDRESS = "127.0.0.1"


_ports_given = set()


def free_port(address=CLIENT_ADDRESS):
    """A TCP port free on `address` now (and its UDP twin, for clients that want both), and
    never one this process was given before: the kernel may hand out a port again once its
    probe socket is closed, and two of a test's ports (hekate's and its --status) must differ."""
    while True:
        with socket.socket() as s:
            s.bind((address, 0))
            port = s.getsockname()[1]
        if port in _ports_given:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((address, port))
            _ports_given.add(port)
            return port
        except OSError:
            continue


def make_content(parent, name="sample content", seed=1):
    """The awkward layout the issue asks for: nested folders, zero-length files at the top and
    between two files, sizes not aligned to pieces, a space in the name, an odd last piece.
    Returns the folder's path."""
    import random

    rng = random.Random(seed)
    root = os.path.join(parent, name)
    files = [
        ("0-empty-at-top", 0),
        ("a first file.bin", 300_001),
        ("b-empty-between", 0),
        ("c.bin", 123_457),
        ("deep/er/d.bin", 70_001),
        ("deep/e.txt", 5_003),
        ("deep/er/f-empty", 0),
        ("z-last.bin", 250_013),
    ]
    for rel, size in files:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(size))
    return root


def make_torrent(content, torrent_path, announce=None, piece_kib=32, private=False):
    """A plain v1 torrent by mktorrent (files sorted: reproducible info-hash; pieces of 32 KiB
    at least, mktorrent's minimum). Without an announce URL it is trackerless."""
    args = ["mktorrent", "-l", str(piece_kib.bit_length() + 9), "-o", torrent_path]
    if announce:
        args += ["-a", announce]
    if private:
        args.append("-p")
    subprocess.run(args + [content], check=True, stdout=subprocess.DEVNULL)
    return torrent_path


def same_tree(expected, actual):
    """True when every file of `expected` exists in `actual` with the same bytes."""
    for dirpath, _, names in os.walk(expected):
        for n in names:
            e = os.path.join(dirpath, n)
            a = os.path.join(actual, os.path.relpath(e, expected))
            if not os.path.isfile(a) or not filecmp.cmp(e, a, shallow=False):
                return False
    return True


def wait_until(predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Hekate:
    """A hekate process on HEKATE_ADDRESS, stopped by PID."""

    def __init__(self, binary, directories, args=(), log_path=None, bind=HEKATE_ADDRESS,
                 popen_kwargs=None):
        """bind=None: hekate listens on every address, IPv4 and IPv6."""
        self.port = free_port(bind or "0.0.0.0")
        self.log_path = log_path or os.path.join(str(directories[0]), "hekate.log")
        self.log = open(self.log_path, "w")
        where = ["--bind", bind] if bind else []
        if "--threads" not in args:
            where += ["--threads", os.environ.get("HEKATE_TEST_THREADS", "1")]
        cmd = [binary, *where, "-p", str(self.port), *args, *map(str, directories)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, **(popen_kwargs or {}))
        if not wait_until(lambda: "startup:" in self.output() or self.proc.poll() is not None, 20):
            raise RuntimeError("hekate did not start:\n" + self.output())
        if self.proc.poll() is not None:
            raise RuntimeError("hekate exited:\n" + self.output())

    def output(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for_log(self, pattern, timeout):
        return wait_until(lambda: re.search(pattern, self.output()) is not None, timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM, then the exit status (SIGKILL and None if it does not exit in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        return self.proc.returncode


def hekate_binary():
    if len(sys.argv) < 2:
        sys.exit("usage: %s HEKATE_BINARY" % sys.argv[0])
    return os.path.abspath(sys.argv[1])


def sha1(data):
    return hashlib.sha1(data).digest()


# ---------------------------------------------------------------------------------------------
# For the tests with real clients: one Scenario per test script (temp dir, processes stopped
# by PID, logs shown on failure), a precise comparison of trees, bounded polls.

import shutil
import tempfile
import traceback


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies (a ctest timeout kills the
    script, which then cannot stop its processes itself)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class TestFailure(Exception):
    """A check failed: the message says which, the logs say why."""


def tree_differences(expected, actual, skip_empty=False):
    """What differs between `expected` and the same files under `actual`, as readable lines
    (empty when every file of `expected` is there, byte for byte). With skip_empty, zero-length
    files of `expected` are not required (Transmission never creates them)."""
    problems = []
    for dirpath, _, names in sorted(os.walk(expected)):
        for n in sorted(names):
            e = os.path.join(dirpath, n)
            rel = os.path.relpath(e, expected)
            a = os.path.join(actual, rel)
            size = os.path.getsize(e)
            if size == 0 and skip_empty:
                continue
            if not os.path.isfile(a):
                problems.append("%s: missing" % rel)
                continue
            got = os.path.getsize(a)
            if got != size:
                problems.append("%s: %d bytes, expected %d" % (rel, got, size))
                continue
            with open(e, "rb") as fe, open(a, "rb") as fa:
                offset = 0
                while True:
                    be, ba = fe.read(1 << 16), fa.read(1 << 16)
                    if be != ba:
                        first = next(i for i in range(min(len(be), len(ba)) + 1)
                                     if i == len(be) or i == len(ba) or be[i] != ba[i])
                        problems.append("%s: first wrong byte at offset %d" % (rel, offset + first))
                        break
                    if not be:
                        break
                    offset += len(be)
    return problems


def tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode(errors="replace").replace("\r", "\n")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    kept = [l for l in text.split("\n") if l.strip()]
    return "\n".join(kept[-lines:])


def stop_process(proc, timeout=10):
    """SIGTERM to this PID, then SIGKILL if it does not exit in time. Returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    return proc.returncode


class Scenario:
    """One end-to-end test. `Scenario(name).run(body)` calls body(scenario) and exits 0 when it
    returns, 1 (with the reason and the tail of every log) when it raises. Every process started
    through it is stopped by its PID and the temp dir is removed (kept if HEKATE_E2E_KEEP is
    set)."""

    def __init__(self, name):
        self.name = name
        self.binary = hekate_binary()
        self.root = tempfile.mkdtemp(prefix="hekate-e2e-%s-" % name, dir="/tmp")
        self.logs = []        # (label, path), shown on failure
        self.procs = []       # (label, Popen), stopped at the end, last started first
        self.hekate = None
        self.started = time.monotonic()
        # Clients must not read or write the real home's configuration.
        self.home = self.dir("home")
        self.env = dict(os.environ, HOME=self.home, XDG_CONFIG_HOME=os.path.join(self.home, ".config"),
                        XDG_DATA_HOME=os.path.join(self.home, ".local/share"),
                        XDG_CACHE_HOME=os.path.join(self.home, ".cache"))

    def dir(self, *parts):
        path = os.path.join(self.root, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def elapsed(self):
        return time.monotonic() - self.started

    def note(self, text):
        print("[%6.2f s] %s" % (self.elapsed(), text), flush=True)

    def fail(self, message):
        raise TestFailure(message)

    def check(self, condition, message):
        if not condition:
            raise TestFailure(message)

    def seed(self, announce=None, piece_kib=32):
        """The awkward content and its torrent in <root>/seed, where hekate finds them, and an
        independent copy of the same bytes in <root>/expected (make_content is deterministic):
        downloads are compared with that copy, not with the files hekate serves, so a seeder
        that serves (or damages) wrong bytes fails the test. 32 KiB pieces (mktorrent 1.1
        refuses smaller ones): 23 pieces, the last one odd, files across piece boundaries.
        Returns (expected folder, torrent path); the served copy is self.seed_content."""
        seed_dir = self.dir("seed")
        content = make_content(seed_dir)
        torrent = make_torrent(content, os.path.join(seed_dir, os.path.basename(content) + ".torrent"),
                               announce=announce, piece_kib=piece_kib)
        expected = make_content(self.dir("expected"))
        self.check(not tree_differences(content, expected), "make_content is not deterministic")
        self.seed_content = content
        return expected, torrent

    def start_hekate(self, args=(), directories=None, debug=4, log_name="hekate.log"):
        """hekate serving `directories` (default <root>/seed) with -d `debug`, its output in
        <root>/<log_name> (shown on failure); it becomes self.hekate."""
        log_path = os.path.join(self.root, log_name)
        self.logs.append((os.path.splitext(log_name)[0], log_path))
        self.hekate = Hekate(self.binary, directories or [self.dir("seed")],
                             args=["-d", str(debug), *args], log_path=log_path,
                             popen_kwargs={"preexec_fn": die_with_parent})
        self.procs.append(("hekate", self.hekate.proc))
        self.note("hekate pid %d on %s:%d" % (self.hekate.proc.pid, HEKATE_ADDRESS, self.hekate.port))
        return self.hekate

    def spawn(self, label, cmd, log_name=None, **kwargs):
        """Starts a client with stdout and stderr in <root>/<label>.out (shown on failure)."""
        out_path = os.path.join(self.root, log_name or label + ".out")
        self.logs.append((label, out_path))
        out = open(out_path, "ab")
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("preexec_fn", die_with_parent)
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        out.close()
        self.procs.append((label, proc))
        self.note("%s pid %d: %s" % (label, proc.pid, " ".join(map(str, cmd))))
        return proc

    def add_log(self, label, path):
        self.logs.append((label, path))

    def spawn_aria2(self, download_dir, listen_port, torrent, extra=()):
        """aria2c (see aria2_command) downloading into `download_dir`; its log is shown on
        failure."""
        self.add_log("aria2 log", os.path.join(self.root, "aria2.log"))
        return self.spawn("aria2c", aria2_command(self, download_dir, listen_port, torrent, extra))

    def check_exits_cleanly(self, label, proc, timeout=20):
        """Fails unless `proc` (a client that exits once its download is done) exits with
        status 0 within `timeout` seconds."""
        self.check(wait_until(lambda: proc.poll() is not None, timeout),
                   "%s did not exit after completing the download" % label)
        self.check(proc.returncode == 0, "%s exited with status %s" % (label, proc.returncode))

    def wait_for_download(self, expected, actual, timeout, skip_empty=False, watch=(), progress=None,
                          each=None):
        """Polls until `actual` holds every byte of `expected`; fails after `timeout` seconds, or
        at once when a process of `watch` (label, Popen) exits with an error meanwhile. `each`
        is called at every poll (an in-process client's housekeeping), `progress` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if each is not None:
                each()
            problems = tree_differences(expected, actual, skip_empty)
            if not problems:
                self.note("download complete and identical")
                return
            for label, proc in watch:
                if proc.poll() not in (None, 0):
                    self.fail("%s exited with status %s before the download was complete:\n  %s"
                              % (label, proc.returncode, "\n  ".join(problems)))
            if self.hekate is not None and self.hekate.proc.poll() is not None:
                self.fail("hekate exited with status %s during the download" % self.hekate.proc.returncode)
            if time.monotonic() >= deadline:
                extra = ""
                if progress is not None:
                    try:
                        extra = "\nclient reports: %s" % progress()
                    except Exception as e:  # the report is a help, not a check
                        extra = "\nclient report failed: %s" % e
                self.fail("download not complete after %.0f s:\n  %s%s"
                          % (timeout, "\n  ".join(problems), extra))
            time.sleep(0.2)

    def stop_all(self):
        statuses = {}
        for label, proc in reversed(self.procs):
            statuses[label] = stop_process(proc)
        if self.hekate is not None and not self.hekate.log.closed:
            self.hekate.log.close()
        return statuses

    def stop_hekate(self):
        """Stops hekate by PID; fails unless it exits cleanly (status 0) in time."""
        status = self.hekate.stop()
        self.check(status == 0, "hekate did not exit cleanly on SIGTERM (status %s)" % status)

    def run(self, body):
        def terminated(signum, frame):
            raise TestFailure("terminated by signal %d" % signum)

        signal.signal(signal.SIGTERM, terminated)
        code = 0
        try:
            body(self)
        except BaseException as e:  # also KeyboardInterrupt: clean up, then report
            code = 1
            if isinstance(e, TestFailure):
                print("FAIL %s: %s" % (self.name, e), flush=True)
            else:
                print("FAIL %s: unexpected error" % self.name, flush=True)
                traceback.print_exc()
            for label, path in self.logs:
                print("----- tail of %s (%s)" % (label, path))
                print(tail(path))
            print("-----", flush=True)
        finally:
            try:
                self.stop_all()
            finally:
                if os.environ.get("HEKATE_E2E_KEEP"):
                    print("kept %s" % self.root)
                else:
                    shutil.rmtree(self.root, ignore_errors=True)
        if code == 0:
            print("PASS %s in %.1f s" % (self.name, self.elapsed()), flush=True)
        sys.exit(code)


def aria2_command(scenario, download_dir, listen_port, torrent, extra=()):
    """aria2c's command line: on CLIENT_ADDRESS:`listen_port`, no configuration file, DHT,
    LSD and PEX off, exits once the download is verified (--seed-time=0), its log in
    <root>/aria2.log. `extra` options come after --seed-time."""
    return ["aria2c", "--no-conf", "--dir=" + download_dir, "--interface=" + CLIENT_ADDRESS,
            "--listen-port=%d" % listen_port, "--enable-dht=false", "--enable-dht6=false",
            "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0", *extra,
            "--file-allocation=none", "--summary-interval=0", "--console-log-level=warn",
            "--log=" + os.path.join(scenario.root, "aria2.log"), "--log-level=info", torrent]


class LibtorrentSession:
    """A python3-libtorrent 2.0 session on CLIENT_ADDRESS, in this process, with DHT, LSD, UPnP
    and NAT-PMP off; every alert goes to <root>/libtorrent.log (shown on failure)."""

    def __init__(self, scenario, port=None):
        import libtorrent as lt

        self.lt = lt
        self.scenario = scenario
        self.port = port or free_port(CLIENT_ADDRESS)
        self.log_path = os.path.join(scenario.root, "libtorrent.log")
        scenario.add_log("libtorrent alerts", self.log_path)
        self.log = open(self.log_path, "w")
        self.session = lt.session({
            "listen_interfaces": "%s:%d" % (CLIENT_ADDRESS, self.port),
            "outgoing_interfaces": CLIENT_ADDRESS,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": lt.alert_category.error | lt.alert_category.peer | lt.alert_category.status
            | lt.alert_category.connect | lt.alert_category.tracker | lt.alert_category.storage
            | lt.alert_category.peer_log,
        })
        self.handles = []

    def pump(self):
        """Writes the pending alerts to the log; returns them."""
        alerts = self.session.pop_alerts()
        for a in alerts:
            self.log.write("%s: %s\n" % (type(a).__name__, a.message()))
        self.log.flush()
        return alerts

    def add(self, params):
        h = self.session.add_torrent(params)
        self.handles.append(h)
        return h

    def add_torrent(self, torrent, save_path, peer=None):
        """Adds the .torrent file `torrent`, downloading into `save_path`; with `peer`
        (address, port), tells libtorrent about that peer (connect_peer)."""
        params = self.lt.add_torrent_params()
        params.ti = self.lt.torrent_info(torrent)
        params.save_path = save_path
        h = self.add(params)
        if peer is not None:
            h.connect_peer(peer)
        return h

    def wait_for_download(self, h, expected, save_path, timeout=60, each=None, seeding=True):
        """Scenario.wait_for_download of `expected` into `save_path` for the torrent `h`,
        calling `each` (default: pump) at every poll; with `seeding`, then fails unless
        libtorrent considers the torrent complete within 10 s."""
        each = each or self.pump
        self.scenario.wait_for_download(expected, os.path.join(save_path, os.path.basename(expected)),
                                        timeout, each=each, progress=lambda: self.describe(h))
        if seeding:
            def is_seeding():
                each()
                return h.status().is_seeding

            self.scenario.check(wait_until(is_seeding, 10),
                                "libtorrent does not consider the torrent complete: " + self.describe(h))

    def describe(self, h):
        st = h.status()
        return "state %s, progress %.3f, %d peers, %d bytes done, error %r" % (
            st.state, st.progress, st.num_peers, st.total_done, st.errc.message() if st.errc.value() else "")

    def close(self):
        try:
            self.pump()
        finally:
            for h in self.handles:
                try:
                    self.session.remove_torrent(h)
                except Exception:
                    pass
            self.session.pause()
            del self.session
            self.log.close()


def info_hash_hex(torrent_path):
    """The v1 info-hash, computed from the .torrent's bytes without libtorrent."""
    data = open(torrent_path, "rb").read()

    def skip(i):
        c = data[i:i + 1]
        if c == b"i":
            return data.index(b"e", i) + 1
        if c in (b"l", b"d"):
            i += 1
            while data[i:i + 1] != b"e":
                i = skip(i)
            return i + 1
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])

    assert data[:1] == b"d"
    i = 1
    while data[i:i + 1] != b"e":
        key_end = skip(i)
        key = data[data.index(b":", i) + 1:key_end]
        value_end = skip(key_end)
        if key == b"info":
            return hashlib.sha1(data[key_end:value_end]).hexdigest()
        i = value_end
    raise ValueError("no info dictionary in " + torrent_path)


def tcp_listening(address, port):
    """True when some process listens on address:port (IPv4, or IPv4-mapped on an IPv6 socket
    as rtorrent does), read from /proc/net/tcp*: no connection is made, so the client sees
    nothing."""
    v4 = "".join("%02X" % int(b) for b in reversed(address.split(".")))
    wanted = {"%s:%04X" % (a, port) for a in
              (v4, "00000000", "0000000000000000FFFF0000" + v4, "0" * 32)}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and fields[1] in wanted:
                        return True
        except OSError:
            pass
    return False

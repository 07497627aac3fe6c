"""The experiments of bench/many-cores/run on this project's applications: httpd and hekate
with one loop and with two (`--threads 1` and `--threads 2`), compared by the server's CPU
time per unit of work, so that a second loop that costs anything per request (a lock, a
cache line that moves between cores) shows whatever the load generator's pace.

- httpd: bench/loadgen (one cpc loop, on CPU 1) keeps HTTP/1.1 connections open and asks
  for one cached page; the unit is a request.
- hekate: bench/swarm's simulator (one cpc loop, on CPU 1) downloads random pieces of
  bench/swarm's torrent; the unit is a byte of payload.

The server runs on CPU 0 with one loop, on CPUs 0 and 1 with two; the client shares CPU 1.
Each point starts its server afresh and reads its CPU time (the harness's cgroup, or
/proc/PID/stat without root) at the edges of the measured window.

profile(): perf record of a 2-loop server under load, the share of its samples in symbols of
locks and futexes, and where the server called them from, to show that no global lock is on
the path.
"""
import collections
import dataclasses
import importlib.machinery
import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from common import machine  # bench/common/machine.py (the harness set the path)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _swarm_harness():
    """bench/swarm/run as a module: its torrent (make_data) and its seeder's settings."""
    path = REPO / "bench" / "swarm" / "run"
    loader = importlib.machinery.SourceFileLoader("swarm_run", str(path))
    spec = importlib.util.spec_from_loader("swarm_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


swarm = _swarm_harness()

# The page httpd serves: big enough that a request is more than its system calls, small
# enough to be one write.
PAGE_BYTES = 16384
HTTPD_CONNECTIONS = 64
HEKATE_PEERS = 1000
# The symbols of a lock: user space (pthread, the runtime's spin lock, glibc's low-level
# lock) and the kernel's futex path. A symbol over this share of the samples is significant.
LOCK_SYMBOL = re.compile(r"futex|mutex|spin_?lock|lll_lock|rwlock|sem_wait|lock_wait", re.I)
SIGNIFICANT_PCT = 1.0


def cpu_seconds(cgroup, pid):
    """The server's CPU time so far: its cgroup's, or /proc/PID/stat's (all its threads)."""
    used = cgroup.usage_seconds()
    if used is not None:
        return used
    return machine.cpu_seconds(pid)


class Server:
    """httpd or hekate with `loops` loops, started afresh and stopped by PID."""

    def __init__(self, h, name, loops, threads_option=True):
        self.h, self.name, self.loops = h, name, loops
        self.port = machine.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}{loops}-", dir=h.run_dir))
        self.status_port = machine.free_port() if name == "hekate" else None
        b = h.args.build_dir / "apps" / name / name
        threads = ["--threads", str(loops)] if threads_option else []
        if name == "httpd":
            self.argv = [str(b), "--root", str(h.httpd_root), "--bind", "127.0.0.1", "--port",
                         str(self.port), "--quiet"] + threads
        else:
            self.argv = [str(b), "-N", str(swarm.SLOTS), "--max-peers", str(swarm.MAX_PEERS),
                         "-t", "-d", "0", "--bind", "127.0.0.1", "-p", str(self.port),
                         "--status", str(self.status_port)] + threads + [str(h.data_dir)]
        self.proc = None

    def start(self):
        cpus = str(machine.SERVER_CPU) if self.loops == 1 else "0,1"
        self.proc = machine.Process(self.argv, self.h.cgroup, self.dir / "log", self.dir,
                                    tied=True, cpus=cpus)
        deadline = time.time() + 60
        while not self.ready():
            if not self.proc.alive():
                raise RuntimeError(f"exited with status {self.proc.proc.returncode} before "
                                   f"serving: {self.log()[-300:].strip()}")
            if time.time() > deadline:
                raise RuntimeError("not serving after 60 s")
            time.sleep(0.1)

    def ready(self):
        if self.name == "httpd":
            return "httpd listening on" in self.log()
        try:
            return json.loads(_get(self.status_port))["torrents"][0]["info_hash"] != ""
        except (OSError, ValueError, KeyError, IndexError):
            return False

    def log(self):
        try:
            return (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc:
            self.proc.stop(self.port)
            self.proc = None


def _get(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
        return r.read()


def prepare_httpd(run_dir):
    """The document root: one page of PAGE_BYTES."""
    root = Path(run_dir) / "httpd-root"
    root.mkdir(exist_ok=True)
    page = root / "page.bin"
    page.write_bytes(bytes((i * 7 + 3) % 251 for i in range(PAGE_BYTES)))
    return root


def prepare_hekate(small):
    """bench/swarm's torrent, made once and kept (a 64 MiB one if small, for --quick and
    --smoke: it is served from the page cache either way, and a 1 GiB one takes a minute to
    make)."""
    size = swarm.SMOKE_DATA_SIZE if small else swarm.DATA_SIZE
    data_dir = Path("/tmp/cpc-swarm-data-smoke" if small else "/tmp/cpc-swarm-data")
    swarm.make_data(data_dir, size)
    return data_dir


def _loadgen(h, port, seconds):
    return [str(h.args.build_dir / "bench" / "loadgen"), "-k", "-c", str(HTTPD_CONNECTIONS),
            "-t", str(seconds), "--timeout", "10", "--expect-bytes", str(PAGE_BYTES),
            f"http://127.0.0.1:{port}/page.bin"]


def _kv(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def httpd_point(h, server):
    """Warm-up, then the measured run of loadgen: {metric: value} or raises RuntimeError."""
    a = h.args
    machine.run_client(_loadgen(h, server.port, a.warmup), timeout=a.warmup + 60)
    cpu0 = cpu_seconds(h.cgroup, server.proc.pid)
    status, out, err = machine.run_client(_loadgen(h, server.port, a.seconds),
                                          timeout=a.seconds + 60)
    cpu1 = cpu_seconds(h.cgroup, server.proc.pid)
    kv = _kv(out)
    if "ok" not in kv:
        raise RuntimeError(f"loadgen gave no report (status {status}): {err.strip()[-200:]}")
    ok, failed, elapsed = int(kv["ok"]), int(kv["failed"]), float(kv["elapsed_s"])
    if failed:
        raise RuntimeError(f"{failed} requests failed")
    if not ok or cpu1 <= cpu0:
        raise RuntimeError("no request answered or no server CPU time accounted")
    return {
        "requests_per_s": ok / elapsed,
        "requests_per_cpu_s": ok / (cpu1 - cpu0),
        "server_cpu_fraction": (cpu1 - cpu0) / elapsed,
        "client_cpu_fraction": float(kv["cpu_core_fraction"]),
    }


def hekate_point(h, server):
    a = h.args
    argv = [str(h.args.build_dir / "bench" / "swarm" / "swarm_sim"), "--torrent",
            str(next(h.data_dir.glob("*.torrent"))), "--seeder", f"127.0.0.1:{server.port}",
            "-n", str(HEKATE_PEERS), "-t", str(a.seconds), "--warmup", str(a.warmup), "--ramp",
            str(min(a.warmup, 2.0)), "--sources", swarm.SOURCES, "--pipeline",
            str(swarm.PIPELINE)]
    cpu = {}

    def on_mark(word):
        cpu.setdefault(word, cpu_seconds(h.cgroup, server.proc.pid))

    errlog = server.dir / "client.err"
    status, lines = machine.run_marked_client(argv, a.warmup + a.seconds + 60, on_mark, errlog)
    cpu1 = cpu_seconds(h.cgroup, server.proc.pid)
    cpu0 = cpu.get("measuring")
    report = next((json.loads(line) for line in lines if line.startswith("{")), None)
    if report is None or cpu0 is None:
        raise RuntimeError(f"the simulator gave no report (status {status}): "
                           f"{errlog.read_text(errors='replace').strip()[-200:]}")
    if report["bad_pieces"]:
        raise RuntimeError(f"served {report['bad_pieces']} bad pieces")
    if report["bytes"] == 0 or cpu1 <= cpu0:
        raise RuntimeError("served nothing in the measured seconds")
    return {
        "mb_per_s": report["bytes"] / a.seconds / 1e6,
        "mb_per_cpu_s": report["bytes"] / (cpu1 - cpu0) / 1e6,
        "server_cpu_fraction": (cpu1 - cpu0) / a.seconds,
        "client_cpu_fraction": report["client_cpu_fraction"],
    }


def _client_child():
    machine.raise_fd_limit()
    machine.die_with_parent()


POINT = {"httpd": httpd_point, "hekate": hekate_point}
# The figure compared between one loop and two: work per server CPU-second.
PER_CPU = {"httpd": "requests_per_cpu_s", "hekate": "mb_per_cpu_s"}


def point(h, name, loops):
    """One measured point of httpd or hekate: {metric: value}, or raises RuntimeError."""
    server = Server(h, name, loops, h.threads_option.get(name, True))
    try:
        server.start()
        out = POINT[name](h, server)
        if not server.proc.alive():
            raise RuntimeError("the server died")
        return out
    finally:
        server.stop()


@dataclasses.dataclass
class Profile:
    locks: list = None  # [(percent, dso, symbol)], largest first; None: not profiled
    samples: str = ""  # perf's count of samples ("8K")
    callers: list = dataclasses.field(default_factory=list)  # [(percent, symbol, caller)]
    why: str = ""  # why not profiled


def profile(h, name, seconds):
    """perf record of `name` on two loops under load for `seconds`, with DWARF call chains
    (the Release build has no frame pointers): the lock-like symbols with their share of the
    samples, and for the samples in them, the first function of the server's own binary up
    the chain (which lock it is)."""
    if shutil.which("perf") is None:
        return Profile(why="perf not found (bench/many-cores/install-peers installs linux-perf)")
    server = Server(h, name, 2, h.threads_option.get(name, True))
    data = Path(server.dir) / "perf.data"
    load = None
    try:
        server.start()
        if name == "httpd":
            load = subprocess.Popen(machine.client_argv(_loadgen(h, server.port, seconds + 2)),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=_client_child)
        else:
            load = subprocess.Popen(machine.client_argv([
                str(h.args.build_dir / "bench" / "swarm" / "swarm_sim"), "--torrent",
                str(next(h.data_dir.glob("*.torrent"))), "--seeder",
                f"127.0.0.1:{server.port}", "-n", str(HEKATE_PEERS), "-t", str(seconds + 2),
                "--warmup", "0", "--ramp", "1", "--sources", swarm.SOURCES, "--pipeline",
                str(swarm.PIPELINE)]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=_client_child)
        time.sleep(1.5)
        rec = subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf,8192", "-o",
                              str(data), "-p", str(server.proc.pid), "--", "sleep",
                              str(seconds)], capture_output=True, text=True)
        if rec.returncode or not data.exists():
            return Profile(why=f"perf record failed: {(rec.stderr or rec.stdout).strip()[-200:]}")
    finally:
        if load:
            load.kill()
            load.wait()
        server.stop()
    rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                          "--sort", "dso,sym", "-g", "none", "--percent-limit", "0.01"],
                         capture_output=True, text=True)
    samples = re.search(r"# Samples: (\S+)", rep.stdout)
    locks = []
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*\S)", line)
        if m and LOCK_SYMBOL.search(m.group(3)):
            locks.append((float(m.group(1)), m.group(2), m.group(3)))
    return Profile(sorted(locks, reverse=True), samples.group(1) if samples else "?",
                   _lock_callers(data, Path(server.argv[0]).resolve()))


def _lock_callers(data, binary):
    """[(percent of all samples, lock symbol, the first function of `binary` below it)] from
    perf script's call chains, largest first."""
    out = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym,dso"],
                         capture_output=True, text=True).stdout
    frame = re.compile(r"\s*[0-9a-f]+ (.*) \((.*)\)$")
    counts, total = collections.Counter(), 0
    for block in out.split("\n\n"):
        frames = [m.groups() for m in map(frame.match, block.strip().splitlines()) if m]
        if not frames:
            continue
        total += 1
        leaf = frames[0][0]
        if not LOCK_SYMBOL.search(leaf):
            continue
        caller = next((sym for sym, dso in frames if Path(dso) == binary
                       and not LOCK_SYMBOL.search(sym)), "(not in the server's code)")
        counts[(leaf, caller)] += 1
    return [(100 * n / total, leaf, caller) for (leaf, caller), n in counts.most_common(8)]

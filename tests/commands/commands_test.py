#!/usr/bin/env python3
"""The README's commands, run as a user runs them, in a smoke form that costs seconds.

    commands_test.py SOURCE_DIR BUILD_DIR
        {bench,bench-events,bench-swarm,bench-cores,bench-knot,bench-crossings,run,docs}

Each check calls `make -C SOURCE_DIR TARGET` with BUILD_DIR given as the README's default
gives it, relative to the source tree, so that a harness that depends on its working
directory fails here as it would for a user. The benchmarks run with SMOKE=1 and write into
a temporary RESULTS directory (the committed results are never touched); the check then reads
what they wrote: the CSV has a row with numbers for every system the command asked for, and
the plots are there. `make run` is started, its torrent downloaded once with the aria2c
command it prints, compared byte for byte, and stopped with SIGINT. `make docs` must write the
API reference into BUILD_DIR/docs/html with a page for each main class.
"""
import csv
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_env():
    # ctest may run under an outer `make test`: its jobserver descriptors are not ours.
    env = dict(os.environ)
    for key in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(key, None)
    return env


def make(source, build, target, *variables, timeout):
    argv = ["make", "--no-print-directory", "-C", str(source), target,
            f"BUILD_DIR={build}", *variables]
    print("$", " ".join(argv), flush=True)
    p = subprocess.run(argv, env=make_env(), stdin=subprocess.DEVNULL, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(p.stdout[-6000:])
    if p.returncode != 0:
        fail(f"make {target} exited with status {p.returncode}")
    return p.stdout


def fail(why):
    print(f"FAIL: {why}", flush=True)
    sys.exit(1)


def expect(cond, why):
    if not cond:
        fail(why)


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def read_csv(path):
    expect(path.is_file(), f"{path} was not written")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def expect_png(path):
    expect(path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n",
           f"{path} is not a PNG image")


# ---- make bench ---------------------------------------------------------------------------


def check_bench(source, build, results):
    make(source, build, "bench", "SMOKE=1", f"RESULTS={results}", timeout=300)
    rows = read_csv(results / "threads-quick.csv")
    peers = sorted(p.name[len("threads-"):] for p in (source / build / "bench").glob("threads-*")
                   if os.access(p, os.X_OK))
    expect(peers and "cpc" in peers, f"no thread-library peers were built: {peers}")
    for lib in peers:
        values = {r["metric"]: number(r["value"]) for r in rows if r["library"] == lib}
        for metric in ("spawn_ns", "switch_rt_ns", "condvar_rt_ns"):
            v = values.get(metric)
            expect(v is not None and v > 0, f"bench: {lib} has no number for {metric}")
    expect_png(results / "threads-quick-seda.png")


# ---- make bench-events --------------------------------------------------------------------

OWN_SERVERS = ("toy-fork", "toy-nptl", "toy-pth", "toy-st", "toy-asio", "toy-cpc", "httpd")


def check_bench_events(source, build, results):
    make(source, build, "bench-events", "SMOKE=1", f"RESULTS={results}", timeout=600)
    rows = read_csv(results / "are-events-fast.csv")
    built = [s for s in OWN_SERVERS if (source / build / "bench" / s).exists() or s == "httpd"]
    for server in built:
        mine = [r for r in rows if r["server"] == server]
        expect(mine, f"bench-events: no row for {server}")
        for r in mine:
            expect(int(r["n"]) > 0 and number(r["mean_ms"]) and number(r["requests_per_s"]),
                   f"bench-events: {server} measured nothing: {r}")
            expect(int(r["failed"]) == 0, f"bench-events: {server} failed requests: {r}")
    for png in ("are-events-fast-service-time.png", "are-events-fast-measured-load.png"):
        expect_png(results / png)
    report = (results / "are-events-fast.md").read_text()
    expect("Not a result" not in report, "bench-events: the report says it is not a result")


# ---- make bench-swarm ---------------------------------------------------------------------


def check_bench_swarm(source, build, results):
    # bench/swarm/smoke_test.py checks the harness's rows and its failure path in detail;
    # this checks that the make target reaches it and that hekate was measured.
    make(source, build, "bench-swarm", "SMOKE=1", f"RESULTS={results}", timeout=300)
    rows = read_csv(results / "swarm-smoke.csv")
    hekate = [r for r in rows if r["seeder"] == "hekate"]
    expect(len(hekate) == 1 and hekate[0]["valid"] == "1",
           f"bench-swarm: no valid row for hekate: {rows}")
    for column in ("bytes", "mb_per_s", "mb_per_cpu_s"):
        v = number(hekate[0][column])
        expect(v is not None and v > 0, f"bench-swarm: hekate's {column} is {hekate[0][column]!r}")
    expect_png(results / "swarm-smoke.png")


# ---- make bench-cores ---------------------------------------------------------------------


def check_bench_cores(source, build, results):
    # bench/many-cores/smoke_test.py checks the harness's rows and its failure path in detail;
    # this checks that the make target reaches it and that the project's systems were measured.
    make(source, build, "bench-cores", "SMOKE=1", f"RESULTS={results}", timeout=300)
    rows = read_csv(results / "many-cores-smoke.csv")
    expect(not [r for r in rows if r["metric"] == "failed"], f"bench-cores: failed points: {rows}")
    for system, loops in (("cpc", "1"), ("ncopy", "2")):
        for metric in ("requests_per_s", "requests_per_cpu_s"):
            v = [number(r["value"]) for r in rows if (r["experiment"], r["system"], r["loops"],
                                                      r["metric"]) == ("uniform", system, loops,
                                                                       metric)]
            expect(v and v[0] and v[0] > 0, f"bench-cores: {system} on {loops} has no {metric}")
    expect_png(results / "many-cores-smoke.png")


# ---- make bench-knot ----------------------------------------------------------------------


def check_bench_knot(source, build, results):
    # bench/knot-bandwidth/smoke_test.py checks the harness's rows and its failure path in
    # detail; this checks that the make target reaches it and that httpd was measured.
    make(source, build, "bench-knot", "SMOKE=1", f"RESULTS={results}", timeout=300)
    rows = read_csv(results / "knot-bandwidth-smoke.csv")
    for server in ("httpd-active-epoll", "httpd-accept-epoll"):
        mine = [r for r in rows if r["server"] == server]
        expect(len(mine) == 2, f"bench-knot: not two rows for {server}: {rows}")
        for r in mine:
            expect(r["status"] == "ok" and (number(r["mbit_per_s"]) or 0) > 0,
                   f"bench-knot: {server} at {r['clients']} clients measured nothing: {r}")
    expect_png(results / "knot-bandwidth-smoke.png")


# ---- make bench-crossings -----------------------------------------------------------------


def check_bench_crossings(source, build, results):
    # bench/crossings/smoke_test.py checks the counts in detail; this checks that the make
    # target reaches the harness and that the project's servers were measured.
    make(source, build, "bench-crossings", "SMOKE=1", f"RESULTS={results}", timeout=300)
    rows = {r["system"]: r for r in read_csv(results / "crossings-smoke.csv")}
    for system in ("httpd-close", "toy-cpc"):
        r = rows.get(system)
        expect(r is not None, f"bench-crossings: no row for {system}: {rows}")
        for column in ("syscalls", "cpu_us"):
            v = number(r[column])
            expect(v is not None and v > 0, f"bench-crossings: {system}'s {column} is {r[column]!r}")


# ---- make run -----------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_processes(sid):
    """(pid, executable) of every process in session sid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        if int(fields[3]) == sid:
            yield int(entry), exe


def check_run(source, build, _results):
    env = make_env()
    env["HEKATE_PORT"] = str(free_port())
    env["HEKATE_TRACKER_PORT"] = str(free_port())
    argv = ["make", "--no-print-directory", "-C", str(source), "run", f"BUILD_DIR={build}"]
    print("$", " ".join(argv), flush=True)
    out = tempfile.TemporaryFile(mode="w+")
    demo = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    download_dir = None
    try:
        # The demo prints the aria2c command once hekate is about to start.
        command = None
        deadline = time.time() + 300
        while command is None and time.time() < deadline:
            expect(demo.poll() is None, "make run exited before seeding")
            out.seek(0)
            m = re.search(r"^\s*(aria2c .*)$", out.read(), re.M)
            if m:
                command = m.group(1)
            else:
                time.sleep(0.2)
        expect(command is not None, "make run printed no aria2c command within 300 s")
        words = shlex.split(command)
        download_dir = Path(words[words.index("-d") + 1])
        torrent = words[-1]
        # aria2c gives up on a tracker that is not listening yet; wait for hekate's port.
        wait_port("127.0.0.2", int(env["HEKATE_PORT"]), 60)
        print("$", command, flush=True)
        got = subprocess.run(words + ["--bt-stop-timeout=60", "--summary-interval=0"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=180)
        print(got.stdout[-3000:])
        expect(got.returncode == 0, f"aria2c exited with status {got.returncode}")
        seeded = source / build / "hekate-demo" / "seed" / "sample content"
        compare_trees(seeded, download_dir / "sample content")
        print(f"downloaded {torrent}: identical to {seeded}")

        # Ctrl-C: hekate stops cleanly, and so does make.
        hekate = [pid for pid, exe in session_processes(demo.pid) if exe.endswith("/hekate")]
        expect(len(hekate) == 1, f"expected one hekate in make run's session, found {hekate}")
        os.kill(hekate[0], signal.SIGINT)
        status = demo.wait(timeout=30)
        expect(status == 0, f"make run exited with status {status} after SIGINT")
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        out.seek(0)
        print(out.read()[-3000:])
        if download_dir and download_dir.is_dir() and download_dir.name.startswith("hekate-"):
            subprocess.run(["rm", "-rf", str(download_dir)], check=False)


def wait_port(host, port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    fail(f"nothing listens on {host}:{port} after {seconds} s")


def compare_trees(expected, got):
    files = sorted(p.relative_to(expected) for p in expected.rglob("*") if p.is_file())
    expect(files, f"no files under {expected}")
    for rel in files:
        a, b = expected / rel, got / rel
        expect(b.is_file(), f"{rel} was not downloaded")
        expect(a.read_bytes() == b.read_bytes(), f"{rel} differs from the seeded file")


# ---- make docs ----------------------------------------------------------------------------
def check_docs(source, build, results):
    # Doxygen fails on any warning (docs/api/Doxyfile): the status says every public name of
    # include/cpc/ is documented; the pages say the reference went where the README says.
    make(source, build, "docs", timeout=600)
    html = source / build / "docs" / "html"
    expect((html / "index.html").is_file(), f"{html}/index.html was not written")
    for page in ("classcpc_1_1task.html", "classcpc_1_1loop.html", "classcpc_1_1runtime.html",
                 "classcpc_1_1color.html", "with__timeout_8hpp.html"):
        expect((html / page).is_file(), f"{html}/{page} was not written")
    expect(not list(html.glob("*detail*")), "cpc::detail is in the reference")


CHECKS = {
    "bench": check_bench,
    "bench-events": check_bench_events,
    "bench-swarm": check_bench_swarm,
    "bench-cores": check_bench_cores,
    "bench-knot": check_bench_knot,
    "bench-crossings": check_bench_crossings,
    "run": check_run,
    "docs": check_docs,
}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(sys.argv[1]).resolve()
    build = os.path.relpath(Path(sys.argv[2]).resolve(), source)
    with tempfile.TemporaryDirectory(prefix=f"cpc-smoke-{sys.argv[3]}-") as results:
        CHECKS[sys.argv[3]](source, build, Path(results))
    print(f"PASS: make {sys.argv[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the harness changes on the machine, and puts back: the accept-queue limits (sysctl),
the server's CPU share (a cgroup), and the processes it starts (by PID, in their own session).
"""
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

SERVER_CPU = 0
CLIENT_CPU = 1


def somaxconn():
    """The accept-queue limit in force: listen(2)'s backlog is silently cut to it."""
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


class Sysctls:
    """Raises net.core.somaxconn and tcp_max_syn_backlog (the paper's fix: listen(2)'s
    backlog is silently cut to somaxconn) and restores them on exit."""

    KEYS = ("net/core/somaxconn", "net/ipv4/tcp_max_syn_backlog")

    def __init__(self, value):
        self.value = value
        self.saved = {}

    def __enter__(self):
        for key in self.KEYS:
            path = Path("/proc/sys") / key
            try:
                old = int(path.read_text())
                if old < self.value:
                    path.write_text(str(self.value))
                    self.saved[path] = old
            except OSError as e:
                print(f"warning: cannot raise {key} to {self.value}: {e}")
        return self

    def __exit__(self, *exc):
        for path, old in self.saved.items():
            try:
                path.write_text(str(old))
            except OSError:
                pass


class ServerCgroup:
    """The cgroup the server and everything it forks run in. It caps their CPU time at
    `percent` of one core over periods of `period_us` (cgroup v2 cpu.max, or v1
    cpu.cfs_quota_us; percent >= 100: no cap), and accounts their CPU time to the
    nanosecond, which /proc/PID/stat, in clock ticks per process, cannot do for a server of
    256 processes (v2 cpu.stat, or v1 cpuacct.usage)."""

    def __init__(self, percent, period_us=5000, account_only=False):
        self.percent = percent
        self.period_us = period_us
        # Accounting without the cpu controller where the kernel allows it: a cgroup of the
        # cpu controller is scheduled as one entity, worth one process against the others, so
        # a server of two busy threads would get the CPU time of one under contention.
        self.account_only = account_only
        self.dirs = []  # the cgroups made, one per hierarchy
        self.usage_file = None

    def __enter__(self):
        name = f"cpc-are-events-fast-{os.getpid()}"
        quota = (int(self.period_us * self.percent / 100)
                 if self.percent < 100 and not self.account_only else None)
        try:
            if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # v2
                top = Path("/sys/fs/cgroup")
                # cpu.stat's usage_usec is there with or without the cpu controller.
                if not self.account_only and "cpu" not in (
                        top / "cgroup.subtree_control").read_text().split():
                    (top / "cgroup.subtree_control").write_text("+cpu")
                d = self._make(top / name)
                if quota:
                    (d / "cpu.max").write_text(f"{quota} {self.period_us}")
                self.usage_file = d / "cpu.stat"
            elif (self.account_only and Path("/sys/fs/cgroup/cpuacct").is_dir()
                  and not (Path("/sys/fs/cgroup/cpu") / "cpuacct.usage").exists()):
                # v1 with cpuacct a hierarchy of its own: no cpu group at all.
                self.usage_file = self._make(Path("/sys/fs/cgroup/cpuacct") / name) / \
                    "cpuacct.usage"
            else:  # v1: cpu and cpuacct may be separate hierarchies
                d = self._make(Path("/sys/fs/cgroup/cpu") / name)
                if quota:
                    (d / "cpu.cfs_period_us").write_text(str(self.period_us))
                    (d / "cpu.cfs_quota_us").write_text(str(quota))
                acct = Path("/sys/fs/cgroup/cpuacct")
                if (d / "cpuacct.usage").exists():
                    self.usage_file = d / "cpuacct.usage"
                elif acct.is_dir():
                    self.usage_file = self._make(acct / name) / "cpuacct.usage"
        except OSError as e:
            self.__exit__()
            raise SystemExit(f"cannot make the server's cgroup ({e}): run as root, or pass "
                             "--server-cpu 100 and --no-cgroup")
        return self

    def _make(self, path):
        path.mkdir()
        self.dirs.append(path)
        return path

    def join(self):
        """Moves the calling process into the cgroup (called between fork and exec)."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def usage_seconds(self):
        """CPU time used in the cgroup so far, or None if it is not accounted."""
        if self.usage_file is None:
            return None
        text = self.usage_file.read_text()
        if self.usage_file.name == "cpu.stat":
            usec = next(int(l.split()[1]) for l in text.splitlines()
                        if l.startswith("usage_usec"))
            return usec / 1e6
        return int(text) / 1e9

    def __exit__(self, *exc):
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)  # its last processes are still exiting
        self.dirs = []


class NoCgroup:
    """Stands for ServerCgroup where cgroups cannot be made: no cap, no accounting."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def join(self):
        pass

    def usage_seconds(self):
        return None


def cpu_seconds(pid):
    """The CPU time (user + system, all threads) of process pid so far, from /proc/PID/stat in
    clock ticks; for a server outside a cgroup (ServerCgroup measures finer)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def port_open(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """Makes the calling process get SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG;
    called between fork and exec): a harness killed by a test's timeout leaves no server
    behind, even one in a session of its own."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Process:
    """A server started pinned to the server CPU (or to `cpus`, a taskset list such as
    "0,1"), in its own session, inside the quota (killed with the harness if `tied`), with
    the harness's environment plus `env` (CPC_BACKEND, say): the server's alone, never the
    client's."""

    def __init__(self, argv, quota, log_path, cwd, tied=False, cpus=None, env=None):
        self.argv = argv
        cpus = str(SERVER_CPU) if cpus is None else cpus

        def child():
            os.setsid()
            if tied:
                die_with_parent()
            quota.join()
            raise_fd_limit()

        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(["taskset", "-c", cpus] + argv,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=child,
                                     cwd=cwd,
                                     env={**os.environ, **env} if env else None)
        self.pid = self.proc.pid  # taskset execs the server: the same PID

    def alive(self):
        return self.proc.poll() is None

    def _session(self):
        """(pid, fields of /proc/pid/stat after the name) of every process of the server's
        session: the server and whatever it forked."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.pid:  # the session id
                yield int(entry), fields

    def cpu_seconds(self):
        """The CPU time so far of every live process of the server's session, from
        /proc/PID/stat (in clock ticks): for a harness without a cgroup."""
        tick = os.sysconf("SC_CLK_TCK")
        return sum((int(f[11]) + int(f[12])) / tick for _, f in self._session())

    def processes(self):
        """[(pid, fields of /proc/pid/stat after the name)] of the server's live processes."""
        return [(pid, fields) for pid, fields in self._session() if fields[0] != "Z"]

    def runtime_backend(self):
        """"io_uring" when one of the server's processes holds an io_uring instance, "epoll"
        when one holds an epoll instance, else "": which backend the cpc runtime chose (the
        CPC_BACKEND asked for may be refused, or not built), read from its descriptors."""
        kinds = set()
        for pid, _ in self.processes():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        kinds.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                    except OSError:
                        pass
            except OSError:
                pass
        if "anon_inode:[io_uring]" in kinds:
            return "io_uring"
        return "epoll" if "anon_inode:[eventpoll]" in kinds else ""

    def stop(self, port):
        """SIGTERM to the server's process group, SIGKILL after 10 s; then waits until the
        port is free, so that the next server can bind it."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Processes of the session that outlive the leader (Apache's children, say).
        deadline = time.time() + 5
        while time.time() < deadline:
            live = [pid for pid, fields in self._session() if fields[0] != "Z"]
            if not live:
                break
            for pid in live:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        self.log.close()
        deadline = time.time() + 10
        while port_open(port) and time.time() < deadline:
            time.sleep(0.05)


def processes_naming(path):
    """(pid, command line) of every process whose command line names `path`: for a smoke test
    to check that a harness stopped what it started (its servers are given paths under a
    directory of the test's)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append((int(entry), cmdline.replace("\0", " ")))
    return found


def client_argv(argv):
    return ["taskset", "-c", str(CLIENT_CPU)] + argv


def run_client(argv, timeout):
    """Runs a client pinned to the client CPU; returns (exit status, stdout, stderr)."""
    try:
        p = subprocess.run(client_argv(argv),
                           capture_output=True,
                           text=True,
                           timeout=timeout,
                           preexec_fn=raise_fd_limit)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return -1, e.stdout or "", f"timed out after {timeout} s"


def run_marked_client(argv, timeout, on_mark, stderr_path):
    """Runs a client pinned to the client CPU (killed with the harness, or after `timeout`
    seconds, by its PID) that marks its measured window on stdout with a line "measuring" and
    a line "measured" as they pass: on_mark(word) is called at each, so that the caller reads
    the server's CPU time at the same moments. Returns (exit status, the other lines of
    stdout); stderr goes to `stderr_path`."""
    def child():
        raise_fd_limit()
        die_with_parent()

    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(client_argv(argv), stdout=subprocess.PIPE, stderr=err,
                                text=True, preexec_fn=child)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            word = line.strip()
            if word in ("measuring", "measured"):
                on_mark(word)
            else:
                lines.append(line)
        status = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, lines


def abba(items, rounds):
    """(round, item) in the order of an ABBA run: the items forwards in even rounds and
    backwards in odd ones, so that a drift of the machine over a round touches the first and
    the last item alike."""
    for rnd in range(rounds):
        for item in (items if rnd % 2 == 0 else list(reversed(items))):
            yield rnd, item

"""Counting a server's system calls by name over a window of a run, with perf or strace.

    t = make_tracer("perf" | "strace", workdir, cpus)
    t.attach(pids, tids)   # the server's processes and threads, once it is warm
    t.begin()              # the window opens (perf: events enabled)
    ...load...
    t.end()                # the window closes
    counts = t.finish()    # {"accept4": 1200, "read": 1300, ...}

perf (the default, root): `perf stat -C CPU -e 'syscalls:sys_enter_*'` on the server's CPU
(the client's calls, on the other CPU, pay no filter), with a tracepoint filter on the
server's thread ids, started with its events disabled (-D -1) and switched on and off through
its control pipe (--control), so that the window is exactly the load. Each system call costs
the server one filtered counter increment in the kernel: nothing is copied out, no process is
woken. It is not free: the traced run's pace is in the report, and the counts per request
depend on it (a slower server finds more work at each look at the kernel). The price on the
harness's side: closing its 361 tracepoint events takes perf about 5-10 s at the end.

strace (without root): `strace -c -f -p PID...`, attached at begin() and detached at end().
ptrace stops the server twice per system call, which makes it several times slower, so that
more work piles up between two looks at the kernel: fewer epoll waits per request than an
untraced server makes. It is the fallback where perf cannot read tracepoints
(perf_event_paranoid, no root).

Either way the CPU time of a traced run is not a result: the harness measures CPU in a run
without tracing.
"""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

PERF_PREFIX = "syscalls:sys_enter_"


def parse_perf_stat(text):
    """{syscall: count} from `perf stat -x,` output of syscalls:sys_enter_* events (zero and
    uncounted events left out)."""
    counts = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split(",")
        if len(fields) < 3 or not fields[2].startswith(PERF_PREFIX):
            continue
        try:
            n = int(float(fields[0]))
        except ValueError:  # <not counted>, <not supported>
            continue
        if n:
            name = fields[2][len(PERF_PREFIX):]
            counts[name] = counts.get(name, 0) + n
    return counts


def parse_strace_summary(text):
    """{syscall: calls} from the table `strace -c` writes (the total line left out)."""
    counts = {}
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) < 4 or not re.fullmatch(r"[\d.]+", tokens[0]):
            continue
        name = tokens[-1]
        if name == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors,] syscall
        counts[name] = counts.get(name, 0) + int(tokens[3])
    return counts


class PerfTracer:
    name = "perf"

    def __init__(self, workdir, cpus):
        self.out = Path(workdir) / "perf-stat.txt"
        self.cpus = cpus
        self.proc = None

    @staticmethod
    def usable():
        """perf is there and may read the syscall tracepoints (root, or a permissive
        perf_event_paranoid)."""
        if shutil.which("perf") is None:
            return "perf not found (linux-perf: bench/many-cores/install-peers installs it)"
        if not Path("/sys/kernel/tracing/events/syscalls").is_dir() and not Path(
                "/sys/kernel/debug/tracing/events/syscalls").is_dir():
            if os.geteuid() != 0:
                return "the syscall tracepoints are readable by root only"
            return "the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)"
        return None

    def attach(self, pids, tids):
        # common_pid is the thread id of the caller. Threads started later are not counted:
        # the harness attaches after the warm-up, when the servers' threads exist.
        flt = " || ".join(f"common_pid == {t}" for t in sorted(tids))
        ctl_r, self.ctl_w = os.pipe()
        self.ack_r, ack_w = os.pipe()
        # Counting on the server's CPU only: the client's system calls, on the other CPU,
        # then pay no filter evaluation (the client sets the pace of a loopback load).
        self.proc = subprocess.Popen([
            "perf", "stat", "-x,", "-C", self.cpus, "-D", "-1", "--control",
            f"fd:{ctl_r},{ack_w}", "-e", PERF_PREFIX + "*", "--filter", flt, "-o",
            str(self.out)
        ],
                                     pass_fds=(ctl_r, ack_w),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     text=True)
        os.close(ctl_r)
        os.close(ack_w)

    def _command(self, word):
        os.write(self.ctl_w, f"{word}\n".encode())
        # perf answers once the events are switched; a perf that died answers nothing.
        got = os.read(self.ack_r, 16)
        if not got.startswith(b"ack"):
            raise RuntimeError(f"perf stat did not acknowledge {word}: {self._stderr()}")

    def _stderr(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().strip()[-400:]

    def begin(self):
        self._command("enable")

    def end(self):
        self._command("disable")

    def finish(self):
        os.close(self.ctl_w)
        os.close(self.ack_r)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("perf stat did not stop within 120 s")
        return parse_perf_stat(self.out.read_text())

    def abandon(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class StraceTracer:
    name = "strace"

    def __init__(self, workdir, cpus):  # strace follows the threads, wherever they run
        self.out = Path(workdir) / "strace-c.txt"
        self.proc = None

    @staticmethod
    def usable():
        return None if shutil.which("strace") else "strace not found (apt-get install strace)"

    def attach(self, pids, tids):
        self.pids, self.expected = pids, len(tids)

    def begin(self):
        # -f: every thread of each process, and whatever they start. strace counts from its
        # attachment, and says "Process N attached" for every thread it attached to.
        argv = ["strace", "-c", "-f", "-o", str(self.out)]
        for pid in self.pids:
            argv += ["-p", str(pid)]
        self.errlog = self.out.with_suffix(".err")
        self.err = open(self.errlog, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"strace exited: {self.errlog.read_text()[-400:]}")
            if self.errlog.read_text().count("attached") >= self.expected:
                return
            time.sleep(0.02)
        raise RuntimeError(f"strace did not attach within 10 s: {self.errlog.read_text()[-400:]}")

    def end(self):
        # The window closes when strace detaches; it writes its table then.
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        finally:
            self.err.close()

    def finish(self):
        return parse_strace_summary(self.out.read_text())

    def abandon(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and not self.err.closed:
            self.err.close()


TRACERS = {"perf": PerfTracer, "strace": StraceTracer}


def make_tracer(name, workdir, cpus):
    """A tracer of processes that run on `cpus` (a perf CPU list: "0")."""
    return TRACERS[name](workdir, cpus)

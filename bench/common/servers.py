"""The servers of the "Are events fast?" harness: how each is configured, started and checked.

Every server listens on 127.0.0.1 on a port of the harness's choosing and serves the same
305-byte page as /index.html (the toys answer every request with it). Each is started in a
session of its own, so that stopping it by its PID (and its process group) also stops the
processes it forked; nothing is ever stopped by name.
"""
import dataclasses
import os
import shutil
import string
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"

# The production servers' web user: Apache, h2o and mini-httpd drop root for it.
WEB_USER = "www-data"


@dataclasses.dataclass
class Server:
    name: str
    kind: str  # "toy", "cpc" (this project's httpd), "production"
    argv: list  # the command line, already filled in
    binary: str  # what must exist for the server to run
    max_load: int = 0  # above this load the server cannot work (0: no limit); see why
    why: str = ""
    backend: str = ""  # the cpc runtime's backend (CPC_BACKEND), for this project's servers

    @property
    def label(self):
        """The name in tables and plots: the server, and its backend if it has one."""
        return f"{self.name}/{self.backend}" if self.backend else self.name

    @property
    def env(self):
        return {"CPC_BACKEND": self.backend} if self.backend else None

    def available(self):
        return os.path.exists(self.binary) or shutil.which(self.binary) is not None


def _write_config(template, run_dir, **values):
    text = string.Template((CONF / template).read_text()).substitute(run=run_dir, **values)
    path = Path(run_dir) / template
    path.write_text(text)
    return str(path)


def production(name, run_dir, root, port, backlog):
    """nginx, lighttpd, apache2-prefork, apache2-worker or h2o, configured from conf/ to
    serve `root` on 127.0.0.1:`port` with one worker (README.md says how each is set up)."""
    values = dict(root=root, port=port, backlog=backlog)
    if name == "nginx":
        conf = _write_config("nginx.conf", run_dir, **values)
        return Server(name, "production",
                      ["nginx", "-c", conf, "-e", f"{run_dir}/nginx-error.log"], "nginx")
    if name == "lighttpd":
        conf = _write_config("lighttpd.conf", run_dir, **values)
        return Server(name, "production", ["lighttpd", "-D", "-f", conf], "lighttpd")
    if name.startswith("apache2-"):
        conf = _write_config(f"{name}.conf", run_dir, **values)
        return Server(name, "production", ["apache2", "-f", conf, "-DFOREGROUND"], "apache2")
    if name == "h2o":
        conf = _write_config("h2o.conf", run_dir, **values)
        return Server(name, "production", ["h2o", "-c", conf], "h2o")
    raise ValueError(f"no production server named {name}")


def all_servers(build_dir, run_dir, root, port, backlog, backends=("epoll",)):
    """Every server of the experiment, in the order of the paper's figure: toys, then ours,
    then the production servers. Those on the cpc runtime (toy-cpc, httpd) come once per
    backend of `backends`."""
    b = Path(build_dir)
    toys = b / "bench"
    servers = []

    def toy(name, why_limit=0, why="", on_cpc=False):
        exe = str(toys / f"toy-{name}")
        for backend in backends if on_cpc else [""]:
            servers.append(
                Server(f"toy-{name}", "toy", [exe, str(port), str(backlog)], exe, why_limit, why,
                       backend))

    toy("fork")
    toy("nptl")
    # GNU Pth waits with select(2): a descriptor number of 1024 or more fails (FD_SETSIZE).
    toy("pth", 900, "GNU Pth waits with select(2), limited to descriptors below 1024")
    toy("st")
    toy("asio")
    toy("cpc", on_cpc=True)

    httpd = str(b / "apps" / "httpd" / "httpd")
    for backend in backends:
        # --sendfile, as nginx's "sendfile on" and lighttpd's sendfile back-end (conf/): the
        # same zero-copy path for the files over httpd's page cache limit.
        servers.append(
            Server("httpd", "cpc", [
                httpd, "--root", str(root), "--bind", "127.0.0.1", "--port", str(port),
                "--listen-backlog", str(backlog), "--threads", "1", "--quiet", "--sendfile"
            ], httpd, backend=backend))

    servers += [production(name, run_dir, root, port, backlog)
                for name in ("nginx", "lighttpd", "apache2-prefork", "apache2-worker", "h2o")]
    # mini_httpd forks a process per connection; its listen backlog is fixed at 1024.
    servers.append(
        Server("mini-httpd", "production", [
            "mini_httpd", "-D", "-h", "127.0.0.1", "-p",
            str(port), "-d",
            str(root), "-u", WEB_USER, "-l", "/dev/null", "-i", f"{run_dir}/mini-httpd.pid"
        ], "mini_httpd"))
    return servers

"""bench/common: the Python every benchmark harness shares.

- machine: the machine under test: sysctls, the server's cgroup (CPU accounting), processes
  started afresh and stopped by PID, free ports, clients run with a time limit, ABBA order.
- servers: the production web servers (nginx, lighttpd, h2o, Apache...) and the project's
  own, configured from conf/ and started on a port of the harness's choosing.
- smoke: the command line and the helpers of every harness's smoke test (ctest).

How a harness imports it, the same in every one (bench/X/run, bench/X/smoke_test.py, a test
run as a script): put bench/ first on the module path, then import from the package.

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for bench/common
    from common import machine  # noqa: E402

A harness's own modules (bench/X/report.py...) need nothing: the directory of the script
that Python runs is already on the path. A module imported by a harness (not run itself)
imports `from common import machine` too, and relies on its harness having set the path.
"""

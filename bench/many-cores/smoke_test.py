#!/usr/bin/env python3
"""ctest many_cores_smoke: bench/many-cores/run --smoke (sfs_cpc on one loop, on two, and as
N-copy, a few seconds, no root) writes its CSV, report and plot with numbers for every system
it ran, right answers and no lost update, and leaves no server behind; an sfs_cpc whose
requests of a file overlap (--race) fails its 2-loop points for lost updates; httpd on one
loop and on two is measured; and an sfs_cpc that fails to start makes the harness fail and
say that its report is not a result.

    smoke_test.py --build-dir BUILD --work DIR
"""
import shutil
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for bench/common
from common import machine  # noqa: E402
from common import smoke  # noqa: E402  (the command line of every harness's smoke test)

RUN = Path(__file__).resolve().parent / "run"
ARGS = smoke.Args()


def run_smoke(build_dir, results, *extra):
    return smoke.run_harness(RUN, build_dir, results, *extra)


def fake_build(name, server_script):
    """A build directory whose sfs_cpc is `server_script` and whose sfs_client is the real one."""
    bin_dir = ARGS.work / name / "bench" / "many-cores"
    bin_dir.mkdir(parents=True, exist_ok=True)
    server = bin_dir / "sfs_cpc"
    server.write_text(server_script)
    server.chmod(0o755)
    client = bin_dir / "sfs_client"
    client.unlink(missing_ok=True)
    client.symlink_to(ARGS.build_dir / "bench" / "many-cores" / "sfs_client")
    return ARGS.work / name


def read_rows(results):
    return smoke.read_rows(results / "many-cores-smoke.csv")


class SmokeTest(unittest.TestCase):

    def test_cpc_on_one_and_two_loops_and_ncopy_serve_and_everything_is_written(self):
        results = ARGS.work / "results"
        p = run_smoke(ARGS.build_dir, results)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(machine.processes_naming(ARGS.build_dir / "bench" / "many-cores" / "sfs_cpc"), [])
        rows = read_rows(results)
        values = {(r["experiment"], r["system"], r["loops"], r["metric"]): float(r["value"])
                  for r in rows}
        self.assertNotIn("failed", {r["metric"] for r in rows}, rows)
        for point in (("uniform", "cpc", "1"), ("uniform", "cpc", "2"), ("uniform", "ncopy", "2"),
                      ("skewed", "cpc", "1"), ("skewed", "cpc", "2")):
            for metric in ("requests_per_s", "requests_per_cpu_s", "server_cpu_fraction",
                           "mb_per_s"):
                self.assertGreater(values.get(point + (metric,), 0), 0, (point, metric, rows))
            client = values[point + ("client_cpu_fraction",)]
            self.assertTrue(0 < client < 1, (point, client))
        for point in (("uniform", "ncopy", "2"), ("uniform", "cpc", "2"), ("skewed", "cpc", "2")):
            self.assertGreater(values[point + ("speedup",)], 0, point)
        # Only what was measured: no Go or Asio in a smoke run.
        self.assertEqual({r["system"] for r in rows}, {"cpc", "ncopy"})
        report = (results / "many-cores-smoke.md").read_text()
        # Every target of the SFS experiment is checked against figures, none left unmeasured
        # but the peers'.
        for target in ("cpc on 2 loops against 1 (uniform): ",
                       "cpc on 2 loops against N-copy (uniform): ",
                       "cpc on 2 loops against 1 in the skewed run (work stealing): "):
            self.assertRegex(report, r"\*\*(PASS|MISS)\*\*: " + target.replace("(", r"\(")
                             .replace(")", r"\)") + r"[\d.]+x", report)
        self.assertNotIn("**failed**", report)
        self.assertNotIn("not a result", report)
        if shutil.which("gnuplot"):
            png = (results / "many-cores-smoke.png").read_bytes()
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
            self.assertIn("![many-cores](many-cores-smoke.png)", report)

    def test_httpd_on_one_and_two_loops(self):
        results = ARGS.work / "httpd-results"
        p = run_smoke(ARGS.build_dir, results, "--experiments", "httpd", "--seconds", "0.5",
                      "--no-profile")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(machine.processes_naming(ARGS.build_dir / "apps" / "httpd" / "httpd"), [])
        values = {(r["experiment"], r["system"], r["loops"], r["metric"]): float(r["value"])
                  for r in read_rows(results)}
        for loops in ("1", "2"):
            for metric in ("requests_per_s", "requests_per_cpu_s", "server_cpu_fraction"):
                self.assertGreater(values.get(("httpd", "httpd", loops, metric), 0), 0,
                                   (loops, metric, values))
        self.assertGreater(values[("httpd", "httpd", "2", "per_cpu_ratio")], 0)
        report = (results / "many-cores-smoke.md").read_text()
        self.assertRegex(report, r"\*\*(PASS|MISS)\*\*: httpd's requests per server CPU-second")

    def test_overlapping_requests_of_a_file_are_caught_as_lost_updates(self):
        real = ARGS.build_dir / "bench" / "many-cores" / "sfs_cpc"
        fake = fake_build("racy-build", f'#!/bin/sh\nexec "{real}" "$@" --race\n')
        results = ARGS.work / "racy-results"
        p = run_smoke(fake, results, "--systems", "cpc", "--seconds", "0.5")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        report = (results / "many-cores-smoke.md").read_text()
        # One loop runs one request at a time: no overlap, no loss. Two loops race.
        for exp in ("uniform", "skewed"):
            self.assertNotIn(f"| {exp} | cpc | 1 | **failed**", report)
            self.assertRegex(report, rf"\| {exp} \| cpc \| 2 \| \*\*failed\*\*: \d+ updates of "
                             "the files' counters lost", report)
        self.assertIn("a partial report is not a result", report)

    def test_an_sfs_cpc_that_does_not_start_is_not_a_result(self):
        fake = fake_build("broken-build",
                          "#!/bin/sh\necho 'sfs: bind: Address already in use' >&2\nexit 3\n")
        results = ARGS.work / "broken-results"
        p = run_smoke(fake, results)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("exited with status 3 before listening", p.stdout)
        report = (results / "many-cores-smoke.md").read_text()
        self.assertIn("| uniform | cpc | 1 | **failed**:", report)
        self.assertIn("a partial report is not a result", report)
        rows = read_rows(results)
        self.assertEqual({r["metric"] for r in rows}, {"failed"})
        self.assertFalse((results / "many-cores-smoke.png").exists())


if __name__ == "__main__":
    smoke.main(ARGS)

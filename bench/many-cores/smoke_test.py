#!/usr/bin/env python3
"""ctest many_cores_smoke: bench/many-cores/run --smoke (sfs_cpc on one loop and as N-copy, a
few seconds, no root) writes its CSV, report and plot with numbers for every system it ran,
and leaves no server behind; and an sfs_cpc that fails to start makes the harness fail and
say that its report is not a result.

    smoke_test.py --build-dir BUILD --work DIR
"""
import argparse
import csv
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "are-events-fast"))
import machine  # noqa: E402

RUN = Path(__file__).resolve().parent / "run"
ARGS = None


def run_smoke(build_dir, results):
    shutil.rmtree(results, ignore_errors=True)
    return subprocess.run([sys.executable, str(RUN), "--smoke", "--build-dir", str(build_dir),
                           "--results-dir", str(results)], capture_output=True, text=True,
                          timeout=100)


def read_rows(results):
    with open(results / "many-cores-smoke.csv", newline="") as f:
        return list(csv.DictReader(f))


class SmokeTest(unittest.TestCase):

    def test_cpc_and_ncopy_serve_and_everything_is_written(self):
        results = ARGS.work / "results"
        p = run_smoke(ARGS.build_dir, results)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(machine.processes_naming(ARGS.build_dir / "bench" / "many-cores" / "sfs_cpc"), [])
        rows = read_rows(results)
        values = {(r["experiment"], r["system"], r["loops"], r["metric"]): float(r["value"])
                  for r in rows}
        self.assertNotIn("failed", {r["metric"] for r in rows}, rows)
        for point in (("uniform", "cpc", "1"), ("uniform", "ncopy", "2"), ("skewed", "cpc", "1")):
            for metric in ("requests_per_s", "requests_per_cpu_s", "server_cpu_fraction",
                           "mb_per_s"):
                self.assertGreater(values.get(point + (metric,), 0), 0, (point, metric, rows))
            client = values[point + ("client_cpu_fraction",)]
            self.assertTrue(0 < client < 1, (point, client))
        self.assertGreater(values[("uniform", "ncopy", "2", "speedup")], 0)
        # Only what was measured: no Go or Asio in a smoke run, no 2-loop cpc before the runtime.
        self.assertEqual({r["system"] for r in rows}, {"cpc", "ncopy"})
        self.assertEqual({r["loops"] for r in rows if r["system"] == "cpc"}, {"1"})
        report = (results / "many-cores-smoke.md").read_text()
        self.assertIn("not measured yet: needs cpc::runtime", report)
        self.assertNotIn("**failed**", report)
        self.assertNotIn("not a result", report)
        if shutil.which("gnuplot"):
            png = (results / "many-cores-smoke.png").read_bytes()
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
            self.assertIn("![many-cores](many-cores-smoke.png)", report)

    def test_an_sfs_cpc_that_does_not_start_is_not_a_result(self):
        fake = ARGS.work / "broken-build"
        bin_dir = fake / "bench" / "many-cores"
        bin_dir.mkdir(parents=True, exist_ok=True)
        server = bin_dir / "sfs_cpc"
        server.write_text("#!/bin/sh\necho 'sfs: bind: Address already in use' >&2\nexit 3\n")
        server.chmod(0o755)
        client = bin_dir / "sfs_client"
        client.unlink(missing_ok=True)
        client.symlink_to(ARGS.build_dir / "bench" / "many-cores" / "sfs_client")
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


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ARGS, rest = ap.parse_known_args()
    ARGS.build_dir = ARGS.build_dir.resolve()
    ARGS.work = ARGS.work.resolve()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()

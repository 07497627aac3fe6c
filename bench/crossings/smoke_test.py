#!/usr/bin/env python3
"""ctest crossings_smoke: bench/crossings/run --smoke (httpd and toy-cpc on epoll, a few
thousand requests; hekate's 20 leechers) writes its CSV and report with a plausible count of
each server's system calls per request and its CPU time, and leaves no server behind.

    smoke_test.py --build-dir BUILD --work DIR
"""
import csv
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for bench/common
from common import machine  # noqa: E402
from common import smoke  # noqa: E402  (the command line of every harness's smoke test)

RUN = Path(__file__).resolve().parent / "run"
ARGS = smoke.Args()


class SmokeTest(unittest.TestCase):

    def test_counts_and_cpu_per_request(self):
        results = ARGS.work / "results"
        p = subprocess.run([
            sys.executable, str(RUN), "--smoke", "--systems", "httpd-close,toy-cpc,hekate",
            "--build-dir", str(ARGS.build_dir), "--results-dir", str(results), "--data-dir",
            str(ARGS.work / "data")
        ], capture_output=True, text=True, timeout=140)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for exe in ("apps/httpd/httpd", "bench/toy-cpc", "apps/hekate/hekate"):
            self.assertEqual(machine.processes_naming(ARGS.build_dir / exe), [])
        with open(results / "crossings-smoke.csv", newline="") as f:
            rows = {r["system"]: r for r in csv.DictReader(f)}
        self.assertEqual(set(rows), {"httpd-close", "toy-cpc", "hekate"})
        for name in ("httpd-close", "toy-cpc"):
            r = rows[name]
            self.assertEqual((r["backend"], r["unit"]), ("epoll", "request"))
            self.assertGreater(int(r["units_per_run"]), 2000, r)
            # A connection per request: one accept and one close each, give or take the
            # accepts that found nothing and the connections that were still open.
            self.assertTrue(0.9 <= float(r["accept4"]) <= 2.5, r)
            self.assertTrue(0.9 <= float(r["close"]) <= 1.1, r)
            self.assertTrue(3 <= float(r["syscalls"]) <= 20, r)
            self.assertGreater(float(r["cpu_us"]), 0, r)
        h = rows["hekate"]
        self.assertEqual(h["unit"], "block")
        self.assertGreater(int(h["units_per_run"]), 0, h)
        # Blocks go out in batches of up to 16 in one writev.
        self.assertTrue(0 < float(h["writev"]) <= 1.0, h)
        report = (results / "crossings-smoke.md").read_text()
        self.assertIn("| httpd-close | epoll | request |", report)
        self.assertIn("| hekate | epoll | block |", report)
        self.assertNotIn("## Failed", report)


if __name__ == "__main__":
    smoke.main(ARGS)

"""The command line shared by the harnesses' smoke tests (bench/*/smoke_test.py, ctest): each
is a unittest module run as `smoke_test.py --build-dir BUILD --work DIR [unittest options]`."""
import argparse
import csv
import shutil
import subprocess
import sys
import unittest
from pathlib import Path


class Args:
    """The build tree and the test's scratch directory, absolute, filled in by main()."""
    build_dir: Path = None
    work: Path = None


def main(args):
    """Parses --build-dir and --work into `args` (the test module's Args), then runs the
    tests of the module run as a script, passing any other option to unittest."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    parsed, rest = ap.parse_known_args()
    args.build_dir = parsed.build_dir.resolve()
    args.work = parsed.work.resolve()
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


def read_rows(path):
    """The rows of a harness's CSV file, as dicts keyed by its header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_harness(run, build_dir, results, *extra, timeout=100):
    """Runs the harness `run --smoke` into a fresh `results` directory; the finished process."""
    shutil.rmtree(results, ignore_errors=True)
    return subprocess.run([sys.executable, str(run), "--smoke", "--build-dir", str(build_dir),
                           "--results-dir", str(results), *extra], capture_output=True,
                          text=True, timeout=timeout)

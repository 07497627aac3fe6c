#!/usr/bin/env python3
"""Unit test of tracers.py (ctest crossings_tracers): the counts read from perf's and strace's
own output, as those tools print it."""
import unittest

import tracers  # the script's directory is on the path

PERF = """# started on Mon Dec  7 08:29:55 2026

20,,syscalls:sys_enter_accept4,2067227545,100.00,,
0,,syscalls:sys_enter_vfork,2066929278,100.00,,
<not counted>,,syscalls:sys_enter_wait4,0,0.00,,
39,,syscalls:sys_enter_epoll_pwait2,2063735917,100.00,,
7,,raw_syscalls:sys_enter,2063735917,100.00,,
"""

STRACE = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 41.02    0.012310           2      5001           writev
 30.11    0.009035           1      5002         1 accept4
  0.00    0.000000           0         3           epoll_pwait2
------ ----------- ----------- --------- --------- ----------------
100.00    0.030010           3     10006         1 total
"""


class ParseTest(unittest.TestCase):

    def test_perf_stat_counts_by_name_without_zeros_or_other_events(self):
        self.assertEqual(tracers.parse_perf_stat(PERF), {"accept4": 20, "epoll_pwait2": 39})

    def test_strace_summary_with_and_without_errors_column(self):
        self.assertEqual(tracers.parse_strace_summary(STRACE),
                         {"writev": 5001, "accept4": 5002, "epoll_pwait2": 3})

    def test_empty_outputs(self):
        self.assertEqual(tracers.parse_perf_stat(""), {})
        self.assertEqual(tracers.parse_strace_summary(""), {})


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Unit test of report.py (ctest: are_events_fast_report): the slope, and the targets'
verdicts on synthetic rows, PASS and MISS both."""
import argparse
import datetime
import unittest

import report  # the script's directory is on the path


def row(server, load, mean, failed=0):
    return {
        "server": server, "load": load, "n": 12000, "mean_ms": mean, "median_ms": mean,
        "measured_load": load * 0.99, "failed": failed, "requests_per_s": 1000.0,
        "client_cpu": 0.5, "server_us_per_request": 30.0, "ab_mean_ms": mean,
    }


def lines_with(text, word):
    return [l for l in text.splitlines() if word in l]


class SlopeTest(unittest.TestCase):

    def test_exact_line(self):
        self.assertAlmostEqual(report.slope([(1, 3.0), (10, 21.0), (100, 201.0)]), 2.0)

    def test_one_point_has_no_slope(self):
        self.assertIsNone(report.slope([(100, 5.0)]))

    def test_equal_loads_have_no_slope(self):
        self.assertIsNone(report.slope([(100, 5.0), (100, 6.0)]))


class SummaryTest(unittest.TestCase):

    def summarize(self, rows, wrk=(), memory=None):
        args = argparse.Namespace(quick=False, server_cpu=30)
        now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        return report.summary(rows, list(wrk), memory, {}, args, now, now)

    def sweep(self, per_client):
        """Rows whose mean is per_client[server] * load, at loads 100..10000."""
        return [row(s, l, k * l) for s, k in per_client.items() for l in (100, 1000, 10000)]

    def test_ours_fastest_passes(self):
        text = self.summarize(self.sweep({"httpd": 0.05, "toy-cpc": 0.04, "toy-st": 0.1,
                                          "nginx": 0.2}))
        self.assertIn("PASS: httpd and toy-cpc have the smallest slopes", text)
        st = lines_with(text, "httpd against toy-st")[0]
        self.assertTrue(st.startswith("- PASS (aim 0.8x: PASS)"), st)
        self.assertIn("10000: 0.50", st)

    def test_slower_than_rival_misses(self):
        text = self.summarize(self.sweep({"httpd": 0.12, "toy-cpc": 0.04, "toy-st": 0.1,
                                          "nginx": 0.2}))
        self.assertIn("MISS: httpd and toy-cpc have the smallest slopes", text)
        st = lines_with(text, "httpd against toy-st")[0]
        self.assertTrue(st.startswith("- MISS (aim 0.8x: MISS)"), st)

    def test_between_aim_and_parity(self):
        text = self.summarize(self.sweep({"httpd": 0.09, "toy-st": 0.1}))
        st = lines_with(text, "httpd against toy-st")[0]
        self.assertTrue(st.startswith("- PASS (aim 0.8x: MISS)"), st)

    def test_failures_at_max_load_miss_and_leave_the_slope(self):
        rows = self.sweep({"httpd": 0.05, "toy-st": 0.1})
        rows[-4] = row("httpd", 10000, 9999.0, failed=3)  # a huge, failed point
        text = self.summarize(rows)
        self.assertIn("MISS: httpd at 10,000 simultaneous clients: 3 failed", text)
        self.assertIn("| httpd | 0.05000 |", text)  # the failed point is not in the slope

    def test_memory_and_wrk(self):
        wrk = [{"server": "httpd", "connections": 100, "requests_per_s": 130000.0,
                "socket_errors": ""},
               {"server": "lighttpd", "connections": 100, "requests_per_s": 100000.0,
                "socket_errors": ""},
               {"server": "nginx", "connections": 100, "requests_per_s": 120000.0,
                "socket_errors": ""}]
        memory = [{"connections": 10000, "held": 10000, "rss_before": 10 << 20,
                   "rss_after": (10 << 20) + 10000 * 1500, "bytes_per_connection": 1500.0}]
        text = self.summarize(self.sweep({"httpd": 0.05}), wrk, memory)
        self.assertIn("PASS: 1500 bytes per idle keep-alive connection", text)
        self.assertIn("MISS: wrk -t1 -c100, httpd 130,000 req/s, 1.08x the fastest", text)
        self.assertIn("(nginx, 120,000)", text)

    def test_each_backend_is_a_server_of_its_own(self):
        rows = self.sweep({"toy-st": 0.1, "nginx": 0.2})
        for backend, k in (("epoll", 0.09), ("io_uring", 0.07)):
            rows += [dict(row("httpd", l, k * l), backend=backend) for l in (100, 1000, 10000)]
        rows += [dict(row("toy-cpc", l, 0.06 * l), backend="epoll") for l in (100, 1000, 10000)]
        args = argparse.Namespace(quick=False, server_cpu=30)
        now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        text = report.summary(rows, [], [], {}, args, now, now,
                              {"toy-cpc/io_uring": "CPC_BACKEND=io_uring, but epoll"})
        self.assertIn("| httpd/epoll | 0.09000 |", text)
        self.assertIn("| httpd/io_uring | 0.07000 |", text)
        self.assertIn("PASS: httpd/epoll and httpd/io_uring and toy-cpc/epoll have the smallest",
                      text)
        st = lines_with(text, "httpd/io_uring against toy-st")[0]
        self.assertTrue(st.startswith("- PASS (aim 0.8x: PASS)"), st)
        st = lines_with(text, "httpd/epoll against toy-st")[0]
        self.assertTrue(st.startswith("- PASS (aim 0.8x: MISS)"), st)
        self.assertIn("## Backends not available\n\n- toy-cpc/io_uring: CPC_BACKEND", text)


if __name__ == "__main__":
    unittest.main()

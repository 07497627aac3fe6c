"""The fairness is global whatever the number of loops: four real leechers (aria2c, dialled
with --peer) share -N 2 slots of 32 KiB turns under an upload limit, so that they all want
data at once for several seconds. Hekate runs with --threads $HEKATE_TEST_THREADS (the
_2loops test: two loops, the peers spread over both).

The status page is polled all along: neither the choker's count of unchoked peers nor the
peers' own (told UNCHOKE and no CHOKE since, counted on their loops) may ever exceed 2, and
hekate's own peak of the latter, which sees the moments between two polls, must be exactly
2 at the end (the slots were used, and never one more). Every loop must have served peers,
the slots must have rotated (CHOKEs), and every download must be complete and identical."""
import json
import os
import time
import urllib.request

import harness

LEECHERS = 4
SLOTS = 2


def body(s):
    closed = harness.free_port(harness.CLIENT_ADDRESS)
    content, torrent = s.seed(announce="http://%s:%d/announce" % (harness.CLIENT_ADDRESS, closed))
    loops = int(os.environ.get("HEKATE_TEST_THREADS", "1"))

    ports = [harness.free_port(harness.CLIENT_ADDRESS) for _ in range(LEECHERS)]
    status_port = harness.free_port(harness.HEKATE_ADDRESS)
    peers = []
    for p in ports:
        peers += ["--peer", "%s:%d" % (harness.CLIENT_ADDRESS, p)]
    hekate = s.start_hekate(["-t", "-N", str(SLOTS), "-C", "32K", "--upload-limit", "512K",
                             "--status", str(status_port), *peers], debug=3)

    def status():
        url = "http://%s:%d/" % (harness.HEKATE_ADDRESS, status_port)
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())

    clients = []
    for i, p in enumerate(ports):
        download = s.dir("aria2-%d" % i)
        log = os.path.join(s.root, "aria2-%d.log" % i)
        s.add_log("aria2 %d log" % i, log)
        cmd = harness.aria2_command(s, download, p, torrent,
                                    extra=["--bt-tracker-connect-timeout=1", "--bt-tracker-timeout=1"])
        cmd = [a if not a.startswith("--log=") else "--log=" + log for a in cmd]
        clients.append((download, s.spawn("aria2c-%d" % i, cmd)))

    most_unchoked = most_told = most_waiting = 0
    deadline = time.monotonic() + 90
    remaining = list(clients)
    while remaining:
        st = status()["peers"]
        s.check(st["max_unchoked"] == SLOTS, "status page: max_unchoked %r" % st["max_unchoked"])
        most_unchoked = max(most_unchoked, st["unchoked"])
        most_told = max(most_told, st["told_unchoked"])
        most_waiting = max(most_waiting, st["waiting"])
        s.check(st["unchoked"] <= SLOTS and st["told_unchoked"] <= SLOTS,
                "more than %d peers unchoked at once: %r" % (SLOTS, st))
        remaining = [(d, c) for d, c in remaining
                     if harness.tree_differences(content, os.path.join(d, os.path.basename(content)))]
        for label, proc in [("aria2c", c) for _, c in remaining]:
            s.check(proc.poll() in (None, 0), "%s exited with status %s" % (label, proc.returncode))
        s.check(hekate.proc.poll() is None, "hekate exited during the downloads")
        s.check(time.monotonic() < deadline,
                "%d downloads not complete after 90 s" % len(remaining))
        time.sleep(0.05)
    s.note("every download complete and identical")
    for i, (_, proc) in enumerate(clients):
        s.check_exits_cleanly("aria2c-%d" % i, proc)

    final = status()
    peak = final["peers"]["told_unchoked_peak"]
    s.note("polls saw at most %d unchoked (choker), %d told unchoked, %d waiting; peak %d; "
           "loops %r" % (most_unchoked, most_told, most_waiting, peak, final["loops"]))
    s.check(peak == SLOTS, "hekate's peak of unchoked peers is %d, expected %d" % (peak, SLOTS))
    s.check(most_waiting > 0, "no peer ever waited for a slot: the limit was not exercised")
    s.check(len(final["loops"]) == loops, "status page lists %d loops" % len(final["loops"]))
    s.check(all(l["sessions"] > 0 for l in final["loops"]),
            "a loop served no peer: %r" % final["loops"])
    chokes = len([l for l in hekate.output().splitlines() if l.endswith(": choked")])
    s.note("hekate choked a peer %d times" % chokes)
    s.check(chokes >= LEECHERS, "the slots did not rotate (%d chokes)" % chokes)
    s.stop_hekate()


harness.Scenario("fairness").run(body)

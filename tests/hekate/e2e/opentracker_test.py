"""Through Debian's opentracker, no --peer: aria2c announces first (so opentracker knows it),
then hekate starts, announces from its --bind address, gets aria2's address in the reply and
dials it; aria2 never learns of hekate (its next announce is many minutes away), so the download
works only if hekate acts on the tracker's peers. The whitelist holds the torrent's info-hash,
in opentracker's chroot directory."""
import os
import re
import urllib.parse
import urllib.request

import harness


def scrape(port, ih):
    """(complete, incomplete) for the info-hash, from opentracker's /scrape."""
    url = "http://%s:%d/scrape?info_hash=%s" % (harness.CLIENT_ADDRESS, port,
                                                 urllib.parse.quote(bytes.fromhex(ih)))
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            body = r.read()
    except OSError:
        return None
    if body == b"d5:filesdee":  # no peer yet for this info-hash
        return 0, 0
    complete = re.search(rb"8:completei(\d+)e", body)
    incomplete = re.search(rb"10:incompletei(\d+)e", body)
    if not complete or not incomplete:
        return None
    return int(complete.group(1)), int(incomplete.group(1))


def body(s):
    tracker_port = harness.free_port(harness.CLIENT_ADDRESS)
    announce = "http://%s:%d/announce" % (harness.CLIENT_ADDRESS, tracker_port)
    content, torrent = s.seed(announce=announce)
    ih = harness.info_hash_hex(torrent)

    # opentracker chroots to -d (as root) and reads the whitelist there as "nobody".
    chroot = s.dir("opentracker")
    os.chmod(s.root, 0o755)
    os.chmod(chroot, 0o755)
    with open(os.path.join(chroot, "whitelist"), "w") as f:
        f.write(ih + "\n")
    os.chmod(os.path.join(chroot, "whitelist"), 0o644)
    udp_port = harness.free_port(harness.CLIENT_ADDRESS)
    tracker = s.spawn("opentracker", [
        "opentracker", "-i", harness.CLIENT_ADDRESS, "-p", str(tracker_port), "-P", str(udp_port),
        "-d", chroot, "-w", "whitelist"])
    s.check(harness.wait_until(lambda: scrape(tracker_port, ih) is not None or tracker.poll() is not None, 10)
            and tracker.poll() is None, "opentracker does not answer scrapes on port %d" % tracker_port)
    s.check(scrape(tracker_port, ih) == (0, 0), "a fresh swarm should be empty: %s" % (scrape(tracker_port, ih),))

    port = harness.free_port(harness.CLIENT_ADDRESS)
    download = s.dir("aria2-download")
    aria2 = s.spawn_aria2(download, port, torrent)
    s.check(harness.wait_until(lambda: scrape(tracker_port, ih) == (0, 1), 20, 0.2),
            "aria2 did not announce to opentracker: scrape says %s" % (scrape(tracker_port, ih),))
    s.note("aria2 announced to opentracker")

    hekate = s.start_hekate()  # trackers on, no --peer
    s.check(harness.wait_until(lambda: scrape(tracker_port, ih) == (1, 1), 20, 0.2),
            "hekate did not announce as a seed to opentracker: scrape says %s" % (scrape(tracker_port, ih),))
    s.note("hekate announced to opentracker")
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                        watch=[("aria2c", aria2), ("opentracker", tracker)])
    s.check(hekate.wait_for_log(r"127\.0\.0\.1:%d: connected for" % port, 5),
            "hekate's log does not show its connection to aria2 (127.0.0.1:%d)" % port)
    s.check_exits_cleanly("aria2c", aria2)
    s.stop_hekate()


harness.Scenario("opentracker").run(body)

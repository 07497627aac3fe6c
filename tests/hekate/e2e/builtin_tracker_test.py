"""Through hekate's built-in tracker (--tracker PORT), no --peer and no connect_peer: the
torrent announces to http://127.0.0.2:PORT/announce; hekate announces its torrent to its own
tracker, python3-libtorrent announces, gets hekate's address in the reply and dials it."""
import os

import harness


def body(s):
    tracker_port = harness.free_port(harness.HEKATE_ADDRESS)
    content, torrent = s.seed(announce="http://%s:%d/announce" % (harness.HEKATE_ADDRESS, tracker_port))
    hekate = s.start_hekate(["--tracker", str(tracker_port)])
    lt_session = harness.LibtorrentSession(s)
    lt = lt_session.lt
    download = s.dir("libtorrent-download")
    peers_from_tracker = []

    def pump():
        for a in lt_session.pump():
            if isinstance(a, lt.tracker_reply_alert):
                peers_from_tracker.append(a.num_peers)

    try:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
        params.save_path = download
        h = lt_session.add(params)
        s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                            each=pump, progress=lambda: lt_session.describe(h))
        s.check(harness.wait_until(lambda: pump() is None and h.status().is_seeding, 10),
                "libtorrent does not consider the torrent complete: " + lt_session.describe(h))
        s.check(any(n >= 1 for n in peers_from_tracker),
                "libtorrent got no peer from hekate's tracker (replies: %s)" % peers_from_tracker)
        s.check(hekate.wait_for_log(r"127\.0\.0\.1:\d+: connected for", 5),
                "hekate's log shows no connection from libtorrent")
    finally:
        lt_session.close()
    s.note("libtorrent closed")
    s.stop_hekate()
    s.note("hekate stopped")


harness.Scenario("builtin_tracker").run(body)

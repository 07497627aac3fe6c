"""Through hekate's built-in tracker (--tracker PORT), no --peer and no connect_peer: the
torrent announces to http://127.0.0.2:PORT/announce; hekate announces its torrent to its own
tracker, python3-libtorrent announces, gets hekate's address in the reply and dials it."""
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
        h = lt_session.add_torrent(torrent, download)
        lt_session.wait_for_download(h, content, download, each=pump)
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

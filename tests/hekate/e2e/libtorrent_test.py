"""python3-libtorrent 2.0 downloads a trackerless torrent from hekate, which it is told about
with connect_peer (hekate runs without --peer and without trackers: libtorrent dials it)."""
import harness


def body(s):
    content, torrent = s.seed(announce=None)
    hekate = s.start_hekate(["-t"])
    lt_session = harness.LibtorrentSession(s)
    download = s.dir("libtorrent-download")
    try:
        h = lt_session.add_torrent(torrent, download, peer=(harness.HEKATE_ADDRESS, hekate.port))
        lt_session.wait_for_download(h, content, download)
    finally:
        lt_session.close()
    s.stop_hekate()


harness.Scenario("libtorrent").run(body)

"""python3-libtorrent 2.0 downloads a trackerless torrent from hekate, which it is told about
with connect_peer (hekate runs without --peer and without trackers: libtorrent dials it)."""
import os

import harness


def body(s):
    content, torrent = s.seed(announce=None)
    hekate = s.start_hekate(["-t"])
    lt_session = harness.LibtorrentSession(s)
    lt = lt_session.lt
    download = s.dir("libtorrent-download")
    try:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
        params.save_path = download
        h = lt_session.add(params)
        h.connect_peer((harness.HEKATE_ADDRESS, hekate.port))
        s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                            each=lt_session.pump, progress=lambda: lt_session.describe(h))
        s.check(harness.wait_until(lambda: lt_session.pump() is not None and h.status().is_seeding, 10),
                "libtorrent does not consider the torrent complete: " + lt_session.describe(h))
    finally:
        lt_session.close()
    s.stop_hekate()


harness.Scenario("libtorrent").run(body)

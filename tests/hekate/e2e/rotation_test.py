"""Two real clients at once, one unchoke slot: hekate runs with -N 1 -C 64K (and an upload
limit, so that the downloads overlap), dials aria2c (--peer) and is dialled by libtorrent, so
it must choke one to serve the other every 64 KiB; both must still get every byte (requests
rejected at a choke are asked again). Both clients have the fast extension, so a choke comes
with REJECTs and they ask again at once. (rtorrent, without it, keeps discarded requests for
~20 s after its next unchoke: hostile_peers_test and operation_test cover that path.)"""
import os

import harness


def body(s):
    closed = harness.free_port(harness.CLIENT_ADDRESS)
    content, torrent = s.seed(announce="http://%s:%d/announce" % (harness.CLIENT_ADDRESS, closed))

    # libtorrent first (it tries uTP for a few seconds before TCP); aria2 once libtorrent is
    # connected, so that the two downloads overlap. hekate dials aria2 (--peer) until it
    # listens.
    aria2_port = harness.free_port(harness.CLIENT_ADDRESS)
    # 64 KiB/s: the 736 KiB take ~11 s, so that the downloads still overlap for several turns
    # when aria2c starts late (at 128 KiB/s a loaded machine saw libtorrent nearly done
    # before aria2c connected: one choke only).
    hekate = s.start_hekate(["-t", "-N", "1", "-C", "64K", "--upload-limit", "64K",
                             "--peer", "%s:%d" % (harness.CLIENT_ADDRESS, aria2_port)])
    lt_session = harness.LibtorrentSession(s)
    lt_download = s.dir("libtorrent-download")
    try:
        h = lt_session.add_torrent(torrent, lt_download, peer=(harness.HEKATE_ADDRESS, hekate.port))
        s.check(harness.wait_until(lambda: lt_session.pump() is not None and
                                   "connected for" in hekate.output(), 30),
                "libtorrent did not connect to hekate")
        aria2_download = s.dir("aria2-download")
        aria2 = s.spawn_aria2(aria2_download, aria2_port, torrent,
                              extra=["--bt-tracker-connect-timeout=1", "--bt-tracker-timeout=1"])
        s.wait_for_download(content, os.path.join(aria2_download, os.path.basename(content)), 60,
                            watch=[("aria2c", aria2)], each=lt_session.pump)
        lt_session.wait_for_download(h, content, lt_download, seeding=False)
    finally:
        lt_session.close()
    s.check_exits_cleanly("aria2c", aria2)
    chokes = len([l for l in hekate.output().splitlines() if l.endswith(": choked")])
    s.note("hekate choked a peer %d times" % chokes)
    s.check(chokes >= 2, "hekate never rotated its single unchoke slot (%d chokes)" % chokes)
    s.stop_hekate()


harness.Scenario("rotation").run(body)

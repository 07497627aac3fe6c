"""python3-libtorrent 2.0 starts from a magnet link alone (no .torrent), with
x.pe=127.0.0.2:PORT naming hekate: it gets the info dictionary from hekate over ut_metadata
(BEP 9), checks it against the info-hash, then downloads every byte."""
import os
import urllib.parse

import harness


def body(s):
    content, torrent = s.seed(announce=None)
    hekate = s.start_hekate(["-t"])
    ih = harness.info_hash_hex(torrent)
    magnet = "magnet:?xt=urn:btih:%s&dn=%s&x.pe=%s:%d" % (
        ih, urllib.parse.quote(os.path.basename(content)), harness.HEKATE_ADDRESS, hekate.port)
    s.note(magnet)
    lt_session = harness.LibtorrentSession(s)
    lt = lt_session.lt
    download = s.dir("libtorrent-download")
    try:
        params = lt.parse_magnet_uri(magnet)
        s.check(params.ti is None, "the magnet link should carry no metadata")
        s.check(len(params.peers) == 1, "libtorrent did not read x.pe from the magnet link")
        params.save_path = download
        h = lt_session.add(params)
        s.check(harness.wait_until(lambda: lt_session.pump() is not None and h.status().has_metadata, 30, 0.2),
                "no metadata from hekate after 30 s: " + lt_session.describe(h))
        ti = h.torrent_file()
        s.note("metadata received: %s, %d files, %d pieces" % (ti.name(), ti.num_files(), ti.num_pieces()))
        s.check(str(ti.info_hashes().v1) == ih,
                "metadata of info-hash %s, expected %s" % (ti.info_hashes().v1, ih))
        s.check(bytes(ti.info_section()) == bytes(lt.torrent_info(torrent).info_section()),
                "the info dictionary from hekate differs from the .torrent's")
        lt_session.wait_for_download(h, content, download)
    finally:
        lt_session.close()
    s.stop_hekate()


harness.Scenario("magnet").run(body)

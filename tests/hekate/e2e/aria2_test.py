"""aria2c downloads a trackerless torrent from hekate, which dials it (--peer): aria2 has no
"add this peer" command and the torrent has no announce URL, so hekate must find aria2."""
import os

import harness


def body(s):
    content, torrent = s.seed(announce=None)  # trackerless
    port = harness.free_port(harness.CLIENT_ADDRESS)
    download = s.dir("aria2-download")
    aria2 = s.spawn_aria2(download, port, torrent)
    harness.wait_until(lambda: False, 0.5)  # let aria2 listen; hekate retries anyway
    s.start_hekate(["-t", "--peer", "%s:%d" % (harness.CLIENT_ADDRESS, port)])
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                        watch=[("aria2c", aria2)])
    # With --seed-time=0 aria2 exits by itself once the download is verified.
    s.check_exits_cleanly("aria2c", aria2)
    s.stop_hekate()


harness.Scenario("aria2").run(body)

"""aria2c downloads a trackerless torrent from hekate, which dials it (--peer): aria2 has no
"add this peer" command and the torrent has no announce URL, so hekate must find aria2."""
import os

import harness


def body(s):
    content, torrent = s.seed(announce=None)  # trackerless
    port = harness.free_port(harness.CLIENT_ADDRESS)
    download = s.dir("aria2-download")
    s.add_log("aria2 log", os.path.join(s.root, "aria2.log"))
    aria2 = s.spawn("aria2c", [
        "aria2c", "--no-conf", "--dir=" + download, "--interface=" + harness.CLIENT_ADDRESS,
        "--listen-port=%d" % port, "--enable-dht=false", "--enable-dht6=false",
        "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0",
        "--file-allocation=none", "--summary-interval=0", "--console-log-level=warn",
        "--log=" + os.path.join(s.root, "aria2.log"), "--log-level=info", torrent])
    harness.wait_until(lambda: False, 0.5)  # let aria2 listen; hekate retries anyway
    s.start_hekate(["-t", "--peer", "%s:%d" % (harness.CLIENT_ADDRESS, port)])
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                        watch=[("aria2c", aria2)])
    # With --seed-time=0 aria2 exits by itself once the download is verified.
    s.check(harness.wait_until(lambda: aria2.poll() is not None, 20),
            "aria2c did not exit after completing the download")
    s.check(aria2.returncode == 0, "aria2c exited with status %s" % aria2.returncode)
    s.stop_hekate()


harness.Scenario("aria2").run(body)

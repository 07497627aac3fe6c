"""rtorrent 0.9.8 (daemon mode, set up by an rc file) downloads from hekate, which dials it
(--peer): rtorrent has no "add this peer" command. rtorrent refuses a torrent without an
announce URL, so this one names a tracker on a closed port, and hekate runs with -t."""
import os

import harness


def body(s):
    closed = harness.free_port(harness.CLIENT_ADDRESS)  # nobody listens there
    content, torrent = s.seed(announce="http://%s:%d/announce" % (harness.CLIENT_ADDRESS, closed))
    port = harness.free_port(harness.CLIENT_ADDRESS)
    download = s.dir("rtorrent-download")
    session = s.dir("rtorrent-session")
    log = os.path.join(s.root, "rtorrent.log")
    s.add_log("rtorrent log", log)
    rc = os.path.join(s.root, "rtorrent.rc")
    done = os.path.join(s.root, "rtorrent-finished")
    with open(rc, "w") as f:
        f.write("\n".join([
            "system.daemon.set = true",
            'session.path.set = "%s"' % session,
            'directory.default.set = "%s"' % download,
            "network.port_range.set = %d-%d" % (port, port),
            "network.port_random.set = no",
            "network.bind_address.set = %s" % harness.CLIENT_ADDRESS,
            "dht.mode.set = disable",
            "protocol.pex.set = no",
            "trackers.use_udp.set = no",
            'log.open_file = "main", "%s"' % log,
            'log.add_output = "info", "main"',
            # rtorrent's own verdict: every piece checked against its hash.
            'method.set_key = event.download.finished, e2e_done, "execute.nothrow = touch, \\"%s\\""' % done,
            'load.start_verbose = "%s"' % torrent,
            "",
        ]))
    client = s.spawn("rtorrent", ["rtorrent", "-n", "-o", "import=" + rc], cwd=s.root)
    s.start_hekate(["-t", "--peer", "%s:%d" % (harness.CLIENT_ADDRESS, port)])
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                        watch=[("rtorrent", client)])
    s.check(harness.wait_until(lambda: os.path.exists(done), 10),
            "rtorrent did not report the download finished (event.download.finished)")
    s.stop_hekate()


harness.Scenario("rtorrent").run(body)

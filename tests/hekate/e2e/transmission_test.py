"""Transmission (transmission-cli 3.00) downloads a trackerless torrent from hekate. Transmission
never dials loopback addresses (martians), so hekate dials it (--peer). Transmission does not
create zero-length files: those alone are not required. Transmission declares interest only
about 10 s after the handshake, so this test takes about 15 s."""
import json
import os

import harness


def body(s):
    content, torrent = s.seed(announce=None)
    port = harness.free_port(harness.CLIENT_ADDRESS)
    config = s.dir("transmission-config")
    download = s.dir("transmission-download")
    # Transmission's own verdict: the script it runs once every piece passed its hash check.
    done = os.path.join(s.root, "transmission-finished")
    script = os.path.join(s.root, "transmission-done.sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\ntouch "%s"\n' % done)
    os.chmod(script, 0o755)
    settings = {
        "script-torrent-done-enabled": True,
        "script-torrent-done-filename": script,
        "bind-address-ipv4": harness.CLIENT_ADDRESS,
        "bind-address-ipv6": "::1",
        "peer-port": port,
        "peer-port-random-on-start": False,
        "port-forwarding-enabled": False,
        "dht-enabled": False,
        "lpd-enabled": False,
        "pex-enabled": False,
        "utp-enabled": False,
        "blocklist-enabled": False,
        "rpc-enabled": False,
        "download-dir": download,
        "incomplete-dir-enabled": False,
        "rename-partial-files": True,
        "ratio-limit-enabled": True,
        "ratio-limit": 0,
        "idle-seeding-limit-enabled": True,
        "idle-seeding-limit": 1,
        "speed-limit-down-enabled": False,
        "speed-limit-up-enabled": False,
        "message-level": 2,
    }
    with open(os.path.join(config, "settings.json"), "w") as f:
        json.dump(settings, f, indent=1)
    client = s.spawn("transmission-cli", [
        "transmission-cli", "-g", config, "-w", download, "-p", str(port), "-M", "-B", "-D", "-U",
        torrent])
    # Hekate dials again every 1-5 s until Transmission listens and accepts.
    s.start_hekate(["-t", "--peer", "%s:%d" % (harness.CLIENT_ADDRESS, port)])
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 90,
                        skip_empty=True, watch=[("transmission-cli", client)])
    s.check(harness.wait_until(lambda: os.path.exists(done), 10),
            "Transmission did not run its torrent-done script")
    s.stop_hekate()


harness.Scenario("transmission").run(body)

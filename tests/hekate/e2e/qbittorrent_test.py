"""qBittorrent (qbittorrent-nox 4.5.2) downloads a trackerless torrent from hekate. The torrent
is added through the WebAPI (torrents/add) and hekate is named with torrents/addPeers: qBittorrent
dials hekate, which runs without --peer and without trackers."""
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import harness


class WebApi:
    def __init__(self, port):
        self.base = "http://%s:%d/api/v2/" % (harness.CLIENT_ADDRESS, port)

    def call(self, method, fields=None, files=None, timeout=5):
        url = self.base + method
        headers = {}
        data = None
        if files:
            boundary = uuid.uuid4().hex
            parts = []
            for k, v in (fields or {}).items():
                parts.append(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                             % (boundary.encode(), k.encode(), str(v).encode()))
            for k, (filename, content) in files.items():
                parts.append(b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                             b"Content-Type: application/x-bittorrent\r\n\r\n%s\r\n"
                             % (boundary.encode(), k.encode(), filename.encode(), content))
            parts.append(b"--%s--\r\n" % boundary.encode())
            data = b"".join(parts)
            headers["Content-Type"] = "multipart/form-data; boundary=" + boundary
        elif fields is not None:
            data = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def up(self):
        try:
            return bool(self.call("app/version", timeout=2))
        except (OSError, urllib.error.URLError):
            return False


def body(s):
    content, torrent = s.seed(announce=None)
    ih = harness.info_hash_hex(torrent)
    hekate = s.start_hekate(["-t"])
    port = harness.free_port(harness.CLIENT_ADDRESS)
    webui = harness.free_port(harness.CLIENT_ADDRESS)
    profile = s.dir("qbittorrent-profile")
    download = s.dir("qbittorrent-download")
    config_dir = os.path.join(profile, "qBittorrent", "config")
    os.makedirs(config_dir)
    # Written before the first start: legal notice accepted, DHT/LSD/PeX/UPnP off, no
    # country lookups (no network), WebUI on loopback without authentication.
    with open(os.path.join(config_dir, "qBittorrent.conf"), "w") as f:
        f.write("\n".join([
            "[LegalNotice]",
            "Accepted=true",
            "",
            "[BitTorrent]",
            "Session\\DHTEnabled=false",
            "Session\\LSDEnabled=false",
            "Session\\PeXEnabled=false",
            "Session\\Port=%d" % port,
            "Session\\UseRandomPort=false",
            "Session\\DefaultSavePath=%s" % download,
            "Session\\InterfaceAddress=%s" % harness.CLIENT_ADDRESS,
            "Session\\TempPathEnabled=false",
            "Session\\QueueingSystemEnabled=false",
            "Session\\AnonymousModeEnabled=false",
            "",
            "[Preferences]",
            "Connection\\UPnP=false",
            "Connection\\ResolvePeerCountries=false",
            "Connection\\ResolvePeerHostNames=false",
            "General\\Locale=en",
            "WebUI\\Address=%s" % harness.CLIENT_ADDRESS,
            "WebUI\\Port=%d" % webui,
            "WebUI\\LocalHostAuth=false",
            "WebUI\\UseUPnP=false",
            "WebUI\\CSRFProtection=false",
            "WebUI\\HostHeaderValidation=false",
            "",
        ]))
    client = s.spawn("qbittorrent-nox", ["qbittorrent-nox", "--profile=" + profile,
                                         "--webui-port=%d" % webui])
    api = WebApi(webui)
    s.check(harness.wait_until(lambda: api.up() or client.poll() is not None, 30, 0.2) and client.poll() is None,
            "qBittorrent's WebAPI did not answer on port %d within 30 s" % webui)
    s.note("qBittorrent %s, WebAPI on port %d" % (api.call("app/version"), webui))
    with open(torrent, "rb") as f:
        answer = api.call("torrents/add", {"savepath": download, "paused": "false"},
                          files={"torrents": (os.path.basename(torrent), f.read())})
    s.check(answer.strip() == "Ok.", "torrents/add answered %r" % answer)

    def info():
        listed = json.loads(api.call("torrents/info", {"hashes": ih}))
        return listed[0] if listed else None

    # Peers are added only to a torrent that has finished checking its (empty) files.
    s.check(harness.wait_until(lambda: (info() or {}).get("state") in ("stalledDL", "downloading"), 15, 0.2),
            "the torrent is not downloading: %s" % info())
    # Once: each call would set the peer's uTP flag again, and uTP to hekate times out (3 s)
    # before libtorrent falls back to TCP.
    peer = "%s:%d" % (harness.HEKATE_ADDRESS, hekate.port)
    api.call("torrents/addPeers", {"hashes": ih, "peers": peer})
    s.wait_for_download(content, os.path.join(download, os.path.basename(content)), 60,
                        watch=[("qbittorrent-nox", client)],
                        progress=lambda: json.dumps({k: info().get(k) for k in ("state", "progress", "num_seeds")}))
    s.check(harness.wait_until(lambda: info()["progress"] == 1, 10, 0.2),
            "qBittorrent does not consider the torrent complete: %s" % info())
    s.stop_hekate()


harness.Scenario("qbittorrent").run(body)

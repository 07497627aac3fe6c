"""A libtorrent seeder with a seedbox's settings, for bench/swarm/run (run it with
/usr/bin/python3: Debian's python3-libtorrent 2.0.8 is importable from there only).

    /usr/bin/python3 lt_seed.py TORRENT SAVE_PATH PORT

Starts from libtorrent's high_performance_seed() preset, then: 20,000 connections (libtorrent
caps it below the descriptor limit: 15,984 for 20,000 fds) and a peer list as large, 50 upload
slots (as hekate -N 50 and Transmission's upload-slots-per-torrent), several connections per
address allowed, loopback peers treated as remote ones (see below), no DHT, LSD, UPnP, NAT-PMP
or uTP, and the preset's 20 s peer and inactivity timeouts put back to libtorrent's defaults
(the simulator's choked peers are quiet for longer). The data is checked when the torrent is
added; "ready" is printed once it is seeding. Runs until SIGTERM.
"""
import signal
import sys
import time

import libtorrent as lt


def main():
    torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = lt.high_performance_seed()
    defaults = lt.default_settings()
    settings.update({
        "listen_interfaces": f"127.0.0.1:{port}",
        "connections_limit": 20000,
        "unchoke_slots_limit": 50,
        "allow_multiple_connections_per_ip": True,
        # Its peer list holds 3,000 peers by default; incoming peers past that are refused.
        "max_peerlist_size": 20000,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "peer_timeout": defaults["peer_timeout"],
        "inactivity_timeout": defaults["inactivity_timeout"],
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    ses = lt.session(settings)
    # libtorrent puts loopback and LAN addresses in its "local" peer class, which ignores the
    # unchoke slots (every local peer is unchoked): all peers in the global class instead,
    # as if they came from the Internet.
    classes = lt.ip_filter()
    everyone = 1 << lt.session.global_peer_class_id
    classes.add_rule("0.0.0.0", "255.255.255.255", everyone)
    classes.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", everyone)
    ses.set_peer_class_filter(classes)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    h = ses.add_torrent(params)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    ready = False
    while not stop:
        for a in ses.pop_alerts():
            if a.category() & lt.alert.category_t.error_notification:
                print(f"alert: {a.message()}", flush=True)
        st = h.status()
        if not ready and st.is_seeding:
            ready = True
            print(f"ready: seeding, {st.num_pieces} pieces", flush=True)
        time.sleep(0.2)
    ses.pause()


if __name__ == "__main__":
    main()

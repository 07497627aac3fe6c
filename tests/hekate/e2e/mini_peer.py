"""A minimal BitTorrent peer for hekate's tests: just enough of BEP 3/6/10/9 to download a
torrent and verify it, or to send hekate exactly the bytes a test wants."""
import hashlib
import socket
import struct
import time

CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD, REQUEST, PIECE, CANCEL = range(9)
HAVE_ALL, HAVE_NONE, REJECT, ALLOWED_FAST, EXTENDED = 14, 15, 16, 17, 20
FAST_AND_EXTENSIONS = b"\0\0\0\0\0\x10\0\x04"
PLAIN = b"\0" * 8
BLOCK = 16384


def bdecode(data, i=0):
    """(value, next index). Strings stay bytes; dict keys too."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(v)


class Torrent:
    """What a leecher needs of a .torrent: info-hash, pieces, the raw info dictionary."""

    def __init__(self, path):
        data = open(path, "rb").read()
        top, _ = bdecode(data)
        info = top[b"info"]
        start = data.index(b"4:infod") + len(b"4:info")
        _, end = bdecode(data, start)
        self.info_bytes = data[start:end]
        self.info_hash = hashlib.sha1(self.info_bytes).digest()
        self.piece_length = info[b"piece length"]
        self.hashes = [info[b"pieces"][i:i + 20] for i in range(0, len(info[b"pieces"]), 20)]
        if b"files" in info:
            self.length = sum(f[b"length"] for f in info[b"files"])
        else:
            self.length = info[b"length"]

    def piece_size(self, index):
        return min(self.piece_length, self.length - index * self.piece_length)


class Closed(Exception):
    pass


class Peer:
    def __init__(self, address, port, info_hash, reserved=FAST_AND_EXTENSIONS, timeout=10,
                 handshake=True):
        self.sock = socket.create_connection((address, port), timeout=timeout)
        self.buffer = b""
        self.remote_reserved = None
        if handshake:
            self.send_handshake(info_hash, reserved)
            self.read_handshake()

    def send_handshake(self, info_hash, reserved):
        self.sock.sendall(b"\x13BitTorrent protocol" + reserved + info_hash + b"-PY0001-" +
                          b"0123456789ab")

    def read_handshake(self):
        h = self.read_exact(68)
        self.remote_reserved = h[20:28]
        return h

    def read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("closed by hekate")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, msg_id, payload=b""):
        self.sock.sendall(struct.pack(">IB", len(payload) + 1, msg_id) + payload)

    def send_raw(self, data):
        self.sock.sendall(data)

    def receive(self):
        """(id, payload); (None, b"") for a keep-alive."""
        (length,) = struct.unpack(">I", self.read_exact(4))
        if length == 0:
            return None, b""
        body = self.read_exact(length)
        return body[0], body[1:]

    def wait_for(self, wanted):
        while True:
            msg_id, payload = self.receive()
            if msg_id in wanted:
                return msg_id, payload

    def closed_within(self, seconds):
        """True if hekate closes the connection within `seconds` (reading what it sends)."""
        self.sock.settimeout(seconds)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True
        return False

    def request(self, piece, begin, length, msg_id=REQUEST):
        self.send(msg_id, struct.pack(">III", piece, begin, length))

    def download(self, torrent, pipeline=32):
        """Downloads and verifies every piece; returns the whole byte stream."""
        self.send(INTERESTED)
        self.wait_for({UNCHOKE})
        blocks = [(p, b, min(BLOCK, torrent.piece_size(p) - b))
                  for p in range(len(torrent.hashes))
                  for b in range(0, torrent.piece_size(p), BLOCK)]
        got = {}
        sent = 0
        while len(got) < len(blocks):
            while sent < len(blocks) and sent - len(got) < pipeline:
                self.request(*blocks[sent])
                sent += 1
            msg_id, payload = self.receive()
            if msg_id == PIECE:
                p, b = struct.unpack(">II", payload[:8])
                got[(p, b)] = payload[8:]
            elif msg_id == CHOKE:
                raise Closed("choked during download")
            elif msg_id == REJECT:
                raise Closed("request rejected")
        data = b"".join(got[(p, b)] for p, b, _ in blocks)
        for i, h in enumerate(torrent.hashes):
            piece = data[i * torrent.piece_length:i * torrent.piece_length + torrent.piece_size(i)]
            if hashlib.sha1(piece).digest() != h:
                raise AssertionError("piece %d does not match its hash" % i)
        return data

    def close(self):
        self.sock.close()

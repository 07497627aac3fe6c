"""A SPECweb99-like static file set, the request mix over it, and a warm page cache.

SPECweb99's static workload: directories of 36 files, 9 in each of four classes, class c file
k being (k + 1) * 102.4 * 10^c bytes long (102 bytes to 900 KiB); requests go 35% to class 0
(0.1-0.9 KB), 50% to class 1 (1-9 KB), 14% to class 2 (10-90 KB) and 1% to class 3 (100-900
KB); the directory is drawn from a Zipf distribution (alpha 1) over the directories, and the
file within its class from a Zipf distribution over the 9 files ranked 4, 3, 5, 2, 6, 1, 7, 8, 0
(file 4 the most popular), as SPECweb99 defines it and as the load generator of "SEDA: An
Architecture for Well-Conditioned, Scalable Internet Services" (Welsh, Culler and Brewer, SOSP
2001) implements it: the test suite that Knot's Figure 3 (von Behren et al., "Why Events Are a Bad Idea",
HotOS IX 2003) re-used. The mean response is about 14 KB.

SPECweb99 scales the number of directories with the number of clients (25 + 0.66 c); here it
is fixed for a sweep, so that every client count is served the same set, and small enough to
stay in the page cache, as the paper's "small workload, so there is little disk activity"
(bench/knot-bandwidth/run says what size it picks and why).
"""
import hashlib
import os
from pathlib import Path

CLASS_FREQUENCY = (0.35, 0.50, 0.14, 0.01)
FILES_PER_CLASS = 9
# The files of a class from the most to the least popular.
POPULARITY_ORDER = (4, 3, 5, 2, 6, 1, 7, 8, 0)


def file_size(cls, k):
    """Class `cls`, file `k`: 102, 204, ... 921 bytes for class 0; 1 KiB ... 9 KiB for 1..."""
    return int(102.4 * (k + 1) * 10**cls)


def file_path(d, cls, k):
    return f"/dir{d:05d}/class{cls}_{k}"


def zipf(n):
    """Zipf weights (alpha 1) of ranks 1..n, normalized."""
    w = [1.0 / r for r in range(1, n + 1)]
    total = sum(w)
    return [x / total for x in w]


def file_weights():
    """{k: probability of file k within its class}."""
    by_rank = zipf(FILES_PER_CLASS)
    return {k: by_rank[rank] for rank, k in enumerate(POPULARITY_ORDER)}


def mix(dirs):
    """[(probability, path, size)] of every file of `dirs` directories."""
    dir_w = zipf(dirs)
    file_w = file_weights()
    out = []
    for d in range(dirs):
        for cls, class_w in enumerate(CLASS_FREQUENCY):
            for k in range(FILES_PER_CLASS):
                out.append((dir_w[d] * class_w * file_w[k], file_path(d, cls, k),
                            file_size(cls, k)))
    return out


def mean_response_bytes(dirs):
    return sum(p * size for p, _, size in mix(dirs))


def set_bytes(dirs):
    return dirs * sum(file_size(c, k) for c in range(4) for k in range(FILES_PER_CLASS))


def _block():
    """1 MiB of SHA-256 output: the files are cut from it, each at its own offset, so that no
    two files are alike and making them costs no more than writing them."""
    block = bytearray()
    counter = 0
    while len(block) < 1 << 20:
        block += hashlib.sha256(counter.to_bytes(8, "little")).digest()
        counter += 1
    return bytes(block)


def make(root, dirs):
    """Writes the file set under `root` (made, world-readable: h2o reads it as www-data) and
    the request mix as `root`/../urls.txt, lines "WEIGHT PATH BYTES" for loadgen --urls.
    Returns the path of the URL list."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    block = _block()
    for d in range(dirs):
        sub = root / f"dir{d:05d}"
        sub.mkdir(exist_ok=True)
        os.chmod(sub, 0o755)
        for cls in range(4):
            for k in range(FILES_PER_CLASS):
                size = file_size(cls, k)
                path = sub / f"class{cls}_{k}"
                start = (d * 36 + cls * 9 + k) * 4099 % (len(block) - size)
                path.write_bytes(block[start:start + size])
                os.chmod(path, 0o644)
    urls = root.parent / "urls.txt"
    with open(urls, "w") as f:
        f.write("# WEIGHT PATH BYTES: SPECweb99-like mix over "
                f"{dirs} directories (bench/knot-bandwidth/fileset.py)\n")
        for p, path, size in mix(dirs):
            f.write(f"{p:.12g} {path} {size}\n")
    return urls


def prewarm(root):
    """Reads every file once, so that the page cache holds the set before the first point.
    Returns the bytes read."""
    total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
    return total

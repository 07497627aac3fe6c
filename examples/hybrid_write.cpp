// hybrid_write: Figure 3 of the paper, sending a region of a memory-mapped file.
//
// Writing from a mapped file to a socket touches the file's pages; a page that is not in
// memory makes the kernel read the disk, and the whole loop waits for it. A thread pool would
// avoid that, but costs a kernel-thread round trip on every send, although nearly all sends
// find their data cached. Hekate does both (paper, section 5):
//
//     prefetch(source, length);              /* (1) madvise(MADV_WILLNEED): start reading */
//     cpc_yield();                           /* (2) let other clients run meanwhile      */
//     if(!incore(source, length)) {          /* (3) mincore: is it all in memory now?    */
//         cpc_yield();                       /* (4) give the disk a little more time     */
//         if(!incore(source, length)) {      /* (5)                                      */
//             cpc_detached {                 /* (6) still not: block on a pool thread    */
//                 rc = cpc_write(fd, source, length);
//             }
//             goto done;
//         }
//     }
//     rc = cpc_write(fd, source, length);    /* (7) cached: write from the loop          */
//
// The cheap case stays on the loop; only a chunk that really waits for the disk pays for a
// kernel thread. Inside the detached block cpc::write simply blocks, as CPC's wrappers do.
//
// The program sends a file (by default a generated 8 MiB one, deleted at the end) in chunks
// over a socket pair, once per strategy (auto as above, always on the loop, always
// detached), to a reader thread on the loop that checks every byte.
//
// Usage: hybrid_write [--file PATH] [--chunk-kib K]   (checks itself; exits 0 on success)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

const std::size_t page_size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

// madvise and mincore want page-aligned addresses: round the region out to whole pages.
struct page_span {
    void* start;
    std::size_t length;
};
page_span pages_of(const char* p, std::size_t len) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t first = addr & ~(page_size - 1);
    const std::uintptr_t end = (addr + len + page_size - 1) & ~(page_size - 1);
    return {reinterpret_cast<void*>(first), end - first};
}

// (1) Asks the kernel to start reading the pages in, without waiting for them.
void prefetch(const char* p, std::size_t len) {
    const page_span s = pages_of(p, len);
    ::madvise(s.start, s.length, MADV_WILLNEED);
}

// (3) True when every page of the region is in memory: writing it will not touch the disk.
bool incore(const char* p, std::size_t len) {
    const page_span s = pages_of(p, len);
    std::vector<unsigned char> vec(s.length / page_size);
    if (::mincore(s.start, s.length, vec.data()) != 0) return false;  // unknown: be careful
    for (unsigned char v : vec) {
        if (!(v & 1)) return false;
    }
    return true;
}

enum class strategy { automatic, loop, detached };

struct path_counts {
    std::size_t on_loop = 0;
    std::size_t detached = 0;
};

// Writes len bytes from a pool thread: the kernel thread blocks, the loop does not.
// This is cpc_detached spelled with attach (Figure 2b), because the body is itself cps code
// (cpc::write); cpc::detached(f) takes a native callable instead, e.g.
//     co_await cpc::detached([&] { return ::write(fd, source, length); });
cpc::task<cpc::io_result> write_detached(int fd, const char* source, std::size_t length) {
    cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
    // On a pool thread cpc::write blocks (waiting with poll() when the socket is full).
    const cpc::io_result rc = co_await cpc::write(fd, source, length);
    co_await cpc::attach(home);  // back on the loop before returning, as cpc_detached does
    co_return rc;
}

// Figure 3.
cpc::task<cpc::io_result> send_chunk(int fd, const char* source, std::size_t length, strategy s,
                                     path_counts& paths) {
    if (s == strategy::automatic) {
        prefetch(source, length);  // (1)
        co_await cpc::yield();     // (2)
        if (!incore(source, length)) {
            co_await cpc::yield();                                // (4)
            if (!incore(source, length)) s = strategy::detached;  // (5)
        }
        if (s == strategy::automatic) s = strategy::loop;
    }
    if (s == strategy::detached) {
        ++paths.detached;
        co_return co_await write_detached(fd, source, length);  // (6)
    }
    ++paths.on_loop;
    co_return co_await cpc::write(fd, source, length);  // (7)
}

// ---- the demonstration -------------------------------------------------------------

struct demo {
    const char* map = nullptr;
    std::size_t size = 0;
    std::size_t chunk = 1024 * 1024;
    int failures = 0;
    example::watchdog dog;
};

// Sends the whole mapping in chunks.
cpc::task<void> sender(demo& d, int fd, strategy s, path_counts& paths, bool& ok) {
    for (std::size_t off = 0; ok && off < d.size; off += d.chunk) {
        const std::size_t n = std::min(d.chunk, d.size - off);
        const cpc::io_result r = co_await send_chunk(fd, d.map + off, n, s, paths);
        ok = r && r.bytes == n;
    }
    ::shutdown(fd, SHUT_WR);  // end of file for the reader
}

// Reads everything and compares it with the file: a second cooperative thread on the loop,
// running while the sender waits (for the socket, or for its detached write).
cpc::task<void> receiver(demo& d, int fd, bool& ok) {
    std::vector<char> buf(256 * 1024);
    std::size_t got = 0;
    for (;;) {
        std::optional<cpc::io_result> r =
            co_await cpc::with_timeout(10s, cpc::read(fd, buf.data(), buf.size()));
        if (!r || !*r) {
            ok = false;
            break;
        }
        if (r->bytes == 0) break;
        if (got + r->bytes > d.size || std::memcmp(buf.data(), d.map + got, r->bytes) != 0) {
            ok = false;
            break;
        }
        got += r->bytes;
    }
    ok = ok && got == d.size;
}

cpc::task<void> run_demo(demo& d) {
    struct pass {
        strategy s;
        const char* label;
        bool warm;  // every page was read by an earlier pass
    };
    // "auto" twice: cold (the file was just pushed out of the page cache, if the file system
    // allows it) and warm (the "loop" pass has read every page since).
    const pass passes[] = {{strategy::automatic, "auto, cold", false},
                           {strategy::loop, "loop", false},
                           {strategy::automatic, "auto, warm", true},
                           {strategy::detached, "detached", true}};
    for (const auto& [s, label, warm] : passes) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
            ++d.failures;
            break;
        }
        path_counts paths;
        bool sent_ok = true;
        bool received_ok = true;
        // Two threads of a task_group: we wait for both before the next strategy.
        cpc::task_group group;
        group.spawn(sender(d, sv[0], s, paths, sent_ok));
        group.spawn(receiver(d, sv[1], received_ok));
        co_await group.join();
        cpc::close(sv[0]);
        cpc::close(sv[1]);
        std::printf("%-10s  %zu chunks written on the loop, %zu from a detached thread\n", label,
                    paths.on_loop, paths.detached);
        bool ok = example::check(sent_ok && received_ok, "every byte arrived intact");
        if (s == strategy::loop) ok &= example::check(paths.detached == 0, "never detached");
        if (s == strategy::detached) ok &= example::check(paths.on_loop == 0, "always detached");
        if (s == strategy::automatic && warm) {
            ok &= example::check(paths.detached == 0, "cached data is written from the loop");
        }
        if (!ok) ++d.failures;
    }
    d.dog.finish();
}

// A file of `size` bytes with a recognisable pattern, deleted once mapped.
int make_temp_file(std::size_t size) {
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/cpc-hybrid-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) return -1;
    ::unlink(path.c_str());  // the open fd (and then the mapping) keep it alive
    std::vector<char> block(64 * 1024);
    for (std::size_t off = 0; off < size; off += block.size()) {
        for (std::size_t i = 0; i < block.size(); ++i) {
            block[i] = static_cast<char>((off + i) * 2654435761u >> 24);
        }
        const std::size_t n = std::min(block.size(), size - off);
        if (::write(fd, block.data(), n) != static_cast<ssize_t>(n)) {
            ::close(fd);
            return -1;
        }
    }
    // Push the pages out of the cache if the file system lets us, so that "auto" may meet
    // pages that are not in memory (on tmpfs they always are).
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    demo d;
    const char* file = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--file" && i + 1 < argc) {
            file = argv[++i];
        } else if (a == "--chunk-kib" && i + 1 < argc) {
            d.chunk = 1024 * static_cast<std::size_t>(
                                 example::parse_long(argv[++i], 4, 65536, "chunk size"));
        } else {
            std::printf("usage: %s [--file PATH] [--chunk-kib K]\n", argv[0]);
            return a == "--help" ? 0 : 2;
        }
    }
    const int fd = file ? ::open(file, O_RDONLY | O_CLOEXEC) : make_temp_file(8 * 1024 * 1024);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
        std::fprintf(stderr, "cannot use %s\n", file ? file : "a temporary file");
        return 1;
    }
    d.size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, d.size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file
    if (map == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    d.map = static_cast<const char*>(map);
    std::printf("sending %zu bytes in %zu KiB chunks; %s in memory at start\n", d.size,
                d.chunk / 1024, incore(d.map, d.size) ? "all" : "not all");

    cpc::spawn(d.dog.run(30s));
    cpc::spawn(run_demo(d));
    const cpc::run_result r = cpc::main_loop();
    ::munmap(map, d.size);
    bool ok = d.failures == 0;
    ok &= example::check(r.blocked_threads == 0, "no thread left blocked");
    return ok ? 0 : 1;
}

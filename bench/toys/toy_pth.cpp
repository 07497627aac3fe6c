// toy-pth: a GNU Pth user thread per connection (Pth 2.0.7, libpth-dev).
//
// Pth threads are cooperative and switch when they would block: pth_accept, pth_read and
// pth_write wait for readiness in Pth's scheduler. It is built on select(2), so it cannot wait
// on descriptors from FD_SETSIZE (1024) up: pth_read fails with EBADF there and the toy drops
// the connection, so above about a thousand connections at once some requests fail. Threads
// are spawned detached with Pth's default stack (64 KiB). SIGTERM and SIGINT keep their
// default action and end the process at once.
#include <pth.h>
#include <signal.h>

#include <cstdint>

#include "toy_page.hpp"

namespace {

// Reads the request up to the end of its headers, answers with the page, closes.
void* serve(void* arg) {
    const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    char buf[toy::kRequestMax];
    std::size_t len = 0;
    bool complete = false;
    while (!complete && len < sizeof buf) {
        const ssize_t n = pth_read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        complete = toy::request_complete(buf, len, len + static_cast<std::size_t>(n));
        len += static_cast<std::size_t>(n);
    }
    for (std::size_t off = 0; complete && off < toy::kResponse.size();) {
        const ssize_t n = pth_write(fd, toy::kResponse.data() + off, toy::kResponse.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (!pth_init()) toy::die("pth_init");
    // Pth writes to connections the client may have closed: EPIPE, not a fatal SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    const int listen_fd = toy::listen_from_args(argc, argv, false);
    pth_attr_t attr = pth_attr_new();
    pth_attr_set(attr, PTH_ATTR_JOINABLE, FALSE);
    for (;;) {
        const int fd = pth_accept(listen_fd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) pth_usleep(10000);  // out of fds: back off
            continue;
        }
        if (!pth_spawn(attr, serve, reinterpret_cast<void*>(std::intptr_t{fd}))) ::close(fd);
    }
}

// toy-nptl: a kernel thread per connection (NPTL), created detached with the default
// attributes (the default stack: 8 MiB of address space, touched only as used).
//
// Blocking sockets, blocking calls: the kernel schedules the threads. SIGTERM and SIGINT keep
// their default action and end the process at once (connections in flight are cut).
#include <pthread.h>

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
        const ssize_t n = ::read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        complete = toy::request_complete(buf, len, len + static_cast<std::size_t>(n));
        len += static_cast<std::size_t>(n);
    }
    for (std::size_t off = 0; complete && off < toy::kResponse.size();) {
        const ssize_t n =
            ::send(fd, toy::kResponse.data() + off, toy::kResponse.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    const int listen_fd = toy::listen_from_args(argc, argv, false);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) ::usleep(10000);  // out of fds: back off
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, &attr, serve, reinterpret_cast<void*>(std::intptr_t{fd})) != 0)
            ::close(fd);  // no thread (EAGAIN): drop the connection
    }
}

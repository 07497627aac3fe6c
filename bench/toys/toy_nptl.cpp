// toy-nptl: a kernel thread per connection (NPTL), created detached with the default
// attributes (the default stack: 8 MiB of address space, touched only as used).
//
// Blocking sockets, blocking calls: the kernel schedules the threads. SIGTERM and SIGINT keep
// their default action and end the process at once (connections in flight are cut).
#include <pthread.h>

#include <cstdint>

#include "toy_page.hpp"

namespace {

// The thread: serves one connection (toy::serve_blocking).
void* serve(void* arg) {
    toy::serve_blocking(static_cast<int>(reinterpret_cast<std::intptr_t>(arg)));
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

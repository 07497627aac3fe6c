// toy-fork: a Unix process per connection, created with fork(2).
//
// The parent accepts, forks and closes its copy of the connection; the child serves it and
// exits. SIGCHLD is ignored, so the kernel reaps the children and no zombie piles up. SIGTERM
// and SIGINT keep their default action and end the listening process at once.
#include <signal.h>

#include "toy_page.hpp"

int main(int argc, char** argv) {
    const int listen_fd = toy::listen_from_args(argc, argv, false);
    ::signal(SIGCHLD, SIG_IGN);
    for (;;) {
        const int fd = ::accept4(listen_fd, nullptr, nullptr, 0);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) ::usleep(10000);  // out of fds: back off
            continue;
        }
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(listen_fd);
            toy::serve_blocking(fd);
            ::_exit(0);
        }
        // In the parent, and also when fork failed (EAGAIN): the connection is the child's
        // or dropped.
        ::close(fd);
    }
}

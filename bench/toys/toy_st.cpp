// toy-st: a State Threads user thread per connection (ST 1.9, libst-dev).
//
// ST threads are cooperative and switch when they would block: st_accept, st_read and st_write
// wait for readiness in ST's scheduler, on epoll when the library has it and on poll otherwise
// (Debian's; the default, select, would stop at FD_SETSIZE). Threads are created detached with ST's
// default stack (64 KiB, reused from a free list). SIGTERM and SIGINT keep their default action and
// end the process at once.
#include <signal.h>
#include <st.h>

#include "toy_page.hpp"

namespace {

// Reads the request up to the end of its headers, answers with the page, closes.
void* serve(void* arg) {
    st_netfd_t conn = static_cast<st_netfd_t>(arg);
    char buf[toy::kRequestMax];
    std::size_t len = 0;
    bool complete = false;
    while (!complete && len < sizeof buf) {
        const ssize_t n = st_read(conn, buf + len, sizeof buf - len, ST_UTIME_NO_TIMEOUT);
        if (n <= 0) break;  // st_read retries EINTR itself
        complete = toy::request_complete(buf, len, len + static_cast<std::size_t>(n));
        len += static_cast<std::size_t>(n);
    }
    // st_write writes everything (or fails).
    if (complete) st_write(conn, toy::kResponse.data(), toy::kResponse.size(), ST_UTIME_NO_TIMEOUT);
    st_netfd_close(conn);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    // First, so that the descriptor limit is raised before st_init reads it.
    const int listen_fd = toy::listen_from_args(argc, argv, false);
    // epoll if this ST has it. Debian's ST 1.9 is built without: st_set_eventsys(ALT) then
    // succeeds but sets nothing, and ST would use select, which refuses descriptors from
    // FD_SETSIZE (1024) up. poll has no such limit.
    if (st_set_eventsys(ST_EVENTSYS_ALT) != 0 || st_get_eventsys() != ST_EVENTSYS_ALT)
        st_set_eventsys(ST_EVENTSYS_POLL);
    if (st_init() != 0) toy::die("st_init");
    ::signal(SIGPIPE, SIG_IGN);  // a client that went away is EPIPE, not the end of the server
    st_netfd_t listener = st_netfd_open_socket(listen_fd);  // makes it non-blocking
    if (!listener) toy::die("st_netfd_open_socket");
    for (;;) {
        st_netfd_t conn = st_accept(listener, nullptr, nullptr, ST_UTIME_NO_TIMEOUT);
        if (!conn) {
            if (errno == EMFILE || errno == ENFILE) st_usleep(10000);  // out of fds: back off
            continue;
        }
        if (!st_thread_create(serve, conn, 0, 0)) st_netfd_close(conn);
    }
}

// toy-cpc: a cpc thread per connection, on one event loop (this project's runtime).
//
// The listening thread is Figure 1 of the CPC paper: cpc::accept, then cpc::spawn a thread
// for the client. Each thread reads with cpc::read and answers with cpc::write, which wait
// with io_wait on the loop when the kernel says EAGAIN. SIGTERM and SIGINT are received by a
// thread of their own (cpc::signal_watch): it stops the listening thread, the connections in
// flight finish, main_loop returns and the process exits with status 0.
#include <signal.h>

#include <cpc/cpc.hpp>

#include "toy_page.hpp"

namespace {

cpc::condvar stop;  // signalled once, to end the listening thread
bool stopping = false;

// Reads the request up to the end of its headers, answers with the page, closes.
cpc::task<void> serve(int fd) {
    char buf[toy::kRequestMax];
    std::size_t len = 0;
    bool complete = false;
    while (!complete && len < sizeof buf) {
        const cpc::io_result r = co_await cpc::read(fd, buf + len, sizeof buf - len);
        if (!r || r.bytes == 0) break;
        complete = toy::request_complete(buf, len, len + r.bytes);
        len += r.bytes;
    }
    if (complete) {
        const cpc::io_result w =
            co_await cpc::write(fd, toy::kResponse.data(), toy::kResponse.size());
        (void)w;  // nothing to do about a client that went away
    }
    cpc::close(fd);
}

cpc::task<void> listening(int listen_fd) {
    while (!stopping) {
        const cpc::accept_result a = co_await cpc::accept(listen_fd, nullptr, nullptr, &stop);
        if (a) {
            cpc::spawn(serve(a.fd));
        } else if (a.error == std::errc::too_many_files_open ||
                   a.error == std::errc::too_many_files_open_in_system) {
            const bool slept = co_await cpc::sleep(std::chrono::milliseconds(10), &stop);
            (void)slept;  // out of fds: back off
        }
    }
    cpc::close(listen_fd);
}

// Waits for SIGTERM or SIGINT, then stops the listening thread.
cpc::task<void> on_signal(cpc::signal_watch& signals) {
    const int sig = co_await signals.next();
    (void)sig;
    stopping = true;
    stop.signal_all();
    signals.release();
}

}  // namespace

int main(int argc, char** argv) {
    // Before any kernel thread exists, so that every thread inherits the signal mask.
    cpc::signal_watch signals({SIGTERM, SIGINT});
    const int listen_fd = toy::listen_from_args(argc, argv, true);
    cpc::spawn(on_signal(signals));
    cpc::spawn(listening(listen_fd));
    cpc::main_loop();
    return 0;
}

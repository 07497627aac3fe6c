// The listening thread: the two accept policies of the Knot server, and what it does when
// the connections are at their cap or the descriptors run out.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cpc/cpc.hpp>

#include "common/log.hpp"
#include "server.hpp"

namespace httpd {

using namespace std::chrono_literals;

// The two policies of the Knot server (paper, section 5), as the listener's loop:
//
//   active (Knot-C, favour active connections): after each accepted connection the
//     listener waits for the listening socket to be readable again (on io_uring: for an
//     accept operation, with no accept4 of its own, cpc::accept_expecting_wait). Only the
//     loop's next look at the kernel can say so, and the loop looks only once it has run the
//     threads already in its run queue, so the listener takes at most one connection per
//     pass of the event loop: between two accepts every runnable connection thread runs once, and
//     those whose data arrived are woken by the same look. When the server is saturated, new
//     connections wait in the backlog: the natural throttling the paper describes.
//     (It used to sleep 0 s instead, which made every accept cost a look at the kernel of
//     its own, epoll_pwait2 with timeout 0, besides the loop's: bench/crossings measured
//     1.2 epoll waits and 1.2 accept4 per one-request connection, 1.0 and 1.0 now.)
//   accept (Knot-A, favour accepting): the listener accepts in a tight loop. cpc::accept
//     returns without suspending while accept4 succeeds, so every pending connection is
//     taken (and its thread spawned) before any connection thread runs; only when the
//     backlog is empty does the listener wait, and the connection threads get the loop:
//     more connections in progress at once (higher internal concurrency, as in Haboob).
cpc::task<void> server::listener() {
    std::chrono::milliseconds backoff{0};
    bool reported = false;
    bool one_per_pass = false;  // a connection was just taken under the active policy
    while (!stopping_) {
        if (live_ >= max_connections_) {
            // Full: wait for a connection to close (bounded, so that nothing waits forever).
            listener_waits_for_descriptor_ = true;
            co_await cpc::sleep(1s, &listener_wake_);
            listener_waits_for_descriptor_ = false;
            continue;
        }
        sockaddr_in6 peer{};
        socklen_t peer_len = sizeof peer;
        auto* peer_addr = reinterpret_cast<sockaddr*>(&peer);
        const bool shared = cfg_.shared_listen_fd >= 0;
        cpc::accept_result a;
        if (one_per_pass) {
            a = co_await cpc::accept_expecting_wait(listen_fd_, peer_addr, &peer_len,
                                                    &listener_wake_, shared);
        } else {
            a = co_await cpc::accept(listen_fd_, peer_addr, &peer_len, &listener_wake_, shared);
        }
        one_per_pass = false;
        if (!a) {
            if (a.error == std::errc::operation_canceled) continue;  // stop()
            // Out of descriptors (EMFILE, ENFILE) or kernel memory: the connection waits in
            // the backlog and the socket stays readable, so retrying at once would spin.
            // Sleep with a growing delay; a connection that closes wakes the listener early.
            backoff = std::clamp(backoff * 2, std::chrono::milliseconds{10},
                                 std::chrono::milliseconds{1000});
            if (!reported) {
                app_log::warn("accept: {} ({} connections); backing off", a.error.message(), live_);
                reported = true;
            }
            listener_waits_for_descriptor_ = true;
            co_await cpc::sleep(backoff, &listener_wake_);
            listener_waits_for_descriptor_ = false;
            continue;
        }
        backoff = std::chrono::milliseconds{0};
        reported = false;
        ++stats_.accepted;
        cpc::spawn(serve(a.fd, peer));
        // Knot-C waits for the loop's next look at the kernel before the next accept.
        one_per_pass = cfg_.policy == accept_policy::active;
    }
    // New connections are refused from now on (a shared socket: once its last server stops).
    if (cfg_.shared_listen_fd < 0) cpc::close(listen_fd_);
    listen_fd_ = -1;
}

}  // namespace httpd

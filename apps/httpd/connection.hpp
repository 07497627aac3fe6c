// Internal to the server (connection.cpp, file_serving.cpp, shutdown.cpp): a connection's
// state, and what answering one request did to it.
#pragma once

#include <netinet/in.h>

#include <cpc/cpc.hpp>
#include <cstdint>

#include "server.hpp"

namespace httpd {

// A connection's state for its whole life: it lives in its thread's frame.
struct server::connection {
    connection(server& s, int f, const sockaddr_in6& p) : srv(s), fd(f), peer(p) {
        next = s.connections_;
        if (next) next->prev = this;
        s.connections_ = this;
        ++s.live_;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        // The loop forgets fd before its number is reused. The close goes to the kernel with
        // the loop's next batch (io_uring), unless a listener short of descriptors waits for
        // this one: it must be free before the listener tries again.
        if (srv.listener_waits_for_descriptor_) {
            cpc::close(fd);
        } else {
            cpc::close_batched(fd);
        }
        if (prev) prev->next = next;
        if (next) next->prev = prev;
        if (srv.connections_ == this) srv.connections_ = next;
        --srv.live_;
        // A descriptor is free: a listener that waits for one retries.
        if (srv.listener_waits_for_descriptor_) srv.listener_wake_.signal();
        if (srv.stopping_ && srv.live_ == 0) srv.all_gone_.signal_all();
    }
    void hang_up() {
        closing = true;
        hangup.signal_all();
    }

    server& srv;
    const int fd;
    sockaddr_in6 peer;
    connection* prev = nullptr;
    connection* next = nullptr;
    cpc::condvar hangup;   // cuts every wait of this connection short
    bool idle = true;      // waiting for a request: closed at once by stop()
    bool closing = false;  // hung up: no further wait
    bool nodelay = false;  // TCP_NODELAY set (send_file sets it on its first use)
};

// What answering one request did: what the access log records, and whether the connection
// stays open.
struct server::outcome {
    int status = 0;
    std::uint64_t bytes = 0;  // body bytes sent
    bool keep_alive = false;
};

}  // namespace httpd

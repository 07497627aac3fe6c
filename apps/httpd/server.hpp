// The server: a listening thread, one cooperative thread per connection, the page cache.
//
// Written in plain threaded style: a connection's thread reads a request, answers it, and
// loops while the connection is kept alive. What makes it cheap is the runtime's idioms:
//
//   - An idle connection is a thread waiting in io_wait under a with_timeout: a few
//     hundred bytes of frames and no buffer. The request buffer (and the parser) is
//     taken only once io_wait says bytes are there, and given back when the connection
//     goes idle again, so idle keep-alive connections cost almost nothing. A new
//     connection reads at once instead, since its request has usually arrived with it,
//     and waits like an idle one (without the buffer) only when nothing is there yet.
//   - A connection for one request of a cached file costs four system calls of its own
//     (accept4, read, writev, close) and no allocation: request buffers are recycled, the
//     response is prebuilt but for its Date and Connection lines (formatted once a
//     second), deadlines are armed only when a read or a write has to wait, and the
//     lingering close (shutdown, then reading until the client closes) is kept for
//     connections whose client may still be sending (see handle_request).
//   - Every wait has a bound: the header timeout (the whole head of a request, against
//     slowloris clients; for a new connection it counts from the accept), the keep-alive
//     timeout (between requests), a send timeout (for each write of a response: a client
//     that stops reading is dropped), and a condvar per connection that cuts any of its
//     waits short at shutdown.
//   - Accepting never spins: when descriptors run out (EMFILE/ENFILE) the listener sleeps
//     with a growing delay, and a connection that closes wakes it at once; before that,
//     it stops accepting when the connection count reaches a cap derived from
//     RLIMIT_NOFILE, keeping descriptors for the files that the open connections serve.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cpc/cpc.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "access_log.hpp"
#include "http_request.hpp"
#include "page_cache.hpp"
#include "path_resolver.hpp"

namespace httpd {

// Which of the Knot server's two accept policies the listener follows (accept_loop.cpp tells
// how each is realised).
enum class accept_policy {
    active,  // Knot-C: favour active connections; one accept per pass of the loop
    accept,  // Knot-A: favour accepting; take every pending connection before serving
};

struct server_config {
    std::string root = ".";
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 8080;
    int backlog = 511;
    accept_policy policy = accept_policy::active;
    std::size_t cache_size = 16 * 1024 * 1024;  // page cache capacity in bytes
    std::size_t cache_file_max = 64 * 1024;     // larger files are read from disk as they go
    // Larger files with sendfile(2), from the kernel's page cache without a copy. The kernel
    // then sends the file's pages by reference: a file truncated in place while it is sent
    // reaches the client with zeros where its bytes were (measured: tests/httpd "disk"
    // group), even a response whose length is whole. Off: the bytes go through a buffer,
    // and a response carries the file's bytes as they were read, or stops short.
    bool sendfile = false;
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds keepalive_timeout{15'000};
    std::chrono::milliseconds send_timeout{30'000};
    std::chrono::milliseconds shutdown_grace{2'000};
    std::size_t max_connections = 0;  // 0: from RLIMIT_NOFILE (this server's share of it)
    // Several servers of one process listen on the same port (one per loop, server_group):
    // the socket is bound with SO_REUSEPORT and the kernel spreads connections over them.
    bool reuse_port = false;
    // Several servers of one process accept on one socket (server_group's shared listener):
    // this server uses that fd instead of opening one, accepts with cpc::exclusive waits, and
    // leaves closing it to whoever opened it. -1: the server opens and closes its own.
    int shared_listen_fd = -1;
    // How many servers share the process's descriptors: each takes this share of the
    // RLIMIT_NOFILE-derived connection cap.
    unsigned descriptor_shares = 1;
    std::string access_log;  // empty: no log; "-": stdout
    request_limits limits;
};

// Counters, for tests and curious operators.
struct server_stats {
    std::uint64_t accepted = 0;                    // connections accepted
    std::uint64_t responses = 0;                   // responses sent (or attempted)
    std::uint64_t accepted_at_first_response = 0;  // how many were accepted when one was sent
};

// Opens cfg's listening socket (non-blocking, bound to bind_address:port, SO_REUSEPORT if
// cfg.reuse_port) into *fd and the port it got into *port. Returns an error message, empty on
// success.
std::string open_listener(const server_config& cfg, int* fd, std::uint16_t* port);

class server {
  public:
    explicit server(server_config cfg);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    // Opens the document root, the access log and the listening socket. Returns an error
    // message, empty on success.
    std::string start();
    std::uint16_t port() const noexcept { return port_; }
    std::size_t max_connections() const noexcept { return max_connections_; }

    // The listening thread: spawn it, then run the loop.
    cpc::task<void> listener();

    // Stops accepting, closes idle connections at once, lets requests in progress finish
    // for at most the shutdown grace, then hangs up whoever is left. main_loop returns when
    // every connection is gone.
    void stop();

    const page_cache& cache() const noexcept { return cache_; }
    const server_stats& stats() const noexcept { return stats_; }

  private:
    // The definitions are spread by job: start() and the life of the server in server.cpp,
    // listener() in accept_loop.cpp, stop() in shutdown.cpp, and the rest as marked.
    struct connection;     // connection.hpp
    struct request_state;  // request_state.hpp
    struct outcome;        // connection.hpp
    // Gives a request state back to its server's spares (or frees it). request_state.cpp
    struct recycle_state {
        void operator()(request_state* st) const noexcept;
    };
    using request_state_ptr = std::unique_ptr<request_state, recycle_state>;
    request_state_ptr new_request_state();

    // A connection: connection.cpp.
    cpc::task<void> serve(int fd, sockaddr_in6 peer);
    request_state_ptr read_at_once(connection& c);
    cpc::task<bool> handle_request(connection& c, request_state& st, std::int64_t head_deadline);
    cpc::task<int> read_request(connection& c, request_state& st);
    cpc::task<outcome> send_error(connection& c, int status, bool head_only,
                                  std::string_view extra = {});
    cpc::task<bool> send_all(connection& c, const iovec* iov, int n);
    cpc::task<void> linger_close(connection& c);
    void log(const connection& c, std::string_view request_line, int status, std::uint64_t bytes);

    // Answering with a file: file_serving.cpp.
    cpc::task<outcome> respond(connection& c, const request& req);
    cpc::task<outcome> respond_from_disk(connection& c, const request& req, const decoded_target& t,
                                         const std::string& key, std::int64_t now);
    cpc::task<outcome> send_cached(connection& c, const request& req,
                                   std::shared_ptr<const cached_file> f);
    // A file over cache_file_max, in chunks (config's sendfile says how). A file that ends
    // before the length its head promised (truncated meanwhile), or cannot be read, closes
    // the connection short and is reported with path (relative to the root).
    cpc::task<outcome> send_file(connection& c, const request& req, int file_fd,
                                 const struct stat& st, std::string_view mime,
                                 std::string_view path);

    // Stopping: shutdown.cpp.
    cpc::task<void> shutdown_deadline();

    server_config cfg_;
    document_root root_;
    page_cache cache_;
    server_stats stats_;
    access_log log_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::size_t max_connections_ = 0;
    bool stopping_ = false;
    std::size_t live_ = 0;               // connection threads
    connection* connections_ = nullptr;  // intrusive list of the live connections
    cpc::condvar listener_wake_;         // a descriptor is free (see below), or stop()
    // The listener sleeps until a descriptor is free (full, or backing off after EMFILE): only
    // then does a closing connection wake it. Waking it for every close would make it try
    // accept4 (in vain, or without the look at the kernel between two accepts that the
    // active policy promises).
    bool listener_waits_for_descriptor_ = false;
    cpc::condvar all_gone_;  // the last connection ended after stop()
    std::vector<std::unique_ptr<request_state>> spare_states_;  // freed, for the next requests
};

}  // namespace httpd

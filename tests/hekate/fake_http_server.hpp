// A fake HTTP server for hekate's unit tests, and the loopback listening socket under it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hekate::test {

// A TCP socket listening on 127.0.0.1 at a port the kernel chose, which it stores in `port`.
// `flags` are added to the socket type (SOCK_CLOEXEC is always there): SOCK_NONBLOCK for a
// socket served on the loop. Throws std::runtime_error when it cannot listen.
inline int listen_loopback(std::uint16_t& port, int flags = 0, int backlog = 8) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port = ntohs(a.sin_port);
    return fd;
}

// The query part of the request line of an HTTP head (what follows '?' up to the next space).
inline std::string query_of(const std::string& head) {
    const std::size_t q = head.find('?');
    const std::size_t end = head.find(' ', q);
    return head.substr(q + 1, end - q - 1);
}

// What the fake server answers to one request, `delay` after it has read the head.
struct canned {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};
};

// An HTTP server on 127.0.0.1 (a port the kernel chose) run by a kernel thread of its own,
// one connection at a time: it reads a request head (up to the blank line; no body), records
// it with its arrival time, asks the handler what to answer, waits the answer's delay, sends
// the status and body with `Connection: close` and closes the connection.
//
// The handler gets the request's index (0, 1, ... in order of arrival) and its head; it is
// called on the server's thread only, one request at a time. The accessors may be called
// from any thread while the server runs. The destructor cuts a delay short, joins the thread
// and closes the listening socket; connections still waiting to be accepted are not answered.
class fake_http_server {
  public:
    using clock = std::chrono::steady_clock;
    using handler = std::function<canned(int index, const std::string& head)>;
    struct request {
        std::string head;
        std::string query;  // query_of(head)
        clock::time_point at;
    };

    explicit fake_http_server(handler h) : handler_(std::move(h)) {
        fd_ = listen_loopback(port_);
        thread_ = std::thread([this] { loop(); });
    }
    // Always answers `status` and `body` after `delay`.
    fake_http_server(int status, std::string body, std::chrono::milliseconds delay = {})
        : fake_http_server([answer = canned{status, std::move(body), delay}](
                               int, const std::string&) { return answer; }) {}
    fake_http_server(const fake_http_server&) = delete;
    fake_http_server& operator=(const fake_http_server&) = delete;
    ~fake_http_server() {
        done_ = true;
        thread_.join();
        ::close(fd_);
    }

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& path = "/announce") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    // Every request read so far, in order of arrival.
    std::vector<request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    void loop() {
        using namespace std::chrono_literals;
        while (!done_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5) <= 0) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                head.append(buf, static_cast<std::size_t>(n));
            }
            int index;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back({head, query_of(head), clock::now()});
                index = static_cast<int>(requests_.size()) - 1;
            }
            const canned answer = handler_(index, head);
            const auto until = clock::now() + answer.delay;
            while (!done_ && clock::now() < until)
                std::this_thread::sleep_for(2ms);
            const std::string out = "HTTP/1.1 " + std::to_string(answer.status) +
                                    " X\r\nContent-Length: " + std::to_string(answer.body.size()) +
                                    "\r\nConnection: close\r\n\r\n" + answer.body;
            (void)!::write(c, out.data(), out.size());
            ::close(c);
        }
    }

    handler handler_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> done_{false};
    mutable std::mutex mutex_;
    std::vector<request> requests_;
    std::thread thread_;
};

}  // namespace hekate::test

// The server in-process: the two accept policies seen from inside.
#include "server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cpc/cpc.hpp>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace httpd {
// For the names of parameterised tests in gtest's output.
std::ostream& operator<<(std::ostream& os, accept_policy p) {
    return os << (p == accept_policy::active ? "active" : "accept");
}
}  // namespace httpd

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Blocking client sockets: the kernel completes their handshakes and buffers their requests
// before the server accepts anything.
int connect_and_send(std::uint16_t port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
        return -1;
    }
    return fd;
}

std::string read_all(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

cpc::task<void> stop_after(httpd::server& s, std::uint64_t responses) {
    for (int i = 0; i < 5000 && s.stats().responses < responses; ++i)
        co_await cpc::sleep(1ms);
    s.stop();
}

class AcceptPolicy : public ::testing::TestWithParam<httpd::accept_policy> {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/httpd_server_testXXXXXX";
        ASSERT_TRUE(::mkdtemp(tmpl));
        root_ = tmpl;
        std::ofstream(root_ / "a.txt") << "hello\n";
    }
    void TearDown() override { fs::remove_all(root_); }
    fs::path root_;
};

TEST_P(AcceptPolicy, PendingConnections) {
    httpd::server_config cfg;
    cfg.root = root_.string();
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.policy = GetParam();
    cfg.shutdown_grace = 200ms;
    httpd::server s(cfg);
    ASSERT_EQ(s.start(), "");
    constexpr int kClients = 5;
    std::vector<int> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(connect_and_send(
            s.port(), "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        ASSERT_GE(clients.back(), 0);
    }
    cpc::spawn(s.listener());
    cpc::spawn(stop_after(s, kClients));
    const cpc::run_result r = cpc::main_loop();
    EXPECT_EQ(r.blocked_threads, 0u);
    EXPECT_EQ(s.stats().accepted, static_cast<std::uint64_t>(kClients));
    EXPECT_EQ(s.stats().responses, static_cast<std::uint64_t>(kClients));
    if (GetParam() == httpd::accept_policy::accept) {
        // Knot-A: everything pending is accepted before the first connection is served.
        EXPECT_EQ(s.stats().accepted_at_first_response, static_cast<std::uint64_t>(kClients));
    } else {
        // Knot-C: one accept per pass of the loop; the first connection is served first.
        EXPECT_LE(s.stats().accepted_at_first_response, 2u);
    }
    for (int fd : clients) {
        const std::string response = read_all(fd);
        EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
        EXPECT_TRUE(response.ends_with("\r\n\r\nhello\n"));
        ::close(fd);
    }
}

INSTANTIATE_TEST_SUITE_P(Knot, AcceptPolicy,
                         ::testing::Values(httpd::accept_policy::active,
                                           httpd::accept_policy::accept),
                         [](const auto& info) {
                             return info.param == httpd::accept_policy::active
                                        ? std::string("active")
                                        : std::string("accept");
                         });

}  // namespace

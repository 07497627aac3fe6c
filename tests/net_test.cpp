// cpc/net.hpp and cpc/clock.hpp: endpoint parsing (good and bad text, IPv4 and IPv6),
// unique_fd's ownership, listen_on and connect_to over loopback (ctest runs them on both
// backends), and the monotonic clock against the loop's.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "cpc/clock.hpp"
#include "cpc/net.hpp"
#include "test_support.hpp"

namespace {

using namespace cpc_test;

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

// ---- endpoint ----

TEST(Endpoint, ParsesIpv4) {
    const std::optional<cpc::endpoint> e = cpc::endpoint::parse("127.0.0.1:8080");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->family(), AF_INET);
    EXPECT_EQ(e->port(), 8080);
    EXPECT_EQ(e->host(), "127.0.0.1");
    EXPECT_EQ(e->to_string(), "127.0.0.1:8080");
    EXPECT_EQ(e->length(), sizeof(sockaddr_in));
    EXPECT_EQ(*e, cpc::endpoint::loopback_v4(8080));
}

TEST(Endpoint, ParsesIpv6InBrackets) {
    const std::optional<cpc::endpoint> e = cpc::endpoint::parse("[::1]:8080");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->family(), AF_INET6);
    EXPECT_EQ(e->port(), 8080);
    EXPECT_EQ(e->host(), "::1");
    EXPECT_EQ(e->to_string(), "[::1]:8080");
    EXPECT_EQ(e->length(), sizeof(sockaddr_in6));
    const std::optional<cpc::endpoint> full = cpc::endpoint::parse("[2001:db8:0:0:0:0:0:1]:65535");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->to_string(), "[2001:db8::1]:65535");
}

TEST(Endpoint, PortZeroMeansAnyPort) {
    const std::optional<cpc::endpoint> e = cpc::endpoint::parse("0.0.0.0:0");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port(), 0);
}

TEST(Endpoint, RefusesBadTextWithAReason) {
    const char* const bad[] = {
        "",                     // nothing
        "127.0.0.1",            // no port
        "127.0.0.1:",           // empty port
        "127.0.0.1:65536",      // port too large
        "127.0.0.1:-1",         // signed port
        "127.0.0.1:+80",        // signed port
        "127.0.0.1:80x",        // trailing text
        "127.0.0.1: 80",        // space
        "localhost:80",         // a name, not a number
        "256.0.0.1:80",         // not an IPv4 address
        "1.2.3:80",             // short form that inet_pton refuses
        "::1:80",               // IPv6 without brackets
        "[::1]",                // no port
        "[::1]80",              // no colon
        "[::1:80",              // no closing bracket
        "[127.0.0.1]:80",       // brackets around IPv4
        "[]:80",                // empty address
        "[fe80::1%lo]:80",      // a zone
        ":80",                  // no address
        "99999999999999999:1",  // too long for any address
    };
    for (const char* text : bad) {
        std::string why;
        const std::optional<cpc::endpoint> e = cpc::endpoint::parse(text, &why);
        EXPECT_FALSE(e) << '"' << text << "\" parsed as " << e->to_string();
        EXPECT_FALSE(why.empty()) << '"' << text << "\" gave no reason";
    }
    std::string why;
    EXPECT_FALSE(cpc::endpoint::parse("127.0.0.1:70000", &why));
    EXPECT_NE(why.find("70000"), std::string::npos) << why;
    EXPECT_FALSE(cpc::endpoint::parse("example.org:80", &why));
    EXPECT_NE(why.find("example.org"), std::string::npos) << why;
    EXPECT_NE(why.find("numeric"), std::string::npos) << why;
}

TEST(Endpoint, FromHostTakesBareAddresses) {
    const std::optional<cpc::endpoint> v4 = cpc::endpoint::from_host("10.1.2.3", 6881);
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->to_string(), "10.1.2.3:6881");
    const std::optional<cpc::endpoint> v6 = cpc::endpoint::from_host("::1", 6881);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->to_string(), "[::1]:6881");
    std::string why;
    EXPECT_FALSE(cpc::endpoint::from_host("[::1]", 1, &why));
    EXPECT_FALSE(why.empty());
}

TEST(Endpoint, ComparesFamilyAddressAndPort) {
    const cpc::endpoint a = *cpc::endpoint::parse("127.0.0.1:1");
    cpc::endpoint b = a;
    EXPECT_EQ(a, b);
    b.set_port(2);
    EXPECT_EQ(b.port(), 2);
    EXPECT_FALSE(a == b);
    EXPECT_FALSE(a == *cpc::endpoint::parse("127.0.0.2:1"));
    EXPECT_FALSE(*cpc::endpoint::parse("[::ffff:127.0.0.1]:1") == a);  // mapped is IPv6
    EXPECT_EQ(cpc::endpoint{}.family(), AF_UNSPEC);
    EXPECT_EQ(cpc::endpoint{}.length(), 0u);
}

TEST(Endpoint, FromSockaddrCopiesInetFamiliesOnly) {
    const cpc::endpoint v6 = *cpc::endpoint::parse("[::1]:9");
    const std::optional<cpc::endpoint> copy =
        cpc::endpoint::from_sockaddr(v6.address(), v6.length());
    ASSERT_TRUE(copy);
    EXPECT_EQ(*copy, v6);
    EXPECT_FALSE(cpc::endpoint::from_sockaddr(v6.address(), sizeof(sockaddr_in)));  // too short
    sockaddr unix_address{};
    unix_address.sa_family = AF_UNIX;
    EXPECT_FALSE(cpc::endpoint::from_sockaddr(&unix_address, sizeof unix_address));
    EXPECT_FALSE(cpc::endpoint::from_sockaddr(nullptr, 0));
}

// ---- unique_fd ----

int new_fd() {
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(UniqueFd, ClosesOnDestruction) {
    int raw = -1;
    {
        cpc::unique_fd fd(new_fd());
        raw = fd.get();
        ASSERT_GE(raw, 0);
        EXPECT_TRUE(fd);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, MoveTransfersOwnership) {
    cpc::unique_fd a(new_fd());
    const int raw = a.get();
    cpc::unique_fd b(std::move(a));
    EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
    cpc::unique_fd c(new_fd());
    const int other = c.get();
    c = std::move(b);  // closes what c held
    EXPECT_EQ(c.get(), raw);
    EXPECT_FALSE(is_open(other));
    EXPECT_TRUE(is_open(raw));
    cpc::unique_fd& same = c;  // through a reference: a direct self-move is a warning
    c = std::move(same);       // self-move keeps the fd
    EXPECT_EQ(c.get(), raw);
    EXPECT_TRUE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesUpWithoutClosing) {
    int raw = -1;
    {
        cpc::unique_fd fd(new_fd());
        raw = fd.release();
        EXPECT_EQ(fd.get(), -1);
    }
    EXPECT_TRUE(is_open(raw));
    ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldAndKeepsTheNew) {
    cpc::unique_fd fd(new_fd());
    const int first = fd.get();
    const int second = new_fd();
    fd.reset(second);
    EXPECT_EQ(fd.get(), second);
    EXPECT_FALSE(is_open(first));
    fd.reset(second);  // the same fd: not closed
    EXPECT_TRUE(is_open(second));
    fd.reset();
    EXPECT_EQ(fd.get(), -1);
    EXPECT_FALSE(is_open(second));
}

// ---- listen_on and connect_to ----

TEST(Net, ListenOnSetsTheSocketsOptions) {
    cpc::listen_result l = cpc::listen_on(cpc::endpoint::loopback_v4(0), 16, {.reuse_port = true});
    ASSERT_TRUE(l) << l.failed_call << ": " << l.error.message();
    const int fd = l.fd.get();
    EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int v = 0;
    socklen_t len = sizeof v;
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    EXPECT_NE(v, 0);
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, &len), 0);
    EXPECT_NE(v, 0);
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
    EXPECT_NE(v, 0);
    const std::optional<cpc::endpoint> bound = cpc::local_endpoint(fd);
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound->host(), "127.0.0.1");
    EXPECT_NE(bound->port(), 0);  // the kernel chose one

    cpc::listen_result blocking =
        cpc::listen_on(cpc::endpoint::loopback_v4(0), 16, {.nonblocking = false});
    ASSERT_TRUE(blocking);
    EXPECT_FALSE(::fcntl(blocking.fd.get(), F_GETFL) & O_NONBLOCK);
    ASSERT_EQ(::getsockopt(blocking.fd.get(), SOL_SOCKET, SO_REUSEPORT, &v, &len), 0);
    EXPECT_EQ(v, 0);
}

TEST(Net, ListenOnAPortInUseSaysBind) {
    cpc::listen_result first = cpc::listen_on(cpc::endpoint::loopback_v4(0));
    ASSERT_TRUE(first);
    const cpc::endpoint taken = *cpc::local_endpoint(first.fd.get());
    cpc::listen_result second = cpc::listen_on(taken);
    EXPECT_FALSE(second);
    EXPECT_EQ(second.error, std::errc::address_in_use) << second.error.message();
    EXPECT_STREQ(second.failed_call, "bind");
    EXPECT_FALSE(second.fd);
    // Two sockets that both ask for SO_REUSEPORT share the port.
    cpc::listen_result a = cpc::listen_on(cpc::endpoint::loopback_v4(0), 16, {.reuse_port = true});
    ASSERT_TRUE(a);
    cpc::listen_result b =
        cpc::listen_on(*cpc::local_endpoint(a.fd.get()), 16, {.reuse_port = true});
    EXPECT_TRUE(b) << b.failed_call << ": " << b.error.message();
}

TEST(Net, Ipv6OnlyLeavesThePortToIpv4) {
    // [::]:P without IPV6_V6ONLY takes IPv4 too, so 0.0.0.0:P is refused; with it, both bind.
    cpc::listen_result dual = cpc::listen_on(*cpc::endpoint::parse("[::]:0"));
    if (!dual && dual.error == std::errc::address_family_not_supported) {
        GTEST_SKIP() << "no IPv6 here";
    }
    ASSERT_TRUE(dual) << dual.failed_call << ": " << dual.error.message();
    const std::uint16_t port = cpc::local_endpoint(dual.fd.get())->port();
    cpc::endpoint v4 = *cpc::endpoint::parse("0.0.0.0:0");
    v4.set_port(port);
    EXPECT_EQ(cpc::listen_on(v4).error, std::errc::address_in_use);
    dual.fd.reset();

    cpc::listen_result v6 =
        cpc::listen_on(*cpc::endpoint::parse("[::]:0"), 16, {.ipv6_only = true});
    ASSERT_TRUE(v6) << v6.failed_call << ": " << v6.error.message();
    v4.set_port(cpc::local_endpoint(v6.fd.get())->port());
    const cpc::listen_result both = cpc::listen_on(v4);
    EXPECT_TRUE(both) << both.failed_call << ": " << both.error.message();
}

TEST(Net, ListenOnAnEndpointWithoutFamilyFails) {
    const cpc::listen_result l = cpc::listen_on(cpc::endpoint{});
    EXPECT_FALSE(l);
    EXPECT_EQ(l.error, std::errc::address_family_not_supported);
}

// Accepts one connection on listen_fd, reads "ping", answers "pong", and records the peer.
cpc::task<void> pong_once(int listen_fd, std::string* peer) {
    sockaddr_in6 addr{};
    socklen_t len = sizeof addr;
    const cpc::accept_result a =
        co_await cpc::accept(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    EXPECT_FALSE(a.error) << a.error.message();
    if (a.error) co_return;
    cpc::unique_fd fd(a.fd);
    const std::optional<cpc::endpoint> from =
        cpc::endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), len);
    if (from) *peer = from->host();
    char buf[4];
    std::size_t got = 0;
    while (got < sizeof buf) {
        const cpc::io_result r = co_await cpc::read(fd.get(), buf + got, sizeof buf - got);
        if (r.error || r.bytes == 0) break;
        got += r.bytes;
    }
    EXPECT_EQ(std::string(buf, got), "ping");
    const cpc::io_result w = co_await cpc::write(fd.get(), "pong", 4);
    EXPECT_EQ(w.bytes, 4u);
}

cpc::task<void> ping(cpc::endpoint to, std::string* reply, cpc::connect_options options = {}) {
    cpc::connect_result c = co_await cpc::connect_to(to, nullptr, std::move(options));
    EXPECT_TRUE(c) << c.failed_call << ": " << c.error.message();
    if (!c) co_return;
    EXPECT_TRUE(::fcntl(c.fd.get(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(c.fd.get(), F_GETFD) & FD_CLOEXEC);
    const cpc::io_result w = co_await cpc::write(c.fd.get(), "ping", 4);
    EXPECT_EQ(w.bytes, 4u);
    char buf[8];
    std::size_t got = 0;
    while (got < 4) {
        const cpc::io_result r = co_await cpc::read(c.fd.get(), buf + got, sizeof buf - got);
        if (r.error || r.bytes == 0) break;
        got += r.bytes;
    }
    reply->assign(buf, got);
}

void ping_pong_over(const char* listen_text, const char* expected_peer) {
    cpc::listen_result l = cpc::listen_on(*cpc::endpoint::parse(listen_text));
    if (!l && l.error == std::errc::address_not_available) {
        GTEST_SKIP() << listen_text << ": no such address on this machine";
    }
    ASSERT_TRUE(l) << l.failed_call << ": " << l.error.message();
    const cpc::endpoint at = *cpc::local_endpoint(l.fd.get());
    std::string peer, reply;
    cpc::spawn(pong_once(l.fd.get(), &peer));
    cpc::spawn(ping(at, &reply));
    EXPECT_EQ(main_loop().blocked_threads, 0u);
    EXPECT_EQ(reply, "pong");
    EXPECT_EQ(peer, expected_peer);
}

TEST(Net, ListenAndConnectOverIpv4Loopback) {
    ping_pong_over("127.0.0.1:0", "127.0.0.1");
}

TEST(Net, ListenAndConnectOverIpv6Loopback) {
    ping_pong_over("[::1]:0", "::1");
}

TEST(Net, ConnectFromASourceAddress) {
    // 127.0.0.2 is loopback too (127/8): the server sees the connection come from it.
    cpc::listen_result l = cpc::listen_on(*cpc::endpoint::parse("0.0.0.0:0"));
    ASSERT_TRUE(l);
    const cpc::endpoint at = cpc::endpoint::loopback_v4(cpc::local_endpoint(l.fd.get())->port());
    std::string peer, reply;
    cpc::spawn(pong_once(l.fd.get(), &peer));
    cpc::spawn(
        ping(at, &reply, {.source = cpc::endpoint::parse("127.0.0.2:0"), .receive_buffer = 4096}));
    EXPECT_EQ(main_loop().blocked_threads, 0u);
    EXPECT_EQ(reply, "pong");
    EXPECT_EQ(peer, "127.0.0.2");
}

TEST(Net, ConnectToAPortNobodyListensOnIsRefused) {
    // A port bound but not listening refuses connections, and nobody else can take it.
    const int bound = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(bound, 0);
    cpc::unique_fd guard(bound);
    const cpc::endpoint any = cpc::endpoint::loopback_v4(0);
    ASSERT_EQ(::bind(bound, any.address(), any.length()), 0);
    const cpc::endpoint at = *cpc::local_endpoint(bound);
    auto body = [](cpc::endpoint to, cpc::connect_result* out) -> cpc::task<void> {
        *out = co_await cpc::connect_to(to);
    };
    cpc::connect_result c;
    run_main(body(at, &c));
    EXPECT_EQ(c.error, std::errc::connection_refused) << c.error.message();
    EXPECT_STREQ(c.failed_call, "connect");
    EXPECT_FALSE(c.fd);
}

TEST(Net, ConnectIsInterrupted) {
    // A listener whose backlog is full leaves the next SYN unanswered: the connect waits
    // until interrupted. Filling it takes a few blocking connects.
    cpc::listen_result l = cpc::listen_on(cpc::endpoint::loopback_v4(0), 0);
    ASSERT_TRUE(l);
    const cpc::endpoint at = *cpc::local_endpoint(l.fd.get());
    std::vector<cpc::unique_fd> fillers;
    for (int i = 0; i < 4; ++i) {
        cpc::unique_fd f(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        ::connect(f.get(), at.address(), at.length());
        fillers.push_back(std::move(f));
    }
    auto body = [](cpc::endpoint to, cpc::connect_result* out) -> cpc::task<void> {
        cpc::condvar stop;
        cpc::spawn([](cpc::condvar* stop) -> cpc::task<void> {
            co_await cpc::sleep(50ms);
            stop->signal_all();
        }(&stop));
        *out = co_await cpc::connect_to(to, &stop);
    };
    cpc::connect_result c;
    run_main(body(at, &c));
    if (c) GTEST_SKIP() << "the kernel accepted past the backlog";
    EXPECT_EQ(c.error, std::errc::operation_canceled) << c.error.message();
    EXPECT_STREQ(c.failed_call, "connect");
    EXPECT_FALSE(c.fd);
}

// ---- monotonic_clock ----

TEST(MonotonicClock, AgreesWithTheLoopsClock) {
    auto body = [](std::int64_t* before, std::int64_t* loop_now,
                   std::int64_t* after) -> cpc::task<void> {
        *before = cpc::monotonic_ns();
        co_await cpc::sleep(1ms);  // the loop reads its clock for the timer
        *loop_now = cpc::default_loop().now();
        *after = cpc::monotonic_ns();
    };
    std::int64_t before = 0, loop_now = 0, after = 0;
    run_main(body(&before, &loop_now, &after));
    EXPECT_LE(before, loop_now);
    EXPECT_LE(loop_now, after);
    const auto a = cpc::monotonic_clock::now();
    const auto b = cpc::monotonic_clock::now();
    EXPECT_LE(a, b);
    static_assert(cpc::monotonic_clock::is_steady);
}

}  // namespace

// toy-asio: a Boost.Asio coroutine per connection (C++20 coroutines, Boost 1.74 headers).
//
// One io_context run by one kernel thread, as the other event-driven toys: the listener is a
// coroutine that co_awaits async_accept and co_spawns a session per connection; a session
// co_awaits async_read_until the end of the headers and async_write of the page. SIGTERM and
// SIGINT stop the io_context through a signal_set; the process exits with status 0.
//
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, and recognises
// C++20 coroutines in clang only through <experimental/coroutine>: with <coroutine> (which both
// compilers have, and Asio uses) co_await support must be declared.
#include <utility>
#ifndef BOOST_ASIO_HAS_CO_AWAIT
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>

#include "toy_page.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Reads the request up to the end of its headers, answers with the page, closes (when the
// socket is destroyed). Errors (a client gone) end the session through an exception.
asio::awaitable<void> serve(tcp::socket socket) {
    std::string request;
    const std::size_t n = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(request, toy::kRequestMax), "\r\n\r\n", asio::use_awaitable);
    (void)n;
    const std::size_t w = co_await asio::async_write(
        socket, asio::buffer(toy::kResponse.data(), toy::kResponse.size()), asio::use_awaitable);
    (void)w;
}

asio::awaitable<void> listening(tcp::acceptor& acceptor) {
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
        } else if (ec == asio::error::no_descriptors) {  // out of fds: back off
            backoff.expires_after(std::chrono::milliseconds(10));
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int listen_fd = toy::listen_from_args(argc, argv, true);
    asio::io_context io(1);  // a hint: one thread runs it
    tcp::acceptor acceptor(io, tcp::v4(), listen_fd);
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    asio::co_spawn(io, listening(acceptor), asio::detached);
    io.run();
    return 0;
}

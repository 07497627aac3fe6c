// sfs_asio: the SFS-like server of bench/many-cores on Boost.Asio, the peer of sfs_cpc
// (README.md has the protocol).
//
//   sfs_asio --port P [--threads N] [--bind 127.0.0.1]
//
// One io_context run by N threads; each connection is a chain of callbacks (read a request,
// work, write the answer, read again). A request's work (the SHA-256 rounds, then the file's
// counter) is posted to the strand of its file, Asio's form of a color: the requests of one
// file never overlap, those of different files run on different threads.
// Before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "listen.hpp"
#include "sfs.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct file_state {
    explicit file_state(asio::io_context& io) : strand(asio::make_strand(io)) {}
    asio::strand<asio::io_context::executor_type> strand;
    std::uint64_t served = 0;  // touched only on `strand`
};

struct service {
    explicit service(asio::io_context& io) {
        for (std::uint32_t f = 0; f < sfs::kFiles; ++f)
            state.push_back(std::make_unique<file_state>(io));
    }
    sfs::files files;
    std::vector<std::unique_ptr<file_state>> state;
};

class connection : public std::enable_shared_from_this<connection> {
  public:
    connection(service& s, tcp::socket socket) : s_(s), socket_(std::move(socket)) {}

    void read() {
        asio::async_read(socket_, asio::buffer(in_),
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (!ec) self->work();
                         });
    }

  private:
    void work() {
        const std::optional<sfs::request> r = sfs::decode_request(in_);
        if (!r) return;  // a client that does not speak the protocol is dropped
        file_state& f = *s_.state[r->file];
        asio::post(f.strand, [self = shared_from_this(), r = *r, &f] {
            sfs::response out{r.file, r.block, 0, sfs::compute(self->s_.files, r)};
            out.served = ++f.served;
            sfs::encode(out, self->out_);
            self->write();
        });
    }

    void write() {
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (!ec) self->read();
                          });
    }

    service& s_;
    tcp::socket socket_;
    unsigned char in_[sfs::kRequestSize];
    unsigned char out_[sfs::kResponseSize];
};

void accept(service& s, tcp::acceptor& acceptor) {
    acceptor.async_accept([&s, &acceptor](boost::system::error_code ec, tcp::socket socket) {
        if (!ec) {
            sfs::no_delay(socket.native_handle());
            std::make_shared<connection>(s, std::move(socket))->read();
        }
        accept(s, acceptor);
    });
}

int usage() {
    std::fprintf(stderr, "usage: sfs_asio --port P [--threads N] [--bind ADDRESS]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    int port = -1;
    int threads = 1;
    std::string address = "127.0.0.1";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string opt = argv[i];
        if (opt == "--port" || opt == "-p") {
            port = std::atoi(argv[i + 1]);
        } else if (opt == "--threads") {
            threads = std::atoi(argv[i + 1]);
        } else if (opt == "--bind") {
            address = argv[i + 1];
        } else {
            return usage();
        }
    }
    if (argc % 2 == 0 || port < 0 || port > 65535 || threads < 1) return usage();

    asio::io_context io(threads);
    service s(io);
    tcp::acceptor acceptor(io);
    acceptor.assign(tcp::v4(), sfs::listen_on(address, static_cast<std::uint16_t>(port), false));
    accept(s, acceptor);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back([&io] { io.run(); });
    io.run();  // until SIGTERM ends the process (the harness stops it by PID)
    for (std::thread& t : pool)
        t.join();
    return 0;
}

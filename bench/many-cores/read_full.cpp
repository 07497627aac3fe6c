#include "read_full.hpp"

#include <cpc/io.hpp>

namespace sfs {

cpc::task<bool> read_full(int fd, unsigned char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        const cpc::io_result r = co_await cpc::read(fd, buf + got, n - got);
        if (!r || r.bytes == 0) co_return false;
        got += r.bytes;
    }
    co_return true;
}

}  // namespace sfs

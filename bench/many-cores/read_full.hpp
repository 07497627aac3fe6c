// Reading a fixed-size message on cpc, for the client and the cpc server of bench/many-cores.
#pragma once

#include <cpc/task.hpp>
#include <cstddef>

namespace sfs {

// Reads exactly n bytes; false at the end of the connection or on an error.
cpc::task<bool> read_full(int fd, unsigned char* buf, std::size_t n);

}  // namespace sfs

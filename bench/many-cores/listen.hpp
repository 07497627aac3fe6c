// The listening socket of the C++ servers of bench/many-cores.
#pragma once

#include <cstdint>
#include <string>

namespace sfs {

// A non-blocking TCP socket listening on address:port (SO_REUSEPORT if reuseport: N-copy's
// processes share the port and the kernel spreads the connections). Exits with a message
// on failure. Announces "sfs: listening on ADDRESS:PORT" on stdout, which the harness waits
// for.
int listen_on(const std::string& address, std::uint16_t port, bool reuseport);

// TCP_NODELAY: a 48-byte answer must not wait for the ACK of the previous one.
void no_delay(int fd);

}  // namespace sfs

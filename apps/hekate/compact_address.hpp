// BEP 23 compact peer addresses: an IPv4 address and port in 6 bytes, an IPv6 address and port
// in 18, both in network byte order, as trackers list peers ("peers", "peers6"), the UDP
// tracker protocol (BEP 15) answers and the extension handshake's "yourip" carries them.
// The address itself is a cpc::endpoint (cpc/net.hpp); only these encodings are BitTorrent's.
#pragma once

#include <string>

#include "cpc/net.hpp"

namespace hekate {

// The IPv4 endpoint in six bytes: four of address, two of port.
cpc::endpoint from_compact4(const unsigned char* six) noexcept;
// The IPv6 endpoint in eighteen bytes: sixteen of address, two of port.
cpc::endpoint from_compact6(const unsigned char* eighteen) noexcept;
// Appends e's compact form to out: 6 bytes for IPv4, 18 for IPv6, nothing without a family.
void append_compact(std::string& out, const cpc::endpoint& e);

}  // namespace hekate

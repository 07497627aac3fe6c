// How hekate names itself: on its command line, to trackers and to peers. Every name carries
// cpc's version (cpc/version.hpp, generated from CMakeLists.txt), the one version of the
// project.
#pragma once

#include <array>
#include <cpc/version.hpp>
#include <string_view>

namespace hekate {

// `hekate --version`.
inline constexpr std::string_view version_line = "hekate " CPC_VERSION_STRING;
// The User-Agent of announces to HTTP trackers.
inline constexpr const char* tracker_user_agent = "hekate/" CPC_VERSION_STRING;
// The client name ("v") of the extension handshake (BEP 10).
inline constexpr std::string_view client_name = "Hekate/" CPC_VERSION_STRING;

namespace detail {
// One character of an Azureus-style version: 0-9, then A-Z for 10 to 35.
constexpr char azureus_digit(int n) {
    return "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n];
}
}  // namespace detail

static_assert(cpc::version_major < 36 && cpc::version_minor < 36 && cpc::version_patch < 36,
              "an Azureus-style peer id has one character per version number");
// The first 8 bytes of every peer id (Azureus style): "-HK", major, minor, patch, '0', '-';
// "-HK0100-" for 0.1.0. The other 12 are random (server.cpp).
inline constexpr std::array<char, 8> peer_id_prefix{'-',
                                                    'H',
                                                    'K',
                                                    detail::azureus_digit(cpc::version_major),
                                                    detail::azureus_digit(cpc::version_minor),
                                                    detail::azureus_digit(cpc::version_patch),
                                                    '0',
                                                    '-'};

}  // namespace hekate

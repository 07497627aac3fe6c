// The SFS-like service of bench/many-cores: its wire format, its "files" and the work of one
// request, shared by the client and the C++ servers so that they agree byte for byte (the Go
// server, go/main.go, implements the same definitions; README.md is the reference).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace sfs {

constexpr std::uint32_t kFiles = 16;
constexpr std::size_t kFileSize = std::size_t{1} << 20;
constexpr std::uint32_t kMinLength = 16384;
constexpr std::uint32_t kMaxLength = 65536;
constexpr std::uint32_t kMaxRounds = 256;
constexpr std::size_t kRequestSize = 16;
constexpr std::size_t kResponseSize = 48;

using digest = std::array<unsigned char, 32>;

// file is the color key: the requests of one file share its state.
struct request {
    std::uint32_t file = 0;
    std::uint32_t block = 0;
    std::uint32_t length = 0;
    std::uint32_t rounds = 0;
};

struct response {
    std::uint32_t file = 0;
    std::uint32_t block = 0;
    std::uint64_t served = 0;  // the file's count of requests served, this one included
    digest hash{};
};

void encode(const request& r, unsigned char* out);
// nullopt for a request no server accepts (a file, length or rounds out of range).
std::optional<request> decode_request(const unsigned char* in);
void encode(const response& r, unsigned char* out);
response decode_response(const unsigned char* in);

// The kFiles files, generated once and never written.
class files {
  public:
    files();
    // The block a valid request names: kMaxLength bytes are always there from its offset.
    const unsigned char* block(const request& r) const;

  private:
    std::vector<unsigned char> data_;
};

// The digest of a request: rounds passes of SHA-256 over the block (README.md).
digest compute(const files& f, const request& r);

}  // namespace sfs

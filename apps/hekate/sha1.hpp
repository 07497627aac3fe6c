// SHA-1 (OpenSSL's EVP): info-hashes and piece hashes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hekate {

// Also declared by metainfo.hpp (same type), so that this header stands alone.
using sha1_digest = std::array<std::uint8_t, 20>;

// The SHA-1 of a buffer.
sha1_digest sha1_of(const void* data, std::size_t size);
inline sha1_digest sha1_of(std::string_view bytes) {
    return sha1_of(bytes.data(), bytes.size());
}

// An incremental SHA-1: update() any number of times, then finish(), which also resets the
// hasher for the next message. Move-only; not thread-safe (one per thread).
class sha1 {
  public:
    sha1();
    ~sha1();
    sha1(sha1&& other) noexcept;
    sha1& operator=(sha1&& other) noexcept;
    sha1(const sha1&) = delete;
    sha1& operator=(const sha1&) = delete;

    sha1& update(const void* data, std::size_t size);
    sha1& update(std::string_view bytes) { return update(bytes.data(), bytes.size()); }
    sha1_digest finish();

  private:
    void* ctx_;  // EVP_MD_CTX, kept opaque so that users need not include OpenSSL
};

}  // namespace hekate

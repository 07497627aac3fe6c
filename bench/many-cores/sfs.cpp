#include "sfs.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace sfs {

namespace {

void put32(unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::uint32_t get32(const unsigned char* p) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

// splitmix64: trivial to write identically in Go, and fast enough to make 16 MiB at start-up.
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Fetched once: EVP_sha256() would look the implementation up again at every init.
const EVP_MD* sha256() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

void encode(const request& r, unsigned char* out) {
    put32(out, r.file);
    put32(out + 4, r.block);
    put32(out + 8, r.length);
    put32(out + 12, r.rounds);
}

std::optional<request> decode_request(const unsigned char* in) {
    const request r{get32(in), get32(in + 4), get32(in + 8), get32(in + 12)};
    if (r.file >= kFiles || r.length < kMinLength || r.length > kMaxLength || r.rounds == 0 ||
        r.rounds > kMaxRounds)
        return std::nullopt;
    return r;
}

void encode(const response& r, unsigned char* out) {
    put32(out, r.file);
    put32(out + 4, r.block);
    put32(out + 8, static_cast<std::uint32_t>(r.served));
    put32(out + 12, static_cast<std::uint32_t>(r.served >> 32));
    std::memcpy(out + 16, r.hash.data(), r.hash.size());
}

response decode_response(const unsigned char* in) {
    response r;
    r.file = get32(in);
    r.block = get32(in + 4);
    r.served = get32(in + 8) | std::uint64_t{get32(in + 12)} << 32;
    std::memcpy(r.hash.data(), in + 16, r.hash.size());
    return r;
}

files::files() : data_(kFiles * kFileSize) {
    for (std::uint32_t f = 0; f < kFiles; ++f) {
        std::uint64_t state = f + 1;
        unsigned char* p = data_.data() + f * kFileSize;
        for (std::size_t i = 0; i < kFileSize; i += 8) {
            const std::uint64_t v = splitmix64(state);
            put32(p + i, static_cast<std::uint32_t>(v));
            put32(p + i + 4, static_cast<std::uint32_t>(v >> 32));
        }
    }
}

const unsigned char* files::block(const request& r) const {
    const std::size_t offset = (std::size_t{r.block} * 4096) % (kFileSize - kMaxLength);
    return data_.data() + r.file * kFileSize + offset;
}

digest compute(const files& f, const request& r) {
    // One context per kernel thread: the Asio server hashes on several at once.
    thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    const unsigned char* block = f.block(r);
    unsigned char head[15] = {'c', 'p', 'c', '-', 's', 'f', 's'};
    put32(head + 7, r.file);
    put32(head + 11, r.block);
    digest h{};
    for (std::uint32_t i = 0; i < r.rounds; ++i) {
        unsigned int n = 0;
        const bool ok = EVP_DigestInit_ex(ctx.get(), sha256(), nullptr) == 1 &&
                        (i == 0 ? EVP_DigestUpdate(ctx.get(), head, sizeof head)
                                : EVP_DigestUpdate(ctx.get(), h.data(), h.size())) == 1 &&
                        EVP_DigestUpdate(ctx.get(), block, r.length) == 1 &&
                        EVP_DigestFinal_ex(ctx.get(), h.data(), &n) == 1;
        if (!ok) throw std::runtime_error("sfs: SHA-256 failed");
    }
    return h;
}

}  // namespace sfs

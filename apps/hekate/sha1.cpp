#include "sha1.hpp"

#include <openssl/evp.h>

#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace hekate {

namespace {

EVP_MD_CTX* ctx_of(void* p) {
    return static_cast<EVP_MD_CTX*>(p);
}

// OpenSSL fails only on allocation failure or a broken build; neither can be handled here.
void check(int ok, const char* what) {
    if (ok != 1) throw std::runtime_error(std::string("OpenSSL SHA-1: ") + what + " failed");
}

}  // namespace

sha1_digest sha1_of(const void* data, std::size_t size) {
    sha1_digest out{};
    unsigned int len = 0;
    check(EVP_Digest(data, size, out.data(), &len, EVP_sha1(), nullptr), "EVP_Digest");
    return out;
}

sha1::sha1() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) throw std::bad_alloc();
    if (EVP_DigestInit_ex(ctx_of(ctx_), EVP_sha1(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx_of(ctx_));
        throw std::runtime_error("OpenSSL SHA-1: EVP_DigestInit_ex failed");
    }
}

sha1::~sha1() {
    if (ctx_) EVP_MD_CTX_free(ctx_of(ctx_));
}

sha1::sha1(sha1&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

sha1& sha1::operator=(sha1&& other) noexcept {
    if (this != &other) {
        if (ctx_) EVP_MD_CTX_free(ctx_of(ctx_));
        ctx_ = std::exchange(other.ctx_, nullptr);
    }
    return *this;
}

sha1& sha1::update(const void* data, std::size_t size) {
    check(EVP_DigestUpdate(ctx_of(ctx_), data, size), "EVP_DigestUpdate");
    return *this;
}

sha1_digest sha1::finish() {
    sha1_digest out{};
    unsigned int len = 0;
    check(EVP_DigestFinal_ex(ctx_of(ctx_), out.data(), &len), "EVP_DigestFinal_ex");
    check(EVP_DigestInit_ex(ctx_of(ctx_), EVP_sha1(), nullptr), "EVP_DigestInit_ex");
    return out;
}

}  // namespace hekate

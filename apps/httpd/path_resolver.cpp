#include "path_resolver.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "http_request.hpp"

namespace httpd {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes one segment (between slashes) into out; false if it must be refused.
bool decode_segment(std::string_view raw, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size()) return false;  // "%" or "%x" at the end
            const int hi = hex_value(raw[i + 1]);
            const int lo = hex_value(raw[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
            if (c == '/') return false;  // %2f: a slash that is not a separator
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') return false;  // NUL, controls, backslash
        out.push_back(c);
    }
    return true;
}

}  // namespace

decoded_target decode_target(std::string_view target) {
    decoded_target d;
    // absolute-form (a request to a proxy, which a server must accept): drop the authority.
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            target.remove_prefix(scheme.size());
            const std::size_t slash = target.find('/');
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    if (target.empty() || target.front() != '/') {
        d.status = 400;
        return d;
    }
    const std::size_t end = target.find_first_of("?#");
    d.raw_path = target.substr(0, end);
    if (end != std::string_view::npos && target[end] == '?') {
        d.query = target.substr(end, target.find('#', end) - end);
    }
    d.trailing_slash = d.raw_path.back() == '/';

    std::string segment;
    std::string_view rest = d.raw_path.substr(1);
    while (true) {
        const std::size_t slash = rest.find('/');
        const std::string_view raw = rest.substr(0, slash);
        if (!decode_segment(raw, segment)) {
            d.status = 400;
            return d;
        }
        if (segment == "..") {  // never resolved upwards, even when it would stay inside
            d.status = 400;
            return d;
        }
        if (!segment.empty() && segment != ".") {
            if (!d.rel.empty()) d.rel.push_back('/');
            d.rel += segment;
        }
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return d;
}

document_root& document_root::operator=(document_root&& o) noexcept {
    if (this != &o) {
        if (root_fd_ >= 0) ::close(root_fd_);
        root_fd_ = std::exchange(o.root_fd_, -1);
        real_root_ = std::move(o.real_root_);
        use_openat2_ = o.use_openat2_;
    }
    return *this;
}

document_root::~document_root() {
    if (root_fd_ >= 0) ::close(root_fd_);
}

std::string document_root::open(const std::string& dir, mode m) {
    char* real = ::realpath(dir.c_str(), nullptr);
    if (!real) return dir + ": " + std::strerror(errno);
    real_root_ = real;
    std::free(real);
    const int fd = ::open(real_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return dir + ": " + std::strerror(errno);
    if (root_fd_ >= 0) ::close(root_fd_);
    root_fd_ = fd;
#ifdef SYS_openat2
    use_openat2_ = m == mode::automatic;
    if (use_openat2_) {  // probe once: ENOSYS on kernels before 5.6 (or under a filter)
        const int probe = open_beneath("", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (probe >= 0) ::close(probe);
    }
#else
    (void)m;
#endif
    return {};
}

int document_root::open_beneath(const std::string& rel, int flags) const {
    const char* path = rel.empty() ? "." : rel.c_str();
#ifdef SYS_openat2
    if (use_openat2_) {
        open_how how{};
        how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        for (;;) {
            const long fd = ::syscall(SYS_openat2, root_fd_, path, &how, sizeof how);
            if (fd >= 0) return static_cast<int>(fd);
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == ENOSYS || errno == EPERM) {  // no openat2 here: fall back for good
                use_openat2_ = false;
                break;
            }
            return -errno;
        }
    }
#endif
    return open_with_realpath(rel, flags);
}

int document_root::open_with_realpath(const std::string& rel, int flags) const {
    const std::string full = rel.empty() ? real_root_ : real_root_ + "/" + rel;
    char resolved[PATH_MAX];
    if (!::realpath(full.c_str(), resolved)) return -errno;
    const std::string_view r(resolved);
    const bool inside =
        r == real_root_ || (r.size() > real_root_.size() && r.starts_with(real_root_) &&
                            (real_root_ == "/" || r[real_root_.size()] == '/'));
    if (!inside) return -EXDEV;
    const int fd = ::open(resolved, flags | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

}  // namespace httpd

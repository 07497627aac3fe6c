// libFuzzer target: a request target through decode_target() and then document_root's
// open_beneath(), against a temporary document root that holds files, a directory and
// symlinks, some pointing inside and some outside (relative and absolute). Invariants:
// - an accepted target decodes to a plain relative path: no "." or ".." segment, no empty
//   segment, no backslash or control byte, no leading '/';
// - percent-encoding that path again and decoding it gives the same path;
// - whatever open_beneath() opens, with openat2 and with the realpath fallback, is the root
//   or lies beneath it (checked on the opened descriptor itself, through /proc/self/fd).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "path_resolver.hpp"

#include "fuzz_check.hpp"

namespace {

using fuzz::check;

struct fixture {
    std::filesystem::path top;
    std::string real_root;
    httpd::document_root with_openat2;
    httpd::document_root with_realpath;

    fixture() {
        char tmpl[] = "/tmp/httpd-fuzz-path-XXXXXX";
        check(::mkdtemp(tmpl) != nullptr);
        top = tmpl;
        namespace fs = std::filesystem;
        const fs::path root = top / "root";
        fs::create_directories(root / "dir" / "sub");
        fs::create_directories(top / "outside");
        std::ofstream(root / "index.html") << "index";
        std::ofstream(root / "dir" / "a b.txt") << "a b";
        std::ofstream(root / "dir" / "sub" / "%41") << "percent";
        std::ofstream(top / "outside" / "secret") << "secret";
        fs::create_symlink("index.html", root / "inside-link");
        fs::create_symlink("../dir", root / "dir" / "sub" / "up");
        fs::create_symlink("../outside/secret", root / "escape");
        fs::create_symlink("../../../outside", root / "dir" / "sub" / "escape-dir");
        fs::create_symlink(top / "outside" / "secret", root / "absolute-escape");
        fs::create_symlink("/proc/self/root", root / "magic");
        check(with_openat2.open(root.string()).empty());
        check(with_realpath.open(root.string(), httpd::document_root::mode::fallback_only).empty());
        real_root = with_openat2.real_path();
    }
    ~fixture() {
        std::error_code ignored;
        std::filesystem::remove_all(top, ignored);
    }
};

fixture& the_fixture() {
    static fixture f;
    return f;
}

void check_decoded(const httpd::decoded_target& d) {
    if (d.status != 0) {
        check(d.status == 400);
        return;
    }
    check(d.rel.empty() || (d.rel.front() != '/' && d.rel.back() != '/'));
    std::string_view rest = d.rel;
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        check(!seg.empty() && seg != "." && seg != "..");
        for (char c : seg) {
            const auto u = static_cast<unsigned char>(c);
            check(u >= 0x20 && u != 0x7f && c != '\\');
        }
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    check(!d.raw_path.empty() && d.raw_path.front() == '/');
    check(d.query.empty() || d.query.front() == '?');

    std::string encoded = "/";
    for (char c : d.rel) {
        if (c == '/') {
            encoded += c;
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
            encoded += hex;
        }
    }
    const httpd::decoded_target again = httpd::decode_target(encoded);
    check(again.status == 0 && again.rel == d.rel);
}

void check_beneath(int fd, const std::string& real_root) {
    if (fd < 0) return;
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char where[PATH_MAX];
    const ssize_t n = ::readlink(link, where, sizeof where - 1);
    ::close(fd);
    check(n > 0);
    const std::string_view opened(where, static_cast<std::size_t>(n));
    check(opened == real_root ||
          (opened.starts_with(real_root) && opened.size() > real_root.size() &&
           opened[real_root.size()] == '/'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fixture& f = the_fixture();
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    const httpd::decoded_target d = httpd::decode_target(target);
    check_decoded(d);
    if (d.status != 0 || d.rel.size() > 4096) return 0;
    check_beneath(f.with_openat2.open_beneath(d.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY),
                  f.real_root);
    check_beneath(f.with_realpath.open_beneath(d.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY),
                  f.real_root);
    return 0;
}

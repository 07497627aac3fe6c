#include "path_resolver.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>

namespace httpd {
// For the names of parameterised tests in gtest's output.
std::ostream& operator<<(std::ostream& os, document_root::mode m) {
    return os << (m == document_root::mode::automatic ? "automatic" : "fallback_only");
}
}  // namespace httpd

namespace {

namespace fs = std::filesystem;
using httpd::decode_target;

TEST(DecodeTarget, PlainPaths) {
    auto d = decode_target("/");
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.rel, "");
    EXPECT_TRUE(d.trailing_slash);
    d = decode_target("/a/b.html?x=1&y=../../etc#frag");
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.rel, "a/b.html");
    EXPECT_FALSE(d.trailing_slash);
    EXPECT_EQ(d.raw_path, "/a/b.html");
    EXPECT_EQ(d.query, "?x=1&y=../../etc");
    d = decode_target("/dir/");
    EXPECT_EQ(d.rel, "dir");
    EXPECT_TRUE(d.trailing_slash);
}

TEST(DecodeTarget, PercentDecoding) {
    auto d = decode_target("/a%20b/%C3%A9t%c3%a9.txt");
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.rel, "a b/\xc3\xa9t\xc3\xa9.txt");
    d = decode_target("/100%25");
    EXPECT_EQ(d.rel, "100%");
}

TEST(DecodeTarget, Normalisation) {
    EXPECT_EQ(decode_target("//a///b").rel, "a/b");
    EXPECT_EQ(decode_target("/./a/./b/.").rel, "a/b");
    EXPECT_EQ(decode_target("/...").rel, "...");  // a name, not a parent
    EXPECT_EQ(decode_target("/a..b").rel, "a..b");
}

TEST(DecodeTarget, AbsoluteForm) {
    auto d = decode_target("http://example.com/a/b?q");
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.rel, "a/b");
    EXPECT_EQ(decode_target("HTTP://example.com").rel, "");
}

TEST(DecodeTarget, EveryEscapeAttemptIsRefused) {
    for (const char* t : {
             "/..",
             "/../etc/passwd",
             "/a/../../etc/passwd",
             "/a/..",
             "/%2e%2e/etc/passwd",
             "/%2E%2E/etc/passwd",
             "/.%2e/x",
             "/%2e./x",
             "/a/%2e%2e",
             "/..%2fetc%2fpasswd",
             "/a%2f..%2f..%2fetc",
             "/a%2Fb",
             "/..\\etc",
             "/a\\..\\b",
             "/%5c..%5cetc",
             "/a%00.html",
             "/%00",
             "/a%0d%0aX: y",
             "/a%7f",
             "/%",
             "/%2",
             "/%zz",
             "/%2g",
             "*",
             "",
             "a/b",
             "http://host/../x",
         }) {
        EXPECT_NE(decode_target(t).status, 0) << t;
    }
}

// A document root with a file, a directory, a symlink inside and symlinks out of it.
class DocumentRoot : public ::testing::TestWithParam<httpd::document_root::mode> {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/httpd_resolver_testXXXXXX";
        ASSERT_TRUE(::mkdtemp(tmpl));
        base_ = tmpl;
        fs::create_directories(base_ / "root/sub");
        std::ofstream(base_ / "root/a.txt") << "A";
        std::ofstream(base_ / "root/sub/b.txt") << "B";
        std::ofstream(base_ / "secret.txt") << "S";
        fs::create_symlink("a.txt", base_ / "root/inside_link");
        fs::create_symlink("../secret.txt", base_ / "root/outside_rel");
        fs::create_symlink(base_ / "secret.txt", base_ / "root/outside_abs");
        fs::create_symlink("/etc", base_ / "root/etc_dir");
        fs::create_symlink("../a.txt", base_ / "root/sub/up_link");  // up, but still inside
        ASSERT_EQ(root_.open((base_ / "root").string(), GetParam()), "");
    }
    void TearDown() override { fs::remove_all(base_); }

    // What open_beneath gives: the content of the file, or "errno:N".
    std::string read(const std::string& rel) {
        const int fd = root_.open_beneath(rel, O_RDONLY);
        if (fd < 0) return "errno:" + std::to_string(-fd);
        char buf[16] = {};
        const ssize_t n = ::read(fd, buf, sizeof buf - 1);
        ::close(fd);
        return n >= 0 ? std::string(buf, static_cast<std::size_t>(n)) : "dir";
    }

    fs::path base_;
    httpd::document_root root_;
};

TEST_P(DocumentRoot, OpensInside) {
    EXPECT_EQ(read("a.txt"), "A");
    EXPECT_EQ(read("sub/b.txt"), "B");
    EXPECT_EQ(read("inside_link"), "A");  // symlinks that stay inside are followed
    EXPECT_EQ(read("sub/up_link"), "A");
    EXPECT_EQ(read("missing"), "errno:" + std::to_string(ENOENT));
    const int dir = root_.open_beneath("", O_RDONLY | O_DIRECTORY);
    EXPECT_GE(dir, 0);
    if (dir >= 0) ::close(dir);
}

TEST_P(DocumentRoot, SymlinksOutAreRefused) {
    EXPECT_EQ(read("outside_rel"), "errno:" + std::to_string(EXDEV));
    EXPECT_EQ(read("outside_abs"), "errno:" + std::to_string(EXDEV));
    EXPECT_EQ(read("etc_dir/passwd"), "errno:" + std::to_string(EXDEV));
    // Even if a ".." reached the resolver (decode_target refuses it first).
    EXPECT_EQ(read("../secret.txt"), "errno:" + std::to_string(EXDEV));
    EXPECT_EQ(read("sub/../../secret.txt"), "errno:" + std::to_string(EXDEV));
}

TEST_P(DocumentRoot, DecodedTargetsNeverLeave) {
    for (const char* t :
         {"/outside_rel", "/outside_abs", "/etc_dir/passwd", "/%2e%2e/secret.txt"}) {
        const auto d = decode_target(t);
        if (d.status != 0) continue;  // refused before the filesystem
        EXPECT_NE(read(d.rel), "S") << t;
        EXPECT_TRUE(read(d.rel).starts_with("errno:")) << t;
    }
}

INSTANTIATE_TEST_SUITE_P(BothWays, DocumentRoot,
                         ::testing::Values(httpd::document_root::mode::automatic,
                                           httpd::document_root::mode::fallback_only),
                         [](const auto& info) {
                             return info.param == httpd::document_root::mode::automatic
                                        ? std::string("openat2")
                                        : std::string("realpath");
                         });

TEST(DocumentRootKernel, UsesOpenat2WhereAvailable) {
    httpd::document_root root;
    ASSERT_EQ(root.open("/tmp"), "");
    // Linux 5.6 and later have openat2; the fallback is covered by the tests above.
    SUCCEED() << (root.uses_openat2() ? "openat2" : "realpath fallback");
}

}  // namespace

namespace {

// Random targets made of the characters that matter: whatever is accepted is a clean
// relative path, with no "..", no empty or "." segment, no backslash, NUL or control byte.
TEST(DecodeTarget, RandomTargetsNeverYieldAnEscape) {
    std::uint64_t seed = 42;
    const auto next = [&seed] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(seed >> 33);
    };
    const std::string_view pieces[] = {"/", ".", "..", "%2e", "%2E", "%2f", "%5c",   "\\",  "%00",
                                       "a", "%", "%4", "?",   "#",   "%25", "b.txt", "%0a", "//"};
    for (int round = 0; round < 50000; ++round) {
        std::string t = "/";
        for (std::uint32_t k = next() % 8; k > 0; --k)
            t += pieces[next() % std::size(pieces)];
        const auto d = decode_target(t);
        if (d.status != 0) continue;
        const std::string& rel = d.rel;
        EXPECT_FALSE(rel.starts_with("/")) << t;
        EXPECT_EQ(rel.find('\\'), std::string::npos) << t;
        for (char c : rel)
            EXPECT_GE(static_cast<unsigned char>(c), 0x20) << t;
        std::size_t from = 0;
        while (from <= rel.size() && !rel.empty()) {
            const std::size_t slash = rel.find('/', from);
            const std::string seg = rel.substr(from, slash - from);
            EXPECT_TRUE(!seg.empty() && seg != "." && seg != "..") << t << " -> " << rel;
            if (slash == std::string::npos) break;
            from = slash + 1;
        }
    }
}

}  // namespace

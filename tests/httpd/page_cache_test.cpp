#include "page_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

struct stat fake_stat(std::uint64_t ino, std::size_t size, std::int64_t mtime_ns) {
    struct stat st {};
    st.st_dev = 1;
    st.st_ino = ino;
    st.st_size = static_cast<off_t>(size);
    st.st_mtim.tv_sec = mtime_ns / kSecond;
    st.st_mtim.tv_nsec = mtime_ns % kSecond;
    return st;
}

std::shared_ptr<httpd::cached_file> file(const std::string& key, std::uint64_t ino,
                                         const std::string& body, std::int64_t mtime_ns = 0) {
    return httpd::make_cached_file(key, fake_stat(ino, body.size(), mtime_ns), "text/plain", body);
}

TEST(PageCache, EntryCarriesItsPrebuiltHead) {
    const auto f = file("a.txt", 1, "hello");
    EXPECT_TRUE(f->head_200.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_NE(f->head_200.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_NE(f->head_200.find("Content-Type: text/plain\r\n"), std::string::npos);
    EXPECT_NE(f->head_200.find("ETag: " + f->etag + "\r\n"), std::string::npos);
    EXPECT_NE(f->head_200.find("Last-Modified: " + f->last_modified + "\r\n"), std::string::npos);
    EXPECT_EQ(f->head_200.find("\r\n\r\n"), std::string::npos);  // Date etc. come per response
}

TEST(PageCache, FreshWithinASecondThenRevalidated) {
    httpd::page_cache cache(1 << 20, 64 * 1024);
    const auto f = file("a.txt", 1, "hello", 5 * kSecond);
    cache.insert(f, 100 * kSecond);
    EXPECT_EQ(cache.fresh("a.txt", 100 * kSecond + kSecond / 2), f);
    EXPECT_EQ(cache.fresh("a.txt", 101 * kSecond), nullptr);  // due for a check
    EXPECT_TRUE(cache.contains("a.txt"));
    // Same file: marked checked, fresh again.
    EXPECT_EQ(cache.validate("a.txt", f->id, 101 * kSecond), f);
    EXPECT_EQ(cache.fresh("a.txt", 101 * kSecond + 10), f);
    EXPECT_EQ(cache.fresh("b.txt", 101 * kSecond), nullptr);
}

TEST(PageCache, ChangedFileIsDropped) {
    httpd::page_cache cache(1 << 20, 64 * 1024);
    const auto f = file("a.txt", 1, "hello", 5 * kSecond);
    cache.insert(f, 0);
    const auto changed = httpd::file_identity::of(fake_stat(1, 5, 5 * kSecond + 1));  // mtime
    EXPECT_EQ(cache.validate("a.txt", changed, 2 * kSecond), nullptr);
    EXPECT_FALSE(cache.contains("a.txt"));
    EXPECT_EQ(cache.bytes(), 0u);
    // A replaced file (other inode, same size and time) is a change too.
    cache.insert(f, 0);
    EXPECT_EQ(cache.validate("a.txt", httpd::file_identity::of(fake_stat(2, 5, 5 * kSecond)),
                             2 * kSecond),
              nullptr);
    // Refreshing: insert the new version under the same key.
    const auto v2 = file("a.txt", 1, "hello, world", 6 * kSecond);
    cache.insert(v2, 3 * kSecond);
    EXPECT_EQ(cache.fresh("a.txt", 3 * kSecond), v2);
    EXPECT_EQ(cache.entries(), 1u);
    EXPECT_EQ(cache.bytes(), v2->cost());
}

TEST(PageCache, Forget) {
    httpd::page_cache cache(1 << 20, 64 * 1024);
    cache.insert(file("a", 1, "x"), 0);
    cache.forget("b");
    EXPECT_EQ(cache.entries(), 1u);
    cache.forget("a");
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PageCache, LeastRecentlyUsedIsEvicted) {
    const auto a = file("a", 1, std::string(100, 'a'));
    const auto b = file("b", 2, std::string(100, 'b'));
    const auto c = file("c", 3, std::string(100, 'c'));
    httpd::page_cache cache(a->cost() + b->cost() + 10, 64 * 1024);
    cache.insert(a, 0);
    cache.insert(b, 0);
    EXPECT_EQ(cache.entries(), 2u);
    EXPECT_EQ(cache.fresh("a", 1), a);  // a is now the most recently used
    cache.insert(c, 1);
    EXPECT_TRUE(cache.contains("a"));
    EXPECT_FALSE(cache.contains("b"));
    EXPECT_TRUE(cache.contains("c"));
    EXPECT_LE(cache.bytes(), cache.capacity());
}

TEST(PageCache, TooBigForTheCapacityIsNotKept) {
    httpd::page_cache cache(50, 64 * 1024);
    cache.insert(file("big", 1, std::string(100, 'x')), 0);
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_EQ(cache.bytes(), 0u);
    EXPECT_TRUE(cache.cacheable(10));
    EXPECT_FALSE(cache.cacheable(100));  // larger than the whole cache: sendfile instead
    EXPECT_TRUE(httpd::page_cache(1 << 20, 64 * 1024).cacheable(64 * 1024));
    EXPECT_FALSE(httpd::page_cache(1 << 20, 64 * 1024).cacheable(64 * 1024 + 1));
    EXPECT_FALSE(httpd::page_cache(0, 10).cacheable(1));
}

TEST(PageCache, EvictedEntryStaysAliveForItsReaders) {
    const auto a = file("a", 1, std::string(100, 'a'));
    httpd::page_cache cache(a->cost(), 64 * 1024);
    cache.insert(a, 0);
    std::shared_ptr<const httpd::cached_file> held = cache.fresh("a", 0);
    cache.insert(file("b", 2, std::string(100, 'b')), 0);
    EXPECT_FALSE(cache.contains("a"));
    EXPECT_EQ(held->body, std::string(100, 'a'));
}

TEST(PageCache, ReadWholeFile) {
    char path[] = "/tmp/httpd_page_cache_testXXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "0123456789", 10), 10);
    EXPECT_EQ(httpd::read_whole_file(fd, 10), "0123456789");
    EXPECT_FALSE(httpd::read_whole_file(fd, 20));  // shorter than said: changed meanwhile
    ::close(fd);
    ::unlink(path);
}

}  // namespace

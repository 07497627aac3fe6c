#include "access_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

TEST(AccessLog, EscapesWhatCouldForgeALine) {
    EXPECT_EQ(httpd::log_escape("GET /a HTTP/1.1"), "GET /a HTTP/1.1");
    EXPECT_EQ(httpd::log_escape("a\r\nb"), "a\\x0d\\x0ab");
    EXPECT_EQ(httpd::log_escape("\"q\\"), "\\x22q\\x5c");
    EXPECT_EQ(httpd::log_escape(std::string("\x00\xff", 2)), "\\x00\\xff");
}

TEST(AccessLog, CommonLogFormatLines) {
    char path[] = "/tmp/httpd_access_log_testXXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        httpd::access_log log;
        EXPECT_FALSE(log.enabled());
        ASSERT_EQ(log.open(path), "");
        EXPECT_TRUE(log.enabled());
        log.record("127.0.0.1", "GET /index.html HTTP/1.1", 200, 1234);
        log.record("::1", "GET /x\ny HTTP/1.1", 404, 0);
    }
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    ::unlink(path);
    const std::regex line1(
        R"(127\.0\.0\.1 - - \[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /index\.html HTTP/1\.1" 200 1234)");
    std::string first;
    std::string second;
    std::getline(all, first);
    std::getline(all, second);
    EXPECT_TRUE(std::regex_match(first, line1)) << first;
    EXPECT_TRUE(second.ends_with("\"GET /x\\x0ay HTTP/1.1\" 404 0")) << second;
    EXPECT_TRUE(second.starts_with("::1 - - ["));
}

TEST(AccessLog, BadDestination) {
    httpd::access_log log;
    EXPECT_NE(log.open("/nonexistent/dir/log"), "");
    EXPECT_FALSE(log.enabled());
    log.record("x", "y", 200, 0);  // harmless when off
}

}  // namespace

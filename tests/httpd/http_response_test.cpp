#include "http_response.hpp"

#include <gtest/gtest.h>

namespace {

using httpd::parse_range;
using httpd::range_kind;

TEST(HttpDate, FormatsImfFixdate) {
    EXPECT_EQ(httpd::format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(httpd::format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(httpd::http_date_now().size(), 29u);
}

TEST(HttpDate, ParsesTheThreeForms) {
    EXPECT_EQ(httpd::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(httpd::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(httpd::parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_FALSE(httpd::parse_http_date("yesterday"));
    EXPECT_FALSE(httpd::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
    EXPECT_FALSE(httpd::parse_http_date(""));
    EXPECT_FALSE(httpd::parse_http_date(std::string(200, 'x')));
}

TEST(Ranges, Forms) {
    auto r = parse_range("bytes=0-9", 100);
    EXPECT_EQ(r.kind, range_kind::single);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 9u);
    r = parse_range("bytes=90-", 100);
    EXPECT_EQ(r.kind, range_kind::single);
    EXPECT_EQ(r.first, 90u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=-10", 100);
    EXPECT_EQ(r.kind, range_kind::single);
    EXPECT_EQ(r.first, 90u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=-1000", 100);  // more than the file: all of it
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=50-1000", 100);  // clamped
    EXPECT_EQ(r.last, 99u);
    r = parse_range(" Bytes = 5 - 6 ", 100);
    EXPECT_EQ(r.kind, range_kind::single);
    EXPECT_EQ(r.first, 5u);
    EXPECT_EQ(r.last, 6u);
}

TEST(Ranges, Unsatisfiable) {
    EXPECT_EQ(parse_range("bytes=100-", 100).kind, range_kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=100-200", 100).kind, range_kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-0", 100).kind, range_kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-", 0).kind, range_kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-5", 0).kind, range_kind::unsatisfiable);
}

TEST(Ranges, IgnoredMeansWholeBody) {
    EXPECT_EQ(parse_range("bytes=0-1,5-6", 100).kind, range_kind::none);  // several
    EXPECT_EQ(parse_range("bytes=9-1", 100).kind, range_kind::none);      // backwards
    EXPECT_EQ(parse_range("items=0-1", 100).kind, range_kind::none);
    EXPECT_EQ(parse_range("bytes=x-1", 100).kind, range_kind::none);
    EXPECT_EQ(parse_range("bytes=1", 100).kind, range_kind::none);
    EXPECT_EQ(parse_range("bytes=-", 100).kind, range_kind::none);
    EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100).kind, range_kind::none);
    EXPECT_EQ(parse_range("", 100).kind, range_kind::none);
}

httpd::request with(std::string_view inm, std::string_view ims) {
    httpd::request r;
    r.kind = httpd::method_kind::get;
    r.if_none_match = inm;
    r.if_modified_since = ims;
    return r;
}

TEST(Conditionals, IfNoneMatch) {
    const std::string etag = "\"1-2-3\"";
    EXPECT_TRUE(httpd::not_modified(with("\"1-2-3\"", ""), etag, 0));
    EXPECT_TRUE(httpd::not_modified(with("W/\"1-2-3\"", ""), etag, 0));  // weak comparison
    EXPECT_TRUE(httpd::not_modified(with("\"x\", \"1-2-3\"", ""), etag, 0));
    EXPECT_TRUE(httpd::not_modified(with("*", ""), etag, 0));
    EXPECT_FALSE(httpd::not_modified(with("\"x\"", ""), etag, 0));
    // If-None-Match wins over If-Modified-Since.
    EXPECT_FALSE(httpd::not_modified(with("\"x\"", "Sun, 06 Nov 2094 08:49:37 GMT"), etag, 0));
}

TEST(Conditionals, IfModifiedSince) {
    const std::time_t mtime = 784111777;
    EXPECT_TRUE(httpd::not_modified(with("", "Sun, 06 Nov 1994 08:49:37 GMT"), "\"e\"", mtime));
    EXPECT_TRUE(httpd::not_modified(with("", "Mon, 07 Nov 1994 08:49:37 GMT"), "\"e\"", mtime));
    EXPECT_FALSE(httpd::not_modified(with("", "Sun, 06 Nov 1994 08:49:36 GMT"), "\"e\"", mtime));
    EXPECT_FALSE(httpd::not_modified(with("", "garbage"), "\"e\"", mtime));
    httpd::request other = with("\"e\"", "");
    other.kind = httpd::method_kind::other;
    EXPECT_FALSE(httpd::not_modified(other, "\"e\"", mtime));
}

TEST(Conditionals, IfRange) {
    const std::time_t mtime = 784111777;
    EXPECT_TRUE(httpd::if_range_holds("", "\"e\"", mtime));
    EXPECT_TRUE(httpd::if_range_holds("\"e\"", "\"e\"", mtime));
    EXPECT_FALSE(httpd::if_range_holds("\"f\"", "\"e\"", mtime));
    EXPECT_FALSE(httpd::if_range_holds("W/\"e\"", "\"e\"", mtime));
    EXPECT_TRUE(httpd::if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", mtime));
    EXPECT_FALSE(httpd::if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", "\"e\"", mtime));
}

TEST(Heads, ErrorResponse) {
    const std::string r = httpd::error_response(405, false, "Allow: GET, HEAD\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    EXPECT_NE(r.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nDate: "), std::string::npos);
    EXPECT_NE(r.find("\r\nServer: "), std::string::npos);
    const std::size_t end = r.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    const std::string body = r.substr(end + 4);
    EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
    const std::string head = httpd::error_response(404, true);
    EXPECT_TRUE(head.ends_with("\r\n\r\n"));  // HEAD: no body, same Content-Length
    EXPECT_NE(head.find("Content-Length: "), std::string::npos);
}

TEST(Heads, TailHasDateAndConnection) {
    const std::string_view keep = httpd::head_tail(true);
    EXPECT_TRUE(keep.starts_with("Date: "));
    EXPECT_TRUE(keep.ends_with("\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_TRUE(httpd::head_tail(false).ends_with("\r\nConnection: close\r\n\r\n"));
}

TEST(Heads, PartialContentAndNotModified) {
    const std::string h = httpd::build_head(206, "text/plain", 10, "bytes 0-9/100",
                                            "Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", true);
    EXPECT_TRUE(h.starts_with("HTTP/1.1 206 Partial Content\r\n"));
    EXPECT_NE(h.find("\r\nContent-Type: text/plain\r\n"), std::string::npos);
    EXPECT_NE(h.find("\r\nContent-Length: 10\r\n"), std::string::npos);
    EXPECT_NE(h.find("\r\nContent-Range: bytes 0-9/100\r\n"), std::string::npos);
    EXPECT_NE(h.find("\r\nETag: \"e\"\r\n"), std::string::npos);
    EXPECT_TRUE(h.ends_with("\r\nConnection: keep-alive\r\n\r\n"));
    // A 304 has neither Content-Type nor Content-Length.
    const std::string n =
        httpd::build_head(304, "", 0, "", "Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", false, false);
    EXPECT_TRUE(n.starts_with("HTTP/1.1 304 Not Modified\r\n"));
    EXPECT_EQ(n.find("Content-"), std::string::npos);
    EXPECT_TRUE(n.ends_with("\r\nConnection: close\r\n\r\n"));
}

TEST(Heads, MovedPermanently) {
    const std::string h = httpd::moved_permanently_head("/dir/?q=1", true);
    EXPECT_TRUE(h.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
    EXPECT_NE(h.find("\r\nLocation: /dir/?q=1\r\n"), std::string::npos);
    EXPECT_NE(h.find("\r\nContent-Length: 0\r\n"), std::string::npos);
    EXPECT_TRUE(h.ends_with("\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(Plan, StatusAndBytes) {
    const std::time_t mtime = 784111777;
    httpd::request whole;
    httpd::response_plan p = httpd::plan_response(whole, 100, "\"e\"", mtime);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.first, 0u);
    EXPECT_EQ(p.length, 100u);
    EXPECT_EQ(p.content_range, "");

    EXPECT_EQ(httpd::plan_response(with("\"e\"", ""), 100, "\"e\"", mtime).status, 304);

    httpd::request part;
    part.range = "bytes=10-19";
    p = httpd::plan_response(part, 100, "\"e\"", mtime);
    EXPECT_EQ(p.status, 206);
    EXPECT_EQ(p.first, 10u);
    EXPECT_EQ(p.length, 10u);
    EXPECT_EQ(p.content_range, "bytes 10-19/100");

    part.range = "bytes=200-";
    p = httpd::plan_response(part, 100, "\"e\"", mtime);
    EXPECT_EQ(p.status, 416);
    EXPECT_EQ(p.length, 0u);
    EXPECT_EQ(p.content_range, "bytes */100");

    // If-Range with another validator: the whole body.
    part.range = "bytes=10-19";
    part.if_range = "\"f\"";
    p = httpd::plan_response(part, 100, "\"e\"", mtime);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.length, 100u);
}

TEST(Heads, ReasonPhrases) {
    EXPECT_EQ(httpd::reason_phrase(200), "OK");
    EXPECT_EQ(httpd::reason_phrase(206), "Partial Content");
    EXPECT_EQ(httpd::reason_phrase(416), "Range Not Satisfiable");
    EXPECT_EQ(httpd::reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(httpd::reason_phrase(501), "Not Implemented");
    EXPECT_EQ(httpd::reason_phrase(505), "HTTP Version Not Supported");
}

// Every status the server sends (README.md's lists) has its phrase, not the fallback.
TEST(Heads, EveryStatusTheServerSendsHasItsReasonPhrase) {
    for (int status : {200, 206, 301, 304, 400, 403, 404, 405, 408, 413, 414, 416, 417, 431, 500,
                       501, 503, 505}) {
        EXPECT_NE(httpd::reason_phrase(status), "Unknown") << status;
    }
    EXPECT_EQ(httpd::reason_phrase(299), "Unknown");
}

TEST(Etag, ChangesWithEveryPart) {
    const std::string e = httpd::make_etag(10, 20, 30);
    EXPECT_EQ(e.front(), '"');
    EXPECT_EQ(e.back(), '"');
    EXPECT_NE(e, httpd::make_etag(11, 20, 30));
    EXPECT_NE(e, httpd::make_etag(10, 21, 30));
    EXPECT_NE(e, httpd::make_etag(10, 20, 31));
}

}  // namespace

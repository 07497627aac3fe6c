#include "http_request.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using httpd::method_kind;
using httpd::parse_state;
using httpd::request_parser;

// Parses a whole buffer at once. The request's views point into `text`, kept alive here.
struct parsed {
    std::shared_ptr<const std::string> text;
    parse_state state;
    int status;
    httpd::request req;
    std::size_t consumed;
};
parsed parse_all(std::string s, httpd::request_limits limits = {}) {
    auto text = std::make_shared<const std::string>(std::move(s));
    request_parser p(limits);
    const parse_state st = p.parse(*text);
    return {text, st, p.error_status(), p.get(), p.consumed()};
}

int status_of(const std::string& s, httpd::request_limits limits = {}) {
    const parsed r = parse_all(s, limits);
    EXPECT_EQ(r.state, parse_state::error) << s;
    return r.status;
}

TEST(RequestParser, SimpleGet) {
    const std::string s =
        "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    const parsed r = parse_all(s);
    ASSERT_EQ(r.state, parse_state::done);
    EXPECT_EQ(r.req.method, "GET");
    EXPECT_EQ(r.req.kind, method_kind::get);
    EXPECT_EQ(r.req.target, "/index.html?x=1");
    EXPECT_EQ(r.req.version_minor, 1);
    EXPECT_TRUE(r.req.keep_alive);
    EXPECT_EQ(r.req.host, "example.com");
    EXPECT_EQ(r.consumed, s.size());
}

TEST(RequestParser, HeadAndConditionalHeaders) {
    const std::string s =
        "HEAD / HTTP/1.1\r\nhost: h\r\nIF-MODIFIED-SINCE:  Sun, 06 Nov 1994 08:49:37 GMT \r\n"
        "If-None-Match: \"abc\"\r\nRange: bytes=0-9\r\nIf-Range: \"abc\"\r\n\r\n";
    const parsed r = parse_all(s);
    ASSERT_EQ(r.state, parse_state::done);
    EXPECT_EQ(r.req.kind, method_kind::head);
    EXPECT_EQ(r.req.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(r.req.if_none_match, "\"abc\"");
    EXPECT_EQ(r.req.range, "bytes=0-9");
    EXPECT_EQ(r.req.if_range, "\"abc\"");
}

TEST(RequestParser, KeepAliveRules) {
    EXPECT_FALSE(parse_all("GET / HTTP/1.0\r\n\r\n").req.keep_alive);
    EXPECT_TRUE(parse_all("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").req.keep_alive);
    EXPECT_FALSE(
        parse_all("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").req.keep_alive);
    EXPECT_FALSE(
        parse_all("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n").req.keep_alive);
    EXPECT_TRUE(parse_all("GET / HTTP/1.1\r\nHost: h\r\n\r\n").req.keep_alive);
}

TEST(RequestParser, OneZeroNeedsNoHostAndBareLfIsAccepted) {
    const parsed r = parse_all("GET /a HTTP/1.0\n\n");
    ASSERT_EQ(r.state, parse_state::done);
    EXPECT_EQ(r.req.version_minor, 0);
    EXPECT_EQ(r.req.target, "/a");
}

TEST(RequestParser, LeadingBlankLinesAreSkipped) {
    const parsed r = parse_all("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.state, parse_state::done);
    EXPECT_EQ(r.req.target, "/");
}

TEST(RequestParser, OtherMethodsParse) {
    const parsed r = parse_all("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.state, parse_state::done);
    EXPECT_EQ(r.req.kind, method_kind::other);
    EXPECT_EQ(r.req.method, "DELETE");
}

TEST(RequestParser, MethodsOfTheRegistryAreToldFromUnrecognizedOnes) {
    const auto kind = [](std::string_view method) {
        const parsed r = parse_all(std::string(method) + " /x HTTP/1.1\r\nHost: h\r\n\r\n");
        EXPECT_EQ(r.state, parse_state::done) << method;
        return r.req.kind;
    };
    EXPECT_EQ(kind("GET"), method_kind::get);
    EXPECT_EQ(kind("HEAD"), method_kind::head);
    for (std::string_view m : {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
        EXPECT_EQ(kind(m), method_kind::other) << m;
    }
    // Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.
    for (std::string_view m : {"get", "Head", "FOO", "PROPFIND", "GETX", "POS"}) {
        EXPECT_EQ(kind(m), method_kind::unrecognized) << m;
    }
}

// RFC 9110 10.1.1: a 1.1 request with Expect: 100-continue and a body to come is answered
// "100 Continue" before its body is read; 1.0's expectations are ignored; others get 417.
TEST(RequestParser, ExpectContinueIsAwaitedOnlyWhileTheBodyIsMissing) {
    const std::string head =
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n";
    request_parser p;
    EXPECT_FALSE(p.awaits_continue());
    EXPECT_EQ(p.parse(head.substr(0, head.size() - 2)), parse_state::incomplete);
    EXPECT_FALSE(p.awaits_continue());  // the head is not complete yet
    EXPECT_EQ(p.parse(head), parse_state::incomplete);
    EXPECT_TRUE(p.awaits_continue());
    EXPECT_EQ(p.parse(head + "he"), parse_state::incomplete);
    EXPECT_TRUE(p.awaits_continue());
    EXPECT_EQ(p.parse(head + "hello"), parse_state::done);
    EXPECT_FALSE(p.awaits_continue());
    EXPECT_EQ(p.consumed(), head.size() + 5);

    request_parser whole;  // the body came with the head: nothing to ask for
    EXPECT_EQ(whole.parse(head + "hello"), parse_state::done);
    EXPECT_FALSE(whole.awaits_continue());

    request_parser old;  // HTTP/1.0: ignored
    EXPECT_EQ(old.parse("POST /x HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
              parse_state::incomplete);
    EXPECT_FALSE(old.awaits_continue());

    request_parser chunked;
    EXPECT_EQ(chunked.parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                            "Expect: 100-continue\r\n\r\n"),
              parse_state::incomplete);
    EXPECT_TRUE(chunked.awaits_continue());
}

TEST(RequestParser, AnExpectationOtherThanContinueGets417) {
    for (std::string_view value : {"something", "100-continue, x-other", "100-continue=1"}) {
        request_parser p;
        EXPECT_EQ(
            p.parse("GET /x HTTP/1.1\r\nHost: h\r\nExpect: " + std::string(value) + "\r\n\r\n"),
            parse_state::error)
            << value;
        EXPECT_EQ(p.error_status(), 417) << value;
    }
    request_parser old;  // HTTP/1.0: ignored
    EXPECT_EQ(old.parse("GET /x HTTP/1.0\r\nExpect: something\r\n\r\n"), parse_state::done);
}

TEST(RequestParser, SmallBodyIsPartOfTheRequest) {
    const std::string s = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhel";
    request_parser p;
    EXPECT_EQ(p.parse(s), parse_state::incomplete);
    EXPECT_EQ(p.parse(s + "lo"), parse_state::done);
    EXPECT_EQ(p.consumed(), s.size() + 2);
    EXPECT_EQ(p.get().content_length, 5u);
}

TEST(RequestParser, IncompleteUntilTheBlankLine) {
    request_parser p;
    EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: h\r\n"), parse_state::incomplete);
    EXPECT_FALSE(p.parse("GET / HTTP/1.1\r\nHost: h\r\n") == parse_state::done);
    EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: h\r\n\r"), parse_state::incomplete);
    EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), parse_state::done);
}

// Three pipelined requests, delivered in two pieces cut at every byte boundary, and one
// byte at a time: always the same three requests, in order.
const std::string kPipeline =
    "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
    "HEAD /two HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\n\r\n"
    "POST /three HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";

std::vector<std::string> feed(const std::vector<std::size_t>& cuts) {
    std::vector<std::string> got;
    request_parser p;
    std::string buf;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        buf.append(kPipeline, from, cut - from);
        from = cut;
        for (;;) {
            const parse_state st = p.parse(buf);
            if (st == parse_state::error) return {"error"};
            if (st == parse_state::incomplete) break;
            const httpd::request& r = p.get();
            got.push_back(std::string(r.method) + " " + std::string(r.target) + " " +
                          std::string(r.range) + " " + std::to_string(r.keep_alive));
            buf.erase(0, p.consumed());
            p.reset();
        }
    }
    if (!buf.empty()) got.push_back("leftover");
    return got;
}

TEST(RequestParser, PipeliningSplitAtEveryByteBoundary) {
    const std::vector<std::string> expected = {"GET /one  1", "HEAD /two bytes=1-2 1",
                                               "POST /three  0"};
    for (std::size_t i = 0; i <= kPipeline.size(); ++i) {
        EXPECT_EQ(feed({i, kPipeline.size()}), expected) << "cut at " << i;
    }
    std::vector<std::size_t> bytewise;
    for (std::size_t i = 1; i <= kPipeline.size(); ++i)
        bytewise.push_back(i);
    EXPECT_EQ(feed(bytewise), expected);
}

TEST(RequestParser, MalformedRequestLines) {
    EXPECT_EQ(status_of("GET\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);                       // HTTP/0.9
    EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);  // two spaces
    EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTQ/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.x\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/\r\n\r\n"), 400);
    EXPECT_EQ(status_of("G(T / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /a\rb HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of(" GET / HTTP/1.1\r\n\r\n"), 400);
}

TEST(RequestParser, JunkIsRefusedBeforeTheLineEnds) {
    request_parser p;
    EXPECT_EQ(p.parse(std::string("\x16\x03\x01\x02\x00", 5)), parse_state::error);  // TLS
    EXPECT_EQ(p.error_status(), 400);
    request_parser q;
    EXPECT_EQ(q.parse("GE"), parse_state::incomplete);
    EXPECT_EQ(q.parse("GE\x01"), parse_state::error);
}

TEST(RequestParser, UnsupportedVersions) {
    EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/3\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/1.10\r\n\r\n"), 505);
    // 1.x is HTTP/1: answered as 1.1.
    EXPECT_EQ(parse_all("GET / HTTP/1.2\r\nHost: h\r\n\r\n").state, parse_state::done);
}

TEST(RequestParser, MalformedHeaders) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost h\r\n\r\n"), 400);              // no colon
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);            // space before :
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n: h\r\n\r\n"), 400);                 // empty name
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"), 400);  // obs-fold
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHo(st: h\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), 400);  // bare CR
}

// RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, with more than one, or with one
// whose value is not a valid host (RFC 9110 7.2, RFC 3986 3.2.2 and 3.2.3).
TEST(RequestParser, HostRules) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    for (const char* bad :
         {"a b", "a/b", "a@b", "a:b:c", "a:8o", "[::1", "[::1]x", "[::g]", "[1.2.3.4]", "[v1.]",
          "[vz.a]", "%zz", "a%4", "a\"b", "a?b", "a#b", "[::1]:80:80", "a<b>", "a\\b"}) {
        EXPECT_EQ(status_of(std::string("GET / HTTP/1.1\r\nHost: ") + bad + "\r\n\r\n"), 400)
            << bad;
    }
    for (const char* good :
         {"", "a", "example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:", "[::1]",
          "[::1]:80", "[2001:db8::1]:443", "[v7.a:b]", "xn--d1acufc.xn--p1ai", "a%20b",
          "a!$&'()*+,;=b", "under_score.~tilde-"}) {
        const parsed r = parse_all(std::string("GET / HTTP/1.1\r\nHost: ") + good + "\r\n\r\n");
        EXPECT_EQ(r.state, parse_state::done) << good;
        EXPECT_EQ(r.req.host, good);
    }
}

// RFC 9112 6.1 and 6.3: what a Transfer-Encoding field asks, and the answer to each case.
TEST(RequestParser, TransferEncodingRules) {
    const auto te = [](std::string codings, std::string extra = "", std::string version = "1.1") {
        return status_of("POST / HTTP/" + version + "\r\nHost: h\r\nTransfer-Encoding: " + codings +
                         "\r\n" + extra + "\r\n0\r\n\r\n");
    };
    EXPECT_EQ(te("gzip, chunked"), 501);  // a coding it does not implement
    EXPECT_EQ(te("x-custom, chunked"), 501);
    EXPECT_EQ(te("gzip"), 400);  // chunked not last: no body length
    EXPECT_EQ(te("chunked, gzip"), 400);
    EXPECT_EQ(te("identity"), 400);          // removed from the registry by RFC 9112
    EXPECT_EQ(te("chunked, chunked"), 400);  // chunked twice (7.1)
    EXPECT_EQ(te("chunked;q=1"), 400);       // chunked has no parameters
    EXPECT_EQ(te("chunk ed"), 400);          // not a token
    EXPECT_EQ(te("chunked", "Content-Length: 5\r\n"), 400);  // smuggling-shaped
    EXPECT_EQ(te("chunked", "", "1.0"), 400);                // faulty framing in HTTP/1.0
    EXPECT_EQ(te("chunked", "Transfer-Encoding: chunked\r\n"), 400);
    EXPECT_EQ(te("gzip", "Transfer-Encoding: chunked\r\n"), 501);  // codings add up in order
    // Case does not matter, and empty list elements are allowed.
    EXPECT_EQ(parse_all("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n"
                        "0\r\n\r\n")
                  .state,
              parse_state::done);
}

// RFC 9112 7.1: a chunked body is decoded far enough to know where it ends, so that the
// connection stays framed: the next request starts after its trailer section.
TEST(RequestParser, ChunkedBodiesAreFramed) {
    const std::string head = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    for (const std::string& body :
         {std::string("0\r\n\r\n"), std::string("5\r\nhello\r\n0\r\n\r\n"),
          std::string("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
          std::string("000A\r\n0123456789\r\n0\r\n\r\n"),
          std::string("a\r\n0123456789\r\n0\r\n\r\n"),
          std::string("5;name=value;flag\r\nhello\r\n0 ; last=\"a;b\\\"c\"\r\n\r\n"),
          std::string("5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 42\r\n\r\n"),
          std::string("5\nhello\n0\n\n"),
          std::string("4\r\n\r\n\r\n\r\n0\r\n\r\n")}) {  // data may hold line ends
        const parsed r = parse_all(head + body + next);
        ASSERT_EQ(r.state, parse_state::done) << body;
        EXPECT_EQ(r.consumed, head.size() + body.size()) << body;
        EXPECT_EQ(r.req.target, "/up");
        EXPECT_TRUE(r.req.keep_alive);
        // Every split point gives the same end.
        for (std::size_t cut = head.size(); cut < head.size() + body.size(); ++cut) {
            request_parser p;
            const std::string all = head + body;
            ASSERT_EQ(p.parse(std::string_view(all).substr(0, cut)), parse_state::incomplete)
                << body << " cut at " << cut;
            ASSERT_EQ(p.parse(all), parse_state::done);
            EXPECT_EQ(p.consumed(), all.size());
        }
    }
}

// RFC 9112 7.1: malformed chunked framing gets 400; a body beyond the limit 413.
TEST(RequestParser, MalformedChunkedFramingIsRefused) {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const char* bad :
         {"\r\n", "x\r\n", "-1\r\n", "+5\r\nhello\r\n0\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n",
          "5 5\r\nhello\r\n", "5\r\nhelloXX0\r\n\r\n", "5\r\nhello\rX0\r\n\r\n", "5;\r\nhello\r\n",
          "5;=v\r\nhello\r\n", "5;n=\r\nhello\r\n", "5;n=\"open\r\nhello\r\n",
          "5;n=a b\r\nhello\r\n", "5\r\r\nhello\r\n", "0\r\nno colon\r\n\r\n",
          "0\r\n: no name\r\n\r\n", "0\r\n folded: x\r\n\r\n", "0\r\nBad\x01: x\r\n\r\n",
          "0\r\nX: bad\x7f\r\n\r\n"}) {
        EXPECT_EQ(status_of(head + bad), 400) << bad;
    }
    httpd::request_limits small;
    small.max_body = 16;
    EXPECT_EQ(status_of(head + "11\r\n", small), 413);                  // 17 > 16
    EXPECT_EQ(status_of(head + "8\r\n12345678\r\n9\r\n", small), 413);  // 8 + 9 > 16
    EXPECT_EQ(status_of(head + "ffffffffffffffffffff\r\n"), 413);       // beyond 64 bits
    // Leading zeros are not digits that count: this chunk is one byte.
    EXPECT_EQ(parse_all(head + "00000000000000000000001\r\nx\r\n0\r\n\r\n").state,
              parse_state::done);
    // Framing beyond kChunkedFramingBytes: a long extension, a long trailer.
    EXPECT_EQ(
        status_of(head + "1;n=" + std::string(httpd::kChunkedFramingBytes + 1024, 'a'), small),
        413);
    EXPECT_EQ(status_of(head + "0\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", small), 413);
}

TEST(RequestParser, ContentLengthRules) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                        "Content-Length: 2\r\n\r\nab"),
              400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n"), 413);
    EXPECT_EQ(
        status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        413);
    // The same length twice is allowed.
    EXPECT_EQ(parse_all("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1"
                        "\r\n\r\nx")
                  .state,
              parse_state::done);
}

TEST(RequestParser, UriLimit) {
    httpd::request_limits limits;
    const std::string ok =
        "GET /" + std::string(limits.max_uri - 1, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parse_all(ok).state, parse_state::done);
    const std::string big =
        "GET /" + std::string(limits.max_uri, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(status_of(big), 414);
    // Refused before the line ends.
    request_parser p;
    EXPECT_EQ(p.parse("GET /" + std::string(limits.max_uri + 10, 'a')), parse_state::error);
    EXPECT_EQ(p.error_status(), 414);
}

// Found by the fuzzer (tests/httpd/fuzz): the status of a refused request line depended on
// how it was split into reads. Each of these was answered one way at once and another way
// line by line (first the status at once, then the one split).
TEST(RequestParser, RefusalDoesNotDependOnHowTheLineIsSplit) {
    const httpd::request_limits small{64, 256, 4, 16};
    const auto split_status = [&](const std::string& s) {
        request_parser p(small);
        for (std::size_t n = 1; n <= s.size(); ++n) {
            if (p.parse(std::string_view(s).substr(0, n)) != parse_state::incomplete) break;
        }
        EXPECT_EQ(p.parse(s), parse_state::error) << s;
        return p.error_status();
    };
    // The fuzzer's input: a long target and no version (400, then 414).
    const std::string found = "POST http://" + std::string(78, '\0') + "Su" + std::string(6, '\0') +
                              "P/1.1\r\nHost: example-1-Ra\n\r\n";
    EXPECT_EQ(status_of(found, small), 414);
    EXPECT_EQ(split_status(found), 414);
    // A method longer than the head's limit (431, then 400).
    const std::string long_method = std::string(300, 'A') + " / HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(status_of(long_method, small), 400);
    EXPECT_EQ(split_status(long_method), 400);
    // A long target that crosses max_uri only past the head's limit (414, then 431).
    const std::string late_target =
        std::string(200, 'A') + " /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n";
    EXPECT_EQ(status_of(late_target, small), 431);
    EXPECT_EQ(split_status(late_target), 431);
    // A space first: an empty method (400), however far the target goes (then 414).
    const std::string no_method = " /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n";
    EXPECT_EQ(status_of(no_method, small), 400);
    EXPECT_EQ(split_status(no_method), 400);
}

TEST(RequestParser, HeaderLimits) {
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 100; ++i)
        many += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(status_of(many + "\r\n"), 431);  // 101 header lines
    const std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(17 * 1024, 'v');
    request_parser p;
    EXPECT_EQ(p.parse(big), parse_state::error);  // before the line even ends
    EXPECT_EQ(p.error_status(), 431);
    EXPECT_EQ(status_of(big + "\r\n\r\n"), 431);
}

TEST(RequestParser, ErrorsAreSticky) {
    request_parser p;
    EXPECT_EQ(p.parse("GET / HTTP/9.9\r\n"), parse_state::error);
    EXPECT_EQ(p.parse("GET / HTTP/9.9\r\nHost: h\r\n\r\n"), parse_state::error);
    EXPECT_EQ(p.error_status(), 505);
    p.reset();
    EXPECT_EQ(p.parse("GET / HTTP/1.0\r\n\r\n"), parse_state::done);
}

}  // namespace

namespace {

// Random bytes, and valid requests with random bytes changed, cut at random points: the
// parser never reads out of bounds (the sanitizer build checks), never claims more than it
// was given, and gives a status for every refusal.
TEST(RequestParser, RandomInputIsHandled) {
    std::uint64_t seed = 12345;
    const auto next = [&seed] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(seed >> 33);
    };
    const std::string valid =
        "GET /a/b.html?q=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nContent-Length: 3\r\n"
        "Connection: keep-alive\r\n\r\nxyz";
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        if (round % 2 == 0) {
            s.resize(next() % 200);
            for (char& c : s)
                c = static_cast<char>(next() % 256);
        } else {
            s = valid;
            for (std::uint32_t k = next() % 4 + 1; k > 0; --k)
                s[next() % s.size()] = static_cast<char>(next() % 256);
        }
        request_parser p;
        const std::size_t cut = s.empty() ? 0 : next() % s.size();
        parse_state st = p.parse(std::string_view(s).substr(0, cut));
        if (st == parse_state::incomplete) st = p.parse(s);
        if (st == parse_state::done) {
            EXPECT_LE(p.consumed(), s.size());
            EXPECT_GT(p.consumed(), 0u);
        } else if (st == parse_state::error) {
            const int status = p.error_status();
            EXPECT_TRUE(status == 400 || status == 413 || status == 414 || status == 417 ||
                        status == 431 || status == 501 || status == 505)
                << status;
        }
    }
}

}  // namespace

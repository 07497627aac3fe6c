// loadgen's statistics and HTTP parsing on synthetic input.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "http.hpp"
#include "stats.hpp"

namespace {

using loadgen::sample;

TEST(Trim, PaperRuleFromTenThousandSamples) {
    EXPECT_EQ(loadgen::trim_each_end(10000), 1000u);
    EXPECT_EQ(loadgen::trim_each_end(1000000), 1000u);
    EXPECT_TRUE(loadgen::trim_is_paper(10000));
}

TEST(Trim, ProportionalBelow) {
    EXPECT_EQ(loadgen::trim_each_end(9999), 999u);
    EXPECT_EQ(loadgen::trim_each_end(2000), 200u);
    EXPECT_EQ(loadgen::trim_each_end(19), 1u);
    EXPECT_EQ(loadgen::trim_each_end(9), 0u);
    EXPECT_EQ(loadgen::trim_each_end(0), 0u);
    EXPECT_FALSE(loadgen::trim_is_paper(9999));
}

// 12,000 samples: the 1,000 first and last to start are outliers (ramp-up and ramp-down);
// the 10,000 in between take 1..10,000 us. The outliers must not show.
TEST(Summarize, DiscardsTheFirstAndLastThousandByStartTime) {
    std::vector<sample> v;
    for (int i = 0; i < 12000; ++i) {
        const bool edge = i < 1000 || i >= 11000;
        v.push_back(sample{i * 10, edge ? 1'000'000 : i - 999, 200, true});
    }
    std::shuffle(v.begin(), v.end(), std::mt19937(42));  // completion order is not start order
    const loadgen::summary s = loadgen::summarize(v, 2.0);
    EXPECT_EQ(s.requests, 12000u);
    EXPECT_EQ(s.ok, 12000u);
    EXPECT_EQ(s.failed, 0u);
    EXPECT_TRUE(s.trim_paper);
    EXPECT_EQ(s.trimmed_each_end, 1000u);
    EXPECT_EQ(s.kept, 10000u);
    EXPECT_DOUBLE_EQ(s.mean_ms, 5000.5 / 1000);    // mean of 1..10000 us
    EXPECT_DOUBLE_EQ(s.median_ms, 5000.5 / 1000);  // (5000 + 5001) / 2 us
    EXPECT_DOUBLE_EQ(s.requests_per_s, 6000);
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end(), [](const sample& a, const sample& b) {
        return a.start_us < b.start_us;
    }));
}

TEST(Summarize, ShortRunTrimsTenPercent) {
    std::vector<sample> v;
    for (int i = 0; i < 100; ++i)
        v.push_back(sample{i, i < 10 || i >= 90 ? 999'000 : 2000, 200, true});
    const loadgen::summary s = loadgen::summarize(v, 1.0);
    EXPECT_FALSE(s.trim_paper);
    EXPECT_EQ(s.trimmed_each_end, 10u);
    EXPECT_EQ(s.kept, 80u);
    EXPECT_DOUBLE_EQ(s.mean_ms, 2.0);
    EXPECT_DOUBLE_EQ(s.median_ms, 2.0);
}

TEST(Summarize, OddMedianAndFailuresKeepTheirPlace) {
    // 11 samples: 10% of 11 rounds down to one discarded at each end.
    std::vector<sample> v;
    for (int i = 0; i < 11; ++i)
        v.push_back(sample{i, (i + 1) * 1000, 200, true});
    v[5].ok = false;  // a failure in the window counts in `failed`, not in the times
    v[5].status = 500;
    const loadgen::summary s = loadgen::summarize(v, 1.0);
    EXPECT_EQ(s.trimmed_each_end, 1u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.ok, 10u);
    // Window: samples 1..9 without 5: 2,3,4,5,7,8,9,10 ms; mean 6, median (5+7)/2.
    EXPECT_EQ(s.kept, 8u);
    EXPECT_DOUBLE_EQ(s.mean_ms, 6.0);
    EXPECT_DOUBLE_EQ(s.median_ms, 6.0);
    // Odd count: the middle one.
    std::vector<sample> w = {{0, 1000, 200, true}, {1, 7000, 200, true}, {2, 3000, 200, true}};
    EXPECT_DOUBLE_EQ(loadgen::summarize(w, 1.0).median_ms, 3.0);
}

// l_m = n * t_r / t: an ideal run of load l has t = n * t_r / l, so l_m = l.
TEST(MeasuredLoad, IdealRunGivesTheOfferedLoad) {
    EXPECT_DOUBLE_EQ(loadgen::measured_load(10000, 0.010, 10000 * 0.010 / 100), 100.0);
    EXPECT_DOUBLE_EQ(loadgen::measured_load(5, 1.0, 0.0), 0.0);
    // 50 clients back to back, 200 requests each of 5 ms: t = 1 s, l_m = 50.
    std::vector<sample> v;
    for (int c = 0; c < 50; ++c)
        for (int k = 0; k < 200; ++k)
            v.push_back(sample{k * 5000, 5000, 200, true});
    const loadgen::summary s = loadgen::summarize(v, 1.0);
    EXPECT_DOUBLE_EQ(s.measured_load, 50.0);
    // Idle half the time: half the load.
    EXPECT_DOUBLE_EQ(loadgen::summarize(v, 2.0).measured_load, 25.0);
}

TEST(Summarize, Empty) {
    std::vector<sample> v;
    const loadgen::summary s = loadgen::summarize(v, 0.0);
    EXPECT_EQ(s.requests, 0u);
    EXPECT_EQ(s.kept, 0u);
    EXPECT_DOUBLE_EQ(s.mean_ms, 0.0);
}

TEST(Url, SimpleForms) {
    std::optional<loadgen::url> u = loadgen::parse_url("http://127.0.0.1:8080/index.html");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 8080);
    EXPECT_EQ(u->path, "/index.html");
    EXPECT_EQ(u->address, cpc::endpoint::loopback_v4(8080));
    u = loadgen::parse_url("http://localhost:81");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->path, "/");
    EXPECT_EQ(u->address, cpc::endpoint::loopback_v4(81));
    u = loadgen::parse_url("http://127.0.0.1/");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 80);
    EXPECT_FALSE(loadgen::parse_url("https://127.0.0.1:1/"));
    EXPECT_FALSE(loadgen::parse_url("http://127.0.0.1:0/"));
    EXPECT_FALSE(loadgen::parse_url("http://127.0.0.1:99999/"));
    EXPECT_FALSE(loadgen::parse_url("http://example.org/"));
}

TEST(Request, CloseOrKeepAlive) {
    const loadgen::url u = *loadgen::parse_url("http://127.0.0.1:8080/a");
    EXPECT_EQ(loadgen::make_request(u, false).substr(0, 20), "GET /a HTTP/1.0\r\nHos");
    const std::string k = loadgen::make_request(u, true);
    EXPECT_EQ(k.substr(0, 17), "GET /a HTTP/1.1\r\n");
    EXPECT_NE(k.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_EQ(k.substr(k.size() - 4), "\r\n\r\n");
}

TEST(Head, Parse) {
    loadgen::response_head h;
    EXPECT_EQ(loadgen::parse_head("HTTP/1.0 200 OK\r\nContent-Le", h),
              loadgen::head_state::incomplete);
    const std::string r10 =
        "HTTP/1.0 200 OK\r\ncontent-length: 305\r\nConnection: close\r\n\r\nxyz";
    ASSERT_EQ(loadgen::parse_head(r10, h), loadgen::head_state::done);
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.content_length, 305u);
    EXPECT_FALSE(h.keep_alive);
    EXPECT_EQ(h.header_bytes, r10.size() - 3);

    ASSERT_EQ(loadgen::parse_head("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", h),
              loadgen::head_state::done);
    EXPECT_EQ(h.status, 404);
    EXPECT_TRUE(h.keep_alive);  // HTTP/1.1 default
    ASSERT_EQ(
        loadgen::parse_head("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\n", h),
        loadgen::head_state::done);
    EXPECT_FALSE(h.keep_alive);
    ASSERT_EQ(loadgen::parse_head(
                  "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n", h),
              loadgen::head_state::done);
    EXPECT_TRUE(h.keep_alive);
    ASSERT_EQ(loadgen::parse_head("HTTP/1.1 200 OK\r\n\r\n", h), loadgen::head_state::done);
    EXPECT_FALSE(h.keep_alive);  // no length: the body ends with the connection
    EXPECT_FALSE(h.content_length);

    EXPECT_EQ(loadgen::parse_head("SSH-2.0\r\n\r\n", h), loadgen::head_state::bad);
    EXPECT_EQ(loadgen::parse_head("HTTP/1.1 2x0 OK\r\n\r\n", h), loadgen::head_state::bad);
    EXPECT_EQ(loadgen::parse_head("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", h),
              loadgen::head_state::bad);
    EXPECT_EQ(loadgen::parse_head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", h),
              loadgen::head_state::bad);
}

}  // namespace

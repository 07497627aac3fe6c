// The weighted URL list of loadgen --urls: parsing, bad input, and the draws' frequencies.
#include "url_mix.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

std::optional<std::vector<loadgen::weighted_url>> parse(const std::string& text,
                                                        std::string& error) {
    std::istringstream in(text);
    return loadgen::read_url_list(in, error);
}

TEST(UrlList, ReadsWeightsPathsAndLengthsSkippingCommentsAndBlankLines) {
    std::string error;
    const auto urls = parse("# a comment\n\n0.5 /a 102\n  2 /dir/b\n1e-3 /c 0\r\n", error);
    ASSERT_TRUE(urls) << error;
    ASSERT_EQ(urls->size(), 3u);
    EXPECT_DOUBLE_EQ((*urls)[0].weight, 0.5);
    EXPECT_EQ((*urls)[0].path, "/a");
    EXPECT_EQ((*urls)[0].bytes, 102u);
    EXPECT_EQ((*urls)[1].path, "/dir/b");
    EXPECT_FALSE((*urls)[1].bytes);
    EXPECT_DOUBLE_EQ((*urls)[2].weight, 0.001);
    EXPECT_EQ((*urls)[2].bytes, 0u);
}

TEST(UrlList, RejectsBadLinesNamingThem) {
    const std::pair<const char*, const char*> cases[] = {
        {"1 /a\nx /b\n", "line 2: the weight \"x\" is not a positive number"},
        {"0 /a\n", "line 1: the weight \"0\" is not a positive number"},
        {"-1 /a\n", "line 1: the weight \"-1\" is not a positive number"},
        {"inf /a\n", "line 1: the weight \"inf\" is not a positive number"},
        {"1.5x /a\n", "line 1: the weight \"1.5x\" is not a positive number"},
        {"1 a\n", "line 1: the path \"a\" does not start with /"},
        {"1\n", "line 1: the path \"\" does not start with /"},
        {"1 /a -3\n", "line 1: the length \"-3\" is not a number of bytes"},
        {"1 /a 3 4\n", "line 1: more than WEIGHT PATH [BYTES]"},
        {"# nothing\n\n", "no URL"},
        {"", "no URL"},
    };
    for (const auto& [text, want] : cases) {
        std::string error;
        EXPECT_FALSE(parse(text, error)) << text;
        EXPECT_EQ(error, want) << text;
    }
}

TEST(UrlMix, DrawsInProportionToTheWeights) {
    std::vector<loadgen::weighted_url> urls = {
        {35, "/a", {}}, {50, "/b", {}}, {14, "/c", {}}, {1, "/d", {}}};
    loadgen::url_mix mix(urls, 7);
    std::vector<int> counts(urls.size());
    constexpr int kDraws = 200000;
    for (int i = 0; i < kDraws; ++i)
        ++counts.at(mix.next());
    // Four standard deviations of a binomial count at most: 4 * sqrt(n p (1 - p)) < 1,000.
    EXPECT_NEAR(counts[0], 0.35 * kDraws, 1000);
    EXPECT_NEAR(counts[1], 0.50 * kDraws, 1000);
    EXPECT_NEAR(counts[2], 0.14 * kDraws, 1000);
    EXPECT_NEAR(counts[3], 0.01 * kDraws, 300);
}

TEST(UrlMix, TheSameSeedGivesTheSameSequenceAndAnotherSeedAnother) {
    std::vector<loadgen::weighted_url> urls;
    for (int i = 0; i < 36; ++i)
        urls.push_back({1.0 + i, "/f" + std::to_string(i), {}});
    loadgen::url_mix a(urls, 1), b(urls, 1), c(urls, 2);
    int same_as_other_seed = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::size_t x = a.next();
        EXPECT_EQ(x, b.next());
        same_as_other_seed += x == c.next();
    }
    EXPECT_LT(same_as_other_seed, 200);
}

TEST(UrlMix, ASingleUrlIsAlwaysDrawn) {
    loadgen::url_mix mix({{1e-300, "/only", {}}}, 3);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(mix.next(), 0u);
}

}  // namespace

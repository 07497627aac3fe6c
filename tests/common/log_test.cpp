// The apps' diagnostics: one line format for both servers, levels, and no formatting of a
// line whose level is off.
#include "common/log.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

// Counts how many times it is formatted.
struct counted {
    int* formatted;
};

}  // namespace

template <>
struct fmt::formatter<counted> : fmt::formatter<std::string_view> {
    auto format(const counted& c, format_context& ctx) const {
        ++*c.formatted;
        return fmt::formatter<std::string_view>::format("counted", ctx);
    }
};

namespace {

class AppLog : public ::testing::Test {
  protected:
    void SetUp() override { app_log::init("httpd", app_log::level::info); }
    void TearDown() override { app_log::init("app", app_log::level::info); }
};

TEST_F(AppLog, ErrorsAndWarningsSayWhatTheyAre) {
    EXPECT_EQ(app_log::format_line(app_log::level::error, "document root /x: No such file"),
              "httpd: error: document root /x: No such file\n");
    EXPECT_EQ(app_log::format_line(app_log::level::warn, "accept: EMFILE; backing off"),
              "httpd: warning: accept: EMFILE; backing off\n");
    EXPECT_EQ(app_log::format_line(app_log::level::info, "event loops on epoll"),
              "httpd: event loops on epoll\n");
    EXPECT_EQ(app_log::format_line(app_log::level::debug, "x"), "httpd: x\n");
}

TEST_F(AppLog, TheProgramNameIsThePrefix) {
    app_log::init("hekate", app_log::level::info);
    EXPECT_EQ(app_log::format_line(app_log::level::error, "bad size: 3Q"),
              "hekate: error: bad size: 3Q\n");
}

TEST_F(AppLog, TheThresholdIsTheMostDetailedLevelPrinted) {
    app_log::set_threshold(app_log::level::warn);
    EXPECT_TRUE(app_log::enabled(app_log::level::error));
    EXPECT_TRUE(app_log::enabled(app_log::level::warn));
    EXPECT_FALSE(app_log::enabled(app_log::level::info));
    EXPECT_FALSE(app_log::enabled(app_log::level::debug));
    app_log::set_threshold(app_log::level::debug);
    EXPECT_TRUE(app_log::enabled(app_log::level::debug));
    // A finer degree of debug (hekate's -d 3) needs a threshold that reaches it.
    const auto finer = static_cast<app_log::level>(static_cast<int>(app_log::level::debug) + 1);
    EXPECT_FALSE(app_log::enabled(finer));
    app_log::set_threshold(finer);
    EXPECT_TRUE(app_log::enabled(finer));
}

TEST_F(AppLog, ErrorsArePrintedWhateverTheThreshold) {
    app_log::set_threshold(app_log::level::error);
    EXPECT_TRUE(app_log::enabled(app_log::level::error));
    EXPECT_FALSE(app_log::enabled(app_log::level::warn));
}

TEST_F(AppLog, ALineBelowTheThresholdIsNotFormatted) {
    int formatted = 0;
    app_log::set_threshold(app_log::level::info);
    app_log::debug("{}", counted{&formatted});
    EXPECT_EQ(formatted, 0);
    testing::internal::CaptureStderr();
    app_log::info("{}", counted{&formatted});
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "httpd: counted\n");
    EXPECT_EQ(formatted, 1);
}

TEST_F(AppLog, LevelNamesParse) {
    EXPECT_EQ(app_log::parse_level("error"), app_log::level::error);
    EXPECT_EQ(app_log::parse_level("warn"), app_log::level::warn);
    EXPECT_EQ(app_log::parse_level("info"), app_log::level::info);
    EXPECT_EQ(app_log::parse_level("debug"), app_log::level::debug);
    EXPECT_EQ(app_log::parse_level("loud"), std::nullopt);
    EXPECT_EQ(app_log::parse_level(""), std::nullopt);
}

}  // namespace

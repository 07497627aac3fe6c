// hekate's names for itself carry the project's one version (cpc/version.hpp).
#include "client_version.hpp"

#include <gtest/gtest.h>

#include <cpc/version.hpp>
#include <string>

namespace hekate {
namespace {

TEST(ClientVersion, NamesCarryTheProjectVersion) {
    const std::string v = cpc::version_string;
    EXPECT_EQ(version_line, "hekate " + v);
    EXPECT_EQ(std::string(tracker_user_agent), "hekate/" + v);
    EXPECT_EQ(client_name, "Hekate/" + v);
}

TEST(ClientVersion, PeerIdPrefixIsAzureusStyleWithTheVersionDigits) {
    const std::string prefix(peer_id_prefix.begin(), peer_id_prefix.end());
    ASSERT_EQ(prefix.size(), 8u);
    EXPECT_EQ(prefix.substr(0, 3), "-HK");
    EXPECT_EQ(prefix.back(), '-');
    // One character per number; for versions below 10 they are the version's own digits.
    const auto digit = [](int n) { return static_cast<char>(n < 10 ? '0' + n : 'A' + n - 10); };
    EXPECT_EQ(prefix[3], digit(cpc::version_major));
    EXPECT_EQ(prefix[4], digit(cpc::version_minor));
    EXPECT_EQ(prefix[5], digit(cpc::version_patch));
    EXPECT_EQ(prefix[6], '0');
}

}  // namespace
}  // namespace hekate

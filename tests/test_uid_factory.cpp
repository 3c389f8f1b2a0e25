#include "unionscope/pipeline/dicom/UidFactory.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

using unionscope::dicom::UidFactory;

TEST(UidFactory, SameSeedAndLabelGiveSameUid) {
  EXPECT_EQ(UidFactory(7).uid("study/W6"), UidFactory(7).uid("study/W6"));
  EXPECT_NE(UidFactory(7).uid("study/W6"), UidFactory(8).uid("study/W6"));
  EXPECT_NE(UidFactory(7).uid("study/W6"), UidFactory(7).uid("study/W12"));
}

TEST(UidFactory, UidsAreValidAndDistinct) {
  // PS3.5 9.1: digits and dots, components without leading zeros, <= 64 chars.
  const std::regex valid(R"(^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$)");
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string uid = UidFactory(42).uid("sop/" + std::to_string(i));
    EXPECT_LE(uid.size(), 64U) << uid;
    EXPECT_TRUE(std::regex_match(uid, valid)) << uid;
    EXPECT_EQ(uid.rfind("2.25.", 0), 0U) << uid;
    seen.insert(uid);
  }
  EXPECT_EQ(seen.size(), 2000U);
}

// Kafka's murmur2: the values Kafka's own tests (UtilsTest.testMurmur2) expect.
#include "sluice/base/murmur2.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Murmur2Test, MatchesKafkasJavaImplementationOnItsTestVectors) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

TEST(Murmur2Test, DefaultPartitionerIsPositiveHashModuloPartitions) {
  for (int32_t n : {1, 3, 8, 100}) {
    const int32_t p = kafka_partition_for_key("foobar", n);
    EXPECT_EQ(p, (-790332482 & 0x7fffffff) % n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace sluice

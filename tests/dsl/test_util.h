// Helpers shared by the DSL tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "sluice/dsl/test_driver.h"
#include "sluice/dsl/topology_builder.h"

#define ASSERT_OK(expr)                               \
  do {                                                \
    auto status_ = (expr);                            \
    ASSERT_TRUE(status_.ok()) << status_.to_string(); \
  } while (0)

namespace sluice::dsl::testing {

inline std::unique_ptr<TopologyTestDriver> driver_for(TopologyBuilder& b,
                                                      TestDriverOptions o = {}) {
  auto topology = b.build();
  EXPECT_TRUE(topology.ok()) << topology.status().to_string();
  if (!topology.ok()) return nullptr;
  auto d = TopologyTestDriver::create(std::move(topology).value(), std::move(o));
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  return d.ok() ? std::move(d).value() : nullptr;
}

template <typename K, typename V>
std::vector<TestRecord<K, V>> read(TestOutputTopic<K, V>& out) {
  auto r = out.read_records();
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::vector<TestRecord<K, V>>{};
}

}  // namespace sluice::dsl::testing

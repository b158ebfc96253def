// Helpers shared by the DSL tests.
#pragma once

#include <gtest/gtest.h>
#include "assert_ok.h"

#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "sluice/dsl/test_driver.h"
#include "sluice/dsl/topology_builder.h"

namespace sluice::dsl {

// Readable failure messages for the records tests compare.
inline void print_value(std::ostream& os, const std::string& v) { os << '"' << v << '"'; }
inline void print_value(std::ostream& os, int64_t v) { os << v; }
inline void print_value(std::ostream& os, double v) { os << v; }
template <typename T>
void print_value(std::ostream& os, const std::optional<T>& v) {
  if (v) {
    print_value(os, *v);
  } else {
    os << "null";
  }
}
template <typename K>
void print_value(std::ostream& os, const Windowed<K>& w) {
  print_value(os, w.key);
  os << "@[" << w.window.start.value() << "," << w.window.end.value() << ")";
}
template <typename A, typename B>
void print_value(std::ostream& os, const std::pair<A, B>& p) {
  os << "(";
  print_value(os, p.first);
  os << ", ";
  print_value(os, p.second);
  os << ")";
}
template <typename K, typename V>
void PrintTo(const TestRecord<K, V>& r, std::ostream* os) {
  *os << "{";
  print_value(*os, r.key);
  *os << " -> ";
  print_value(*os, r.value);
  *os << " @" << r.timestamp.value() << " p" << r.partition.value() << "}";
}

}  // namespace sluice::dsl

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

// StoreTest: a GoogleTest fixture for tests that drive a whole LogStore through its public API
// (producers, transactions, consumer offsets): a store in a temporary directory, a manual
// clock, background maintenance off, reopen (optionally on another file system, such as a
// FaultInjectionFileSystem), and short helpers that fail the test on errors. Sync point
// callbacks are cleared after each test.
//
// Header-only, because the test support library does not link GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fault_injection_fs.h"
#include "log_test_util.h"
#include "sluice/base/sync_point.h"
#include "sluice/logstore/log_store.h"
#include "temp_dir.h"

// Asserts / expects that a Status is OK, printing it when it is not.
#define SLUICE_ASSERT_OK(expr)                                                    \
  do {                                                                            \
    const ::sluice::Status sluice_assert_status_ = (expr);                        \
    ASSERT_TRUE(sluice_assert_status_.ok()) << sluice_assert_status_.to_string(); \
  } while (0)
#define SLUICE_EXPECT_OK(expr)                                                    \
  do {                                                                            \
    const ::sluice::Status sluice_expect_status_ = (expr);                        \
    EXPECT_TRUE(sluice_expect_status_.ok()) << sluice_expect_status_.to_string(); \
  } while (0)

namespace sluice::testing {

// Success when `s` failed with `code` and its message contains every one of `parts`:
// EXPECT_TRUE(is_error(s, StatusCode::kProducerFenced, {"epoch 0", "fenced"})).
inline ::testing::AssertionResult is_error(const Status& s, StatusCode code,
                                           std::initializer_list<std::string_view> parts = {}) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << status_code_name(code) << ", got " << s.to_string();
  }
  for (std::string_view part : parts) {
    if (s.message().find(part) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message of " << s.to_string() << " does not contain \"" << part << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void TearDown() override {
    sync_point::clear_all();
    store_.reset();
  }

  // Closes the store if it is open and opens it again on `fs` (nullptr: the real file system),
  // filling report_. Options other than the directory, clock and file system come from
  // options_, which a test may change before reopening.
  void open(FileSystem* fs = nullptr) {
    store_.reset();
    options_.data_dir = dir_.path();
    options_.clock = &clock_;
    options_.fs = fs;
    options_.background_maintenance = false;
    report_ = logstore::OpenReport{};
    auto opened = logstore::LogStore::open(options_, &report_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  // Closes the store as at a shutdown (everything is synced).
  void close() {
    if (store_) SLUICE_EXPECT_OK(store_->close());
    store_.reset();
  }

  static logstore::TopicPartition tp(const std::string& topic, int partition = 0) {
    return {topic, PartitionId(partition)};
  }

  void create(const std::string& name, logstore::TopicConfig config = {}) {
    SLUICE_ASSERT_OK(store_->create_topic(name, config));
  }

  // A plain (non-idempotent, non-transactional) append.
  logstore::AppendResult append(const logstore::TopicPartition& where, const RecordSet& records) {
    auto r = store_->append(where, records.records());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : logstore::AppendResult{};
  }

  // The partition's ends, with their invariants checked.
  logstore::PartitionEnds ends(const logstore::TopicPartition& where) {
    auto e = store_->partition_ends(where);
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    if (!e.ok()) return {};
    e->check_invariants();
    return *e;
  }

  // The values of the records a reader at `isolation` sees in `where` (from its log start), in
  // offset order.
  std::vector<std::string> values(
      const logstore::TopicPartition& where,
      logstore::IsolationLevel isolation = logstore::IsolationLevel::kReadCommitted) {
    auto records = read_all(*store_, where, isolation, ends(where).log_start);
    EXPECT_TRUE(records.ok()) << records.status().to_string();
    std::vector<std::string> out;
    if (!records.ok()) return out;
    for (const ReadRecord& r : *records) out.push_back(r.value.value_or("<null>"));
    return out;
  }

  std::vector<std::string> uncommitted_values(const logstore::TopicPartition& where) {
    return values(where, logstore::IsolationLevel::kReadUncommitted);
  }

  // The headers of every batch stored in `where` (control batches included).
  std::vector<logstore::BatchHeader> batch_headers(const logstore::TopicPartition& where) {
    auto bytes = fetch_all_batches(*store_, where);
    EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
    std::vector<logstore::BatchHeader> out;
    if (!bytes.ok()) return out;
    for (const StoredBatch& b : parse_batches(*bytes)) out.push_back(b.header);
    return out;
  }

  TempDir dir_;
  ManualClock clock_;
  // For tests that inject faults: open(&fault_fs_). Declared before store_ so that it outlives
  // the store (whose close() still syncs through it).
  FaultInjectionFileSystem fault_fs_;
  logstore::LogStoreOptions options_;
  logstore::OpenReport report_;
  std::unique_ptr<logstore::LogStore> store_;
};

// "v<first>" ... "v<first + n - 1>": the values of RecordSet::numbered(first, n).
inline std::vector<std::string> numbered_values(int first, int n) {
  std::vector<std::string> out;
  for (int i = first; i < first + n; ++i) out.push_back("v" + std::to_string(i));
  return out;
}

// Concatenation, for expected values: concat(numbered_values(0, 2), numbered_values(5, 1)).
inline std::vector<std::string> concat(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace sluice::testing

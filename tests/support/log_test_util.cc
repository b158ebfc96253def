#include "log_test_util.h"

#include "sluice/base/check.h"

namespace sluice::testing {

using namespace logstore;

RecordSet& RecordSet::add(std::optional<std::string> key, std::optional<std::string> value,
                          Timestamp ts) {
  keys_.push_back(std::move(key));
  values_.push_back(std::move(value));
  ts_.push_back(ts);
  return *this;
}

RecordSet RecordSet::numbered(int first, int n, Timestamp ts) {
  RecordSet set;
  for (int i = first; i < first + n; ++i) {
    set.add("k" + std::to_string(i), "v" + std::to_string(i), ts);
  }
  return set;
}

std::span<const Record> RecordSet::records() const {
  views_.clear();
  for (size_t i = 0; i < keys_.size(); ++i) {
    Record r;
    if (keys_[i]) r.key = ByteView(*keys_[i]);
    if (values_[i]) r.value = ByteView(*values_[i]);
    r.timestamp = ts_[i];
    views_.push_back(r);
  }
  return views_;
}

Result<std::vector<ReadRecord>> read_all(LogClient& log, const TopicPartition& tp,
                                         IsolationLevel isolation, Offset from) {
  std::vector<ReadRecord> out;
  FetchRequest req{.partition = tp, .offset = from, .max_bytes = 64 << 10, .isolation = isolation};
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(FetchResult r, log.fetch(req));
    if (r.batches.empty()) break;
    SLUICE_RETURN_IF_ERROR(for_each_record(r, req.offset, isolation, [&](const RecordView& v) {
      ReadRecord rec{v.offset, v.timestamp, std::nullopt, std::nullopt};
      if (v.key) rec.key = std::string(*v.key);
      if (v.value) rec.value = std::string(*v.value);
      out.push_back(std::move(rec));
    }));
    SLUICE_CHECK(r.next_offset > req.offset);
    req.offset = r.next_offset;
  }
  return out;
}

Bytes encode(const RecordSet& records, const BatchOptions& options) {
  RecordBatchBuilder b(options);
  for (const Record& r : records.records()) b.add(r);
  auto built = b.build();
  SLUICE_CHECK(built.ok());
  return std::move(built).value();
}

}  // namespace sluice::testing

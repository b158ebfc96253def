#include "log_test_util.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

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

bool mentions_number(std::string_view text, int64_t number, std::string_view needle) {
  const std::string want = std::string(needle) + std::to_string(number);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (size_t at = text.find(want); at != std::string_view::npos; at = text.find(want, at + 1)) {
    const size_t end = at + want.size();
    const bool starts_clean = !needle.empty() || at == 0 || !is_digit(text[at - 1]);
    const bool ends_clean = end == text.size() || !is_digit(text[end]);
    if (starts_clean && ends_clean) return true;
  }
  return false;
}

Bytes encode(const RecordSet& records, const BatchOptions& options) {
  RecordBatchBuilder b(options);
  for (const Record& r : records.records()) b.add(r);
  auto built = b.build();
  SLUICE_CHECK(built.ok());
  return std::move(built).value();
}

Result<Bytes> fetch_all_batches(LogClient& log, const TopicPartition& tp, Offset from) {
  Bytes out;
  FetchRequest req{.partition = tp,
                   .offset = from,
                   .max_bytes = 64 << 10,
                   .isolation = IsolationLevel::kReadUncommitted};
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(FetchResult r, log.fetch(req));
    if (r.batches.empty()) break;
    out += r.batches;
    SLUICE_CHECK(r.next_offset > req.offset);
    req.offset = r.next_offset;
  }
  return out;
}

std::string partition_dir(const std::string& data_dir, const TopicPartition& tp) {
  return data_dir + "/topics/" + tp.topic + "/" + std::to_string(tp.partition.value());
}

std::vector<Offset> segment_bases(const std::string& partition_dir) {
  std::vector<Offset> bases;
  for (const auto& entry : std::filesystem::directory_iterator(partition_dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    if (!std::all_of(name.begin(), name.begin() + 20,
                     [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    bases.push_back(Offset(std::stoll(name.substr(0, 20))));
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

std::string segment_file(const std::string& partition_dir, Offset base, std::string_view suffix) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020lld", static_cast<long long>(base.value()));
  return partition_dir + "/" + name + std::string(suffix);
}

std::vector<StoredBatch> parse_batches(ByteView log) {
  std::vector<StoredBatch> out;
  uint64_t pos = 0;
  while (pos < log.size()) {
    auto view = RecordBatchView::parse(log.substr(pos));
    if (!view.ok()) break;
    out.push_back({pos, view->header()});
    pos += view->bytes().size();
  }
  return out;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SLUICE_CHECK_MSG(in.good(), path.c_str());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  SLUICE_CHECK_MSG(out.good(), path.c_str());
}

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  SLUICE_CHECK_MSG(!ec, path.c_str());
  return size;
}

void flip_byte(const std::string& path, uint64_t position, uint8_t mask) {
  SLUICE_CHECK(mask != 0);
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  SLUICE_CHECK_MSG(f.good(), path.c_str());
  char c = 0;
  f.seekg(static_cast<std::streamoff>(position));
  f.read(&c, 1);
  c = static_cast<char>(static_cast<uint8_t>(c) ^ mask);
  f.seekp(static_cast<std::streamoff>(position));
  f.write(&c, 1);
  SLUICE_CHECK_MSG(f.good(), path.c_str());
}

void truncate_file(const std::string& path, uint64_t size) {
  std::error_code ec;
  std::filesystem::resize_file(path, size, ec);
  SLUICE_CHECK_MSG(!ec, path.c_str());
}

void copy_tree(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::remove_all(to, ec);
  SLUICE_CHECK_MSG(!ec, to.c_str());
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  SLUICE_CHECK_MSG(!ec, from.c_str());
}

}  // namespace sluice::testing

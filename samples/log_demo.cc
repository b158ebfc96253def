// The log demo: create a topic on the embedded log, append a million records and read them
// back, and print the throughput of both. `make demo` runs it until the sample jobs take over.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

#include "sluice/logstore/log_store.h"

using namespace sluice;
using namespace sluice::logstore;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A progress line on a terminal (and nothing when stderr is redirected to a file).
void progress(const char* what, int64_t done, int64_t total) {
  static const bool tty = isatty(STDERR_FILENO);
  static int last = -1;
  const int percent = static_cast<int>(done * 100 / total);
  if (!tty || percent == last) return;
  last = percent;
  std::fprintf(stderr, "\r  %s %3d%%", what, percent);
  std::fflush(stderr);
}

int fail(const Status& s) {
  std::fprintf(stderr, "\nsluice-log-demo: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Appends records to a topic on Sluice's embedded log and reads them back."};
  std::string data_dir;
  int64_t records = 1'000'000;
  int partitions = 4;
  int batch = 1000;
  std::string compression = "none";
  bool keep = false;
  app.add_option("--data-dir", data_dir, "Log directory (default: a fresh temporary one)");
  app.add_option("-n,--records", records, "Records to append")->check(CLI::PositiveNumber);
  app.add_option("-p,--partitions", partitions, "Partitions of the demo topic")
      ->check(CLI::Range(1, 1024));
  app.add_option("-b,--batch", batch, "Records per batch")->check(CLI::Range(1, 100'000));
  app.add_option("--compression", compression, "none, lz4 or zstd")
      ->check(CLI::IsMember({"none", "lz4", "zstd"}));
  app.add_flag("--keep", keep, "Keep the data directory afterwards");
  CLI11_PARSE(app, argc, argv);

  const bool temporary = data_dir.empty();
  if (temporary) {
    data_dir = (std::filesystem::temp_directory_path() / "sluice-demo-XXXXXX").string();
    if (mkdtemp(data_dir.data()) == nullptr) return fail(io_error("cannot create a temp dir"));
  }
  fmt::print(
      "Sluice log demo: {} records of 8-byte keys and 100-byte values, {} per batch, "
      "into {} partitions\n  data directory: {}\n",
      records, batch, partitions, data_dir);

  int rc = 0;
  {
    LogStoreOptions options;
    options.data_dir = data_dir;
    auto store = LogStore::open(options);
    if (!store.ok()) return fail(store.status());
    TopicConfig config{.partitions = partitions};
    if (Status s = config.set("compression.type", compression); !s.ok()) return fail(s);
    Status created = (*store)->create_topic("demo", config);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return fail(created);

    // Append.
    std::mt19937_64 rng(42);
    std::vector<std::string> keys(static_cast<size_t>(batch)), values(static_cast<size_t>(batch));
    std::vector<Record> batch_records(static_cast<size_t>(batch));
    for (auto& v : values) {
      v.resize(100);
      for (char& c : v) c = static_cast<char>('a' + rng() % 26);
    }
    auto start = std::chrono::steady_clock::now();
    int64_t appended = 0;
    uint64_t bytes = 0;
    while (appended < records) {
      const int n = static_cast<int>(std::min<int64_t>(batch, records - appended));
      for (int i = 0; i < n; ++i) {
        keys[i].assign(8, '\0');
        uint64_t k = static_cast<uint64_t>(appended + i);
        std::memcpy(keys[i].data(), &k, 8);
        batch_records[i] = Record{.key = ByteView(keys[i]), .value = ByteView(values[i])};
        bytes += 108;
      }
      TopicPartition tp{"demo", PartitionId(static_cast<int32_t>((appended / batch) % partitions))};
      auto r = (*store)->append(tp, std::span(batch_records.data(), static_cast<size_t>(n)));
      if (!r.ok()) return fail(r.status());
      appended += n;
      if ((appended / batch) % 100 == 0) progress("appending", appended, records);
    }
    double append_s = seconds_since(start);
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{:40}\r", "");
    fmt::print("  appended {:>9} records in {:6.3f} s: {:>12.0f} records/s {:>8.1f} MB/s\n",
               appended, append_s, appended / append_s, bytes / append_s / 1e6);

    // Read back, checking every batch's CRC and counting every record.
    start = std::chrono::steady_clock::now();
    int64_t read = 0;
    uint64_t read_bytes = 0;
    for (int p = 0; p < partitions; ++p) {
      FetchRequest req{.partition = {"demo", PartitionId(p)}, .offset = Offset(0)};
      while (true) {
        auto r = (*store)->fetch(req);
        if (!r.ok()) return fail(r.status());
        if (r->batches.empty()) break;
        Status s = for_each_record(*r, req.offset, IsolationLevel::kReadCommitted,
                                   [&](const RecordView& v) {
                                     ++read;
                                     read_bytes += v.key->size() + v.value->size();
                                   });
        if (!s.ok()) return fail(s);
        req.offset = r->next_offset;
        progress("reading", read, appended);
      }
    }
    double read_s = seconds_since(start);
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{:40}\r", "");
    fmt::print("  read     {:>9} records in {:6.3f} s: {:>12.0f} records/s {:>8.1f} MB/s\n", read,
               read_s, read / read_s, read_bytes / read_s / 1e6);
    if (read != appended) {
      fmt::print("  MISMATCH: appended {} records but read {}\n", appended, read);
      rc = 1;
    } else {
      fmt::print("  all {} records read back intact (every batch CRC-checked)\n", read);
    }
    if (Status s = (*store)->close(); !s.ok()) return fail(s);
  }
  if (temporary && !keep) std::filesystem::remove_all(data_dir);
  return rc;
}

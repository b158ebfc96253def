// The child process of the crash test: appends batches to the log with fsync-per-batch and
// reports every acknowledged batch on fd 3 ("<round> <batch> <partition> <base> <last>\n")
// until the parent kills it with SIGKILL.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crash_workload.h"
#include "sluice/logstore/log_store.h"

using namespace sluice;
using namespace sluice::logstore;
using namespace sluice::testing;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DATA_DIR SEED ROUND (acks go to fd 3)\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const int round = std::atoi(argv[3]);

  LogStoreOptions options;
  options.data_dir = dir;
  auto store = LogStore::open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "crash child: open failed: %s\n", store.status().to_string().c_str());
    return 1;
  }
  TopicConfig config{.partitions = crash::kPartitions};
  if (!config.set("flush.policy", "every-batch").ok() ||
      !config.set("segment.bytes", "65536").ok()) {
    return 1;
  }
  Status created = (*store)->create_topic(crash::kTopic, config);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
    std::fprintf(stderr, "crash child: %s\n", created.to_string().c_str());
    return 1;
  }
  for (int batch = 0; batch < 1'000'000; ++batch) {
    const int n = crash::records_in_batch(seed, round, batch);
    std::vector<std::string> keys, values;
    std::vector<Record> records;
    for (int i = 0; i < n; ++i) {
      keys.push_back(crash::key_of(round, batch, i));
      values.push_back(crash::value_of(seed, round, batch, i));
    }
    for (int i = 0; i < n; ++i) {
      records.push_back(Record{.key = ByteView(keys[i]), .value = ByteView(values[i])});
    }
    const int partition = batch % crash::kPartitions;
    auto r = (*store)->append({crash::kTopic, PartitionId(partition)}, records);
    if (!r.ok()) {
      std::fprintf(stderr, "crash child: append failed: %s\n", r.status().to_string().c_str());
      return 1;
    }
    char line[128];
    int len = std::snprintf(line, sizeof(line), "%d %d %d %lld %lld\n", round, batch, partition,
                            static_cast<long long>(r->base_offset.value()),
                            static_cast<long long>(r->last_offset.value()));
    if (write(3, line, static_cast<size_t>(len)) != len) return 1;
  }
  return 0;
}

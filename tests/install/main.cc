// A job author's program built against an installed Sluice (`make install`): the README's
// example, compiled outside the source tree with find_package(Sluice).
#include <cstdio>
#include <string>

#include "sluice/kafka/kafka_log_client.h"
#include "sluice/logstore/log_store.h"
#include "sluice/state/task_state.h"

int main(int argc, char** argv) {
  using namespace sluice::logstore;
  if (argc != 2) return 2;
  auto store = LogStore::open({.data_dir = argv[1]});
  if (!store.ok()) {
    std::puts(store.status().to_string().c_str());
    return 1;
  }
  if (!(*store)->create_topic("page-views", {.partitions = 8}).ok()) return 1;
  Record r{.key = "page-42", .value = R"({"user":"u1"})"};
  auto appended = (*store)->append({"page-views", sluice::PartitionId(3)}, {&r, 1});
  if (!appended.ok()) return 1;
  auto fetched = (*store)->fetch(
      {.partition = {"page-views", sluice::PartitionId(3)}, .offset = sluice::Offset(0)});
  if (!fetched.ok()) return 1;
  int n = 0;
  sluice::Status s = for_each_record(*fetched, sluice::Offset(0), IsolationLevel::kReadCommitted,
                                     [&](const RecordView& rec) { n += rec.value->size() > 0; });
  std::printf("appended at offset %lld, read back %d record(s)\n",
              static_cast<long long>(appended->base_offset.value()), n);
  if (!s.ok() || n != 1) return 1;

  // A RocksDB store with its changelog in the log.
  auto state = sluice::state::TaskState::open({.state_dir = std::string(argv[1]) + "/state/0_0",
                                               .application_id = "consumer",
                                               .log = store->get()});
  if (!state.ok()) return 1;
  auto counts = (*state)->key_value_store({.name = "counts"});
  if (!counts.ok() || !(*counts)->put("page-42", "1").ok() || !(*state)->commit().ok()) return 1;
  auto v = (*counts)->get("page-42");
  std::printf("state store read back %s\n", v.ok() && *v ? (*v)->c_str() : "nothing");
  if (!v.ok() || *v != "1") return 1;

  // The Kafka backend links too (and says what is missing without a cluster).
  auto kafka = sluice::kafka::connect_kafka({});
  std::printf("kafka backend: %s\n", kafka.status().to_string().c_str());
  return kafka.status().code() == sluice::StatusCode::kInvalidArgument ? 0 : 1;
}

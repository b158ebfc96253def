// KafkaLogClient: the runtime's LogClient over an Apache Kafka cluster, through librdkafka —
// the backend for running the same topologies on Kafka (or on any broker that speaks its
// protocol, Sluice's own Kafka listener included).
//
// How each part of LogClient maps onto Kafka:
// - admin: topics are created with the admin API (CreateTopics; changelogs compacted);
//   descriptions and partition ends come from Metadata and ListOffsets (the high watermark
//   from a read-uncommitted handle, the last stable offset from a read-committed one);
//   delete_records is the admin API's DeleteRecords.
// - fetch: one simple (assign-style) consumer per isolation level reads each partition from
//   the requested offset, prefetching in the background; the records it returns are re-encoded
//   into one RecordBatch per call with their original offsets (gaps — transaction markers,
//   aborted records a read-committed consumer skips, compacted records — kept as offset
//   gaps), so readers of FetchResult see what they see on the built-in log. Control records
//   and aborted data never reach the caller: `aborted` is always empty.
// - committed offsets: a group consumer per group id (no subscription) commits and reads.
// - producers: librdkafka producers, idempotent or transactional (init, begin, produce, send
//   offsets to the transaction under the group's metadata, commit or abort). An append waits
//   for its records' acknowledgements, so it returns their offsets as the built-in log does.
//
// Every `kafka_settings` entry is passed to every librdkafka handle as it is (security,
// timeouts, ...). Thread safety: as LogClient's; a Producer is thread-confined.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "sluice/base/result.h"
#include "sluice/logstore/log_client.h"

namespace sluice::kafka {

struct KafkaClientOptions {
  std::string bootstrap_servers;  // "host:port[,host:port...]"
  // librdkafka settings applied to every handle ("security.protocol", "socket.timeout.ms", ...).
  std::map<std::string, std::string> kafka_settings;
  std::string client_id = "sluice";
  // Replication factor of the topics this client creates (-1: the cluster's default).
  int16_t replication_factor = -1;
  // How long an admin call, a commit or an append's acknowledgement may take.
  int64_t timeout_ms = 30'000;
};

// Connects (the first metadata request must succeed within timeout_ms). kUnavailable when the
// cluster cannot be reached; kInvalidArgument for a setting librdkafka refuses.
Result<std::unique_ptr<logstore::LogClient>> connect_kafka(const KafkaClientOptions& options);

}  // namespace sluice::kafka

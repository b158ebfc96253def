// `sluice produce`: lines from stdin (or files) to a topic, kcat style.
#include <chrono>
#include <cstdio>
#include <optional>

#include <fmt/core.h>

#include "cli/cli_common.h"
#include "sluice/base/murmur2.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::cli {

namespace {

struct ProduceFlags {
  server::ClientOptions client;
  std::string topic;
  std::optional<int32_t> partition;
  std::string key_delimiter;             // -K
  std::optional<std::string> fixed_key;  // -k
  int batch = 1000;
  std::vector<std::string> files;
  bool quiet = false;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Encodes lines into one RecordBatch per partition, as a Kafka producer does: lines with a key
// go to murmur2(key) % partitions, keyless ones stick to one partition until its batch is full
// (then the next), and -p sends everything to one. A batch is sent at `batch` records or 1 MiB.
class BatchEncoder {
 public:
  BatchEncoder(const ProduceFlags& f, int32_t partitions)
      : f_(f), partitions_(partitions), pending_(static_cast<size_t>(partitions)) {}

  // Adds one line (without its newline); a batch it fills goes to `ready`.
  Status add(std::string_view line, std::vector<v1::ProduceRequest>& ready) {
    std::optional<std::string_view> key;
    if (f_.fixed_key) key = *f_.fixed_key;
    if (!f_.key_delimiter.empty()) {
      auto at = line.find(f_.key_delimiter);
      if (at != std::string_view::npos) {
        key = line.substr(0, at);
        line.remove_prefix(at + f_.key_delimiter.size());
      }
    }
    int32_t p = sticky_;
    if (f_.partition) {
      p = *f_.partition;
    } else if (key) {
      p = kafka_partition_for_key(*key, partitions_);
    }
    Pending& batch = pending_[static_cast<size_t>(p)];
    if (batch.count == 0) batch.builder.reset({.default_timestamp = Timestamp(now_ms())});
    logstore::Record r{.value = ByteView(line)};
    if (key) r.key = ByteView(*key);
    batch.builder.add(r);
    batch.bytes += line.size() + (key ? key->size() : 0);
    ++batch.count;
    if (batch.count >= f_.batch || batch.bytes >= (1u << 20)) return flush(p, ready);
    return Status();
  }

  Status flush_all(std::vector<v1::ProduceRequest>& ready) {
    for (int32_t p = 0; p < partitions_; ++p) SLUICE_RETURN_IF_ERROR(flush(p, ready));
    return Status();
  }

 private:
  struct Pending {
    logstore::RecordBatchBuilder builder;
    size_t bytes = 0;
    int count = 0;
  };

  Status flush(int32_t p, std::vector<v1::ProduceRequest>& ready) {
    Pending& batch = pending_[static_cast<size_t>(p)];
    if (batch.count == 0) return Status();
    SLUICE_ASSIGN_OR_RETURN(Bytes encoded, batch.builder.build());
    v1::ProduceRequest& request = ready.emplace_back();
    request.set_topic(f_.topic);
    request.set_partition(p);
    request.set_record_batch(std::move(encoded));
    batch.count = 0;
    batch.bytes = 0;
    if (p == sticky_) sticky_ = (sticky_ + 1) % partitions_;
    return Status();
  }

  const ProduceFlags& f_;
  const int32_t partitions_;
  std::vector<Pending> pending_;
  int32_t sticky_ = 0;
};

int produce(const ProduceFlags& f) {
  if (f.batch < 1) return report_failure("produce", invalid_argument("--batch must be at least 1"));
  if (f.partition && *f.partition < 0) {
    return report_failure("produce", invalid_argument("-p takes a partition number from 0"));
  }
  auto c = connect_or_exit(f.client);
  // The partition count, for the partitioner (and a clear error for a missing topic).
  v1::DescribeTopicRequest describe;
  describe.set_name(f.topic);
  v1::TopicDescription topic;
  if (auto s = c->topics().DescribeTopic(c->context().get(), describe, &topic); !s.ok()) {
    return report_failure("produce to " + f.topic, s, f.client);
  }
  if (f.partition && *f.partition >= topic.partitions_size()) {
    return report_failure("produce", invalid_argument("topic " + f.topic + " has partitions 0 to " +
                                                      std::to_string(topic.partitions_size() - 1)));
  }
  auto context = c->context();
  v1::ProduceStreamResponse response;
  auto stream = c->records().ProduceStream(context.get(), &response);
  BatchEncoder encoder(f, topic.partitions_size());
  std::vector<v1::ProduceRequest> ready;
  const auto started = std::chrono::steady_clock::now();
  int64_t lines = 0;
  bool broken = false;  // the server ended the stream (its status says why)
  Status failed;        // a batch could not be encoded

  auto add = [&](std::string_view line) {
    if (Status s = encoder.add(line, ready); !s.ok() && failed.ok()) failed = s;
    for (auto& request : ready) {
      if (!broken && !stream->Write(request)) broken = true;
    }
    ready.clear();
  };
  auto read_input = [&](std::FILE* in) {
    std::string pending;
    std::vector<char> buffer(1 << 20);
    size_t n = 0;
    while (!broken && (n = std::fread(buffer.data(), 1, buffer.size(), in)) > 0) {
      std::string_view chunk(buffer.data(), n);
      size_t start = 0;
      for (size_t nl = chunk.find('\n'); nl != std::string_view::npos;
           nl = chunk.find('\n', start)) {
        std::string_view line = chunk.substr(start, nl - start);
        if (!pending.empty()) {
          pending.append(line);
          add(pending);
          pending.clear();
        } else {
          add(line);
        }
        ++lines;
        start = nl + 1;
      }
      pending.append(chunk.substr(start));
    }
    if (!pending.empty()) {  // a last line without a newline
      add(pending);
      ++lines;
    }
  };

  if (f.files.empty()) {
    read_input(stdin);
  } else {
    for (const std::string& path : f.files) {
      std::FILE* in = std::fopen(path.c_str(), "rb");
      if (in == nullptr) {
        stream->WritesDone();
        stream->Finish().ok();  // the error below is the one that matters
        return report_failure("produce", not_found("cannot open input file '" + path + "'"));
      }
      read_input(in);
      std::fclose(in);
    }
  }
  if (Status s = encoder.flush_all(ready); !s.ok() && failed.ok()) failed = s;
  for (auto& request : ready) {
    if (!broken && !stream->Write(request)) broken = true;
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!failed.ok()) return report_failure("produce", failed);
  if (!status.ok()) return report_failure("produce to " + f.topic, status, f.client);
  if (!f.quiet) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "%s\n",
                 fmt::format("sluice: produced {} record(s) to {} in {:.2f} s ({:.0f} records/s)",
                             response.records(), f.topic, seconds,
                             seconds > 0 ? static_cast<double>(response.records()) / seconds : 0)
                     .c_str());
  }
  return 0;
}

}  // namespace

void add_produce_command(CLI::App& app) {
  auto f = std::make_shared<ProduceFlags>();
  CLI::App* cmd = app.add_subcommand(
      "produce",
      "Produce one record per input line (stdin, or the files given) to a topic, like `kcat -P`.\n"
      "Without -p, records with a key go to murmur2(key) % partitions (Kafka's default\n"
      "partitioner) and keyless ones to one partition until its batch is full. Records are\n"
      "encoded here, one RecordBatch per partition and request, as Kafka producers do.");
  cmd->add_option("-t,--topic", f->topic, "Topic to produce to")->required();
  cmd->add_option("-p,--partition", f->partition, "Partition (default: by key)");
  cmd->add_option("-K,--key-delimiter", f->key_delimiter,
                  "Split each line at the first DELIM into key and value (no DELIM: null key)");
  cmd->add_option("-k,--key", f->fixed_key, "The key of every record");
  cmd->add_option("--batch", f->batch, "Records per batch (and request)")->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "No summary line on stderr");
  cmd->add_option("files", f->files, "Input files (default stdin)");
  add_client_flags(*cmd, f->client);
  cmd->callback([f] { exit_code() = produce(*f); });
}

}  // namespace sluice::cli

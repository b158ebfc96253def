// `sluice produce`: lines from stdin (or files) to a topic, kcat style.
#include <chrono>
#include <cstdio>
#include <optional>

#include <fmt/core.h>

#include "cli/cli_common.h"

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

// Splits input into lines and packs them into ProduceRequests of `batch` records.
class LineBatcher {
 public:
  explicit LineBatcher(const ProduceFlags& f) : f_(f) { reset(); }

  // Adds one line (without its newline).
  void add(std::string_view line) {
    v1::Record* r = request_.add_records();
    if (f_.fixed_key) r->set_key(*f_.fixed_key);
    if (!f_.key_delimiter.empty()) {
      auto at = line.find(f_.key_delimiter);
      if (at != std::string_view::npos) {
        r->set_key(std::string(line.substr(0, at)));
        line.remove_prefix(at + f_.key_delimiter.size());
      }
    }
    r->set_value(std::string(line));
    bytes_ += line.size();
  }

  bool full() const { return request_.records_size() >= f_.batch || bytes_ >= (1u << 20); }
  bool empty() const { return request_.records_size() == 0; }
  v1::ProduceRequest& request() { return request_; }

  void reset() {
    request_.Clear();
    request_.set_topic(f_.topic);
    if (f_.partition) request_.set_partition(*f_.partition);
    bytes_ = 0;
  }

 private:
  const ProduceFlags& f_;
  v1::ProduceRequest request_;
  size_t bytes_ = 0;
};

int produce(const ProduceFlags& f) {
  if (f.batch < 1) return report_failure("produce", invalid_argument("--batch must be at least 1"));
  if (f.partition && *f.partition < 0) {
    return report_failure("produce", invalid_argument("-p takes a partition number from 0"));
  }
  auto c = connect_or_exit(f.client);
  auto context = c->context();
  v1::ProduceStreamResponse response;
  auto stream = c->records().ProduceStream(context.get(), &response);
  LineBatcher batcher(f);
  const auto started = std::chrono::steady_clock::now();
  int64_t lines = 0;
  bool broken = false;  // the server ended the stream (its status says why)

  auto send = [&] {
    if (batcher.empty() || broken) return;
    if (!stream->Write(batcher.request())) broken = true;
    batcher.reset();
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
          batcher.add(pending);
          pending.clear();
        } else {
          batcher.add(line);
        }
        ++lines;
        if (batcher.full()) send();
        start = nl + 1;
      }
      pending.append(chunk.substr(start));
    }
    if (!pending.empty()) {  // a last line without a newline
      batcher.add(pending);
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
  send();
  stream->WritesDone();
  grpc::Status status = stream->Finish();
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
      "partitioner) and keyless ones to one partition per batch.");
  cmd->add_option("-t,--topic", f->topic, "Topic to produce to")->required();
  cmd->add_option("-p,--partition", f->partition, "Partition (default: by key)");
  cmd->add_option("-K,--key-delimiter", f->key_delimiter,
                  "Split each line at the first DELIM into key and value (no DELIM: null key)");
  cmd->add_option("-k,--key", f->fixed_key, "The key of every record");
  cmd->add_option("--batch", f->batch, "Records per request")->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "No summary line on stderr");
  cmd->add_option("files", f->files, "Input files (default stdin)");
  add_client_flags(*cmd, f->client);
  cmd->callback([f] { exit_code() = produce(*f); });
}

}  // namespace sluice::cli

// `sluice consume`: records of a topic to stdout, kcat style.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/core.h>

#include "cli/cli_common.h"

namespace sluice::cli {

namespace {

struct ConsumeFlags {
  server::ClientOptions client;
  std::string topic;
  std::vector<int32_t> partitions;
  std::string offset = "beginning";
  int64_t count = 0;
  bool exit_at_end = false;
  std::optional<std::string> format;
  std::string key_delimiter;
  std::string group;
  bool read_uncommitted = false;
};

// -o beginning | end | <offset> | -<n> | s@<timestamp-ms>
Result<v1::StartPosition> parse_offset(const std::string& text) {
  v1::StartPosition p;
  auto number = [&](std::string_view digits, int64_t& out) {
    if (digits.empty()) return false;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size() && out >= 0;
  };
  int64_t n = 0;
  if (text == "beginning") {
    p.set_beginning(true);
  } else if (text == "end") {
    p.set_end(true);
  } else if (text.starts_with("s@") && number(std::string_view(text).substr(2), n)) {
    p.set_timestamp_ms(n);
  } else if (text.starts_with("-") && number(std::string_view(text).substr(1), n)) {
    p.set_last(n);
  } else if (number(text, n)) {
    p.set_offset(n);
  } else {
    return invalid_argument(
        "-o takes beginning, end, an offset, -<n> (the last n records) or "
        "s@<timestamp-ms>, not '" +
        text + "'");
  }
  return p;
}

// The -f format, compiled once: literal text and fields.
class Formatter {
 public:
  static Result<Formatter> compile(const std::string& format) {
    Formatter f;
    std::string literal;
    auto flush = [&] {
      if (!literal.empty()) f.parts_.push_back({Field::kLiteral, std::move(literal)});
      literal.clear();
    };
    for (size_t i = 0; i < format.size(); ++i) {
      char ch = format[i];
      if ((ch == '%' || ch == '\\') && i + 1 == format.size()) {
        return invalid_argument(std::string("-f ends with a lone '") + ch + "'");
      }
      if (ch == '\\') {
        char e = format[++i];
        if (e == 'n') {
          literal += '\n';
        } else if (e == 't') {
          literal += '\t';
        } else if (e == '\\') {
          literal += '\\';
        } else {
          return invalid_argument(std::string("-f: unknown escape '\\") + e + "' (use \\n, \\t)");
        }
        continue;
      }
      if (ch != '%') {
        literal += ch;
        continue;
      }
      char spec = format[++i];
      Field field = Field::kLiteral;
      switch (spec) {
        case 'k':
          field = Field::kKey;
          break;
        case 's':
        case 'v':
          field = Field::kValue;
          break;
        case 'o':
          field = Field::kOffset;
          break;
        case 'p':
          field = Field::kPartition;
          break;
        case 'T':
          field = Field::kTimestamp;
          break;
        case 't':
          field = Field::kTopic;
          break;
        case 'K':
          field = Field::kKeyLength;
          break;
        case 'S':
          field = Field::kValueLength;
          break;
        case '%':
          literal += '%';
          continue;
        default:
          return invalid_argument(std::string("-f: unknown field '%") + spec +
                                  "' (use %k %s %v %o %p %T %t %K %S %%)");
      }
      flush();
      f.parts_.push_back({field, {}});
    }
    flush();
    return f;
  }

  void write(const std::string& topic, const v1::FetchedRecord& r, std::string& out) const {
    for (const Part& part : parts_) {
      switch (part.field) {
        case Field::kLiteral:
          out += part.text;
          break;
        case Field::kKey:
          out += r.key();
          break;
        case Field::kValue:
          out += r.value();
          break;
        case Field::kOffset:
          fmt::format_to(std::back_inserter(out), "{}", r.offset());
          break;
        case Field::kPartition:
          fmt::format_to(std::back_inserter(out), "{}", r.partition());
          break;
        case Field::kTimestamp:
          fmt::format_to(std::back_inserter(out), "{}", r.timestamp_ms());
          break;
        case Field::kTopic:
          out += topic;
          break;
        case Field::kKeyLength:
          fmt::format_to(std::back_inserter(out), "{}",
                         r.has_key() ? static_cast<int64_t>(r.key().size()) : -1);
          break;
        case Field::kValueLength:
          fmt::format_to(std::back_inserter(out), "{}",
                         r.has_value() ? static_cast<int64_t>(r.value().size()) : -1);
          break;
      }
    }
  }

 private:
  enum class Field {
    kLiteral,
    kKey,
    kValue,
    kOffset,
    kPartition,
    kTimestamp,
    kTopic,
    kKeyLength,
    kValueLength
  };
  struct Part {
    Field field;
    std::string text;
  };
  std::vector<Part> parts_;
};

// Commits the positions a group member has reached.
grpc::Status commit(server::Connection& c, const std::string& group, const std::string& topic,
                    const std::map<int32_t, int64_t>& positions) {
  v1::CommitOffsetsRequest request;
  request.set_group(group);
  for (const auto& [p, offset] : positions) {
    v1::GroupOffset* o = request.add_offsets();
    o->set_topic(topic);
    o->set_partition(p);
    o->set_offset(offset);
  }
  if (request.offsets_size() == 0) return grpc::Status::OK;
  v1::CommitOffsetsResponse response;
  return c.groups().CommitOffsets(c.context(std::chrono::seconds(10)).get(), request, &response);
}

int consume(const ConsumeFlags& f) {
  auto start = parse_offset(f.offset);
  if (!start.ok()) return report_failure("consume", start.status());
  std::string format_text =
      f.format ? *f.format : (f.key_delimiter.empty() ? "%s\\n" : "%k" + f.key_delimiter + "%s\\n");
  auto formatter = Formatter::compile(format_text);
  if (!formatter.ok()) return report_failure("consume", formatter.status());
  if (f.count < 0) return report_failure("consume", invalid_argument("-c cannot be negative"));

  auto c = connect_or_exit(f.client);
  v1::FetchRequest request;
  request.set_topic(f.topic);
  for (int32_t p : f.partitions) request.add_partitions(p);
  *request.mutable_start() = *start;
  request.set_isolation(f.read_uncommitted ? v1::READ_UNCOMMITTED : v1::READ_COMMITTED);
  request.set_stop_at_end(f.exit_at_end);
  request.set_max_records(f.count);

  if (!f.group.empty()) {
    // Resume where the group left off; partitions without a committed offset start at -o.
    v1::FetchOffsetsRequest fo;
    fo.set_group(f.group);
    fo.set_topic(f.topic);
    v1::FetchOffsetsResponse committed;
    auto status =
        c->groups().FetchOffsets(c->context(std::chrono::seconds(10)).get(), fo, &committed);
    if (!status.ok()) return report_failure("reading the offsets of " + f.group, status, f.client);
    for (const v1::GroupOffset& o : committed.offsets()) {
      (*request.mutable_offsets())[o.partition()] = o.offset();
    }
  }

  // SIGINT/SIGTERM end the stream (and, in a group, commit where it got to).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto context = c->context();
  std::mutex mu;
  bool done = false;
  std::thread watcher([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::lock_guard lock(mu);
    if (!done) context->TryCancel();
  });

  auto reader = c->records().Fetch(context.get(), request);
  v1::FetchResponse response;
  std::map<int32_t, int64_t> positions;
  std::string out;
  auto last_commit = std::chrono::steady_clock::now();
  int exit = 0;
  while (reader->Read(&response)) {
    out.clear();
    for (const v1::FetchedRecord& r : response.records()) formatter->write(f.topic, r, out);
    if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
      context->TryCancel();  // stdout closed (e.g. `| head`): stop quietly
      break;
    }
    for (const v1::PartitionPosition& p : response.positions()) {
      positions[p.partition()] = p.next_offset();
    }
    if (!f.group.empty() &&
        std::chrono::steady_clock::now() - last_commit > std::chrono::seconds(1)) {
      std::fflush(stdout);
      if (auto s = commit(*c, f.group, f.topic, positions); !s.ok()) {
        exit = report_failure("committing offsets of " + f.group, s, f.client);
        context->TryCancel();
        break;
      }
      last_commit = std::chrono::steady_clock::now();
    }
  }
  std::fflush(stdout);
  grpc::Status status = reader->Finish();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED && exit == 0) {
    exit = report_failure("consume " + f.topic, status, f.client);
  }
  if (!f.group.empty() && exit == 0) {
    if (auto s = commit(*c, f.group, f.topic, positions); !s.ok()) {
      exit = report_failure("committing offsets of " + f.group, s, f.client);
    }
  }
  return exit;
}

}  // namespace

void add_consume_command(CLI::App& app) {
  auto f = std::make_shared<ConsumeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "consume",
      "Print the records of a topic, like `kcat -C`. Runs until interrupted unless -e or -c.\n"
      "Output is one record per line: the value, or key DELIM value with -K DELIM, or -f.");
  cmd->add_option("-t,--topic", f->topic, "Topic to consume")->required();
  cmd->add_option("-p,--partition", f->partitions, "Partition, repeatable (default: all)");
  cmd->add_option("-o,--offset", f->offset,
                  "Start: beginning, end, <offset>, -<n> (the last n of each partition), "
                  "s@<timestamp-ms>")
      ->capture_default_str();
  cmd->add_option("-c,--count", f->count, "Stop after this many records");
  cmd->add_flag("-e,--exit", f->exit_at_end, "Stop at the end of every partition");
  cmd->add_option("-f,--format", f->format,
                  "Output format: %k key, %s (or %v) value, %o offset, %p partition, %T "
                  "timestamp (ms), %t topic, %K/%S key/value length, %%, \\n, \\t");
  cmd->add_option("-K,--key-delimiter", f->key_delimiter,
                  "Print key DELIM value (ignored with -f)");
  cmd->add_option("-G,--group", f->group,
                  "Consumer group: resume from its committed offsets (-o for partitions without "
                  "one) and commit positions every second and at exit");
  cmd->add_flag("--read-uncommitted", f->read_uncommitted,
                "Also show records of open and aborted transactions");
  add_client_flags(*cmd, f->client);
  cmd->callback([f] { exit_code() = consume(*f); });
}

}  // namespace sluice::cli

// `sluice consume`: records of a topic to stdout, kcat style.
#include <unistd.h>
#include <charconv>

#include <atomic>
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
  int32_t session_timeout_ms = 10'000;
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

// Cancels the fetch stream in progress from other threads (signals, group heartbeats).
class Interrupt {
 public:
  void set_stream(grpc::ClientContext* context) {
    std::lock_guard lock(mu_);
    context_ = context;
    if (context_ != nullptr && (stop_ || rebalance_)) context_->TryCancel();
  }
  void stop() { fire(stop_); }
  void rebalance() { fire(rebalance_); }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stop_;
  }
  // Whether a rebalance was asked for since the last call.
  bool take_rebalance() {
    std::lock_guard lock(mu_);
    return std::exchange(rebalance_, false);
  }

 private:
  void fire(bool& flag) {
    std::lock_guard lock(mu_);
    flag = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  std::mutex mu_;
  grpc::ClientContext* context_ = nullptr;
  bool stop_ = false;
  bool rebalance_ = false;
};

// What a consumer does: fetch streams, printing records and tracking positions.
struct Consumer {
  const ConsumeFlags& f;
  server::Connection& c;
  const Formatter& formatter;
  Interrupt& interrupt;
  int64_t remaining;  // -c; INT64_MAX without
  std::map<int32_t, int64_t> positions;
  std::chrono::steady_clock::time_point last_commit = std::chrono::steady_clock::now();

  // One stream; returns how it ended (CANCELLED when interrupted). `reached_end`: the server
  // finished it (-e or -c) rather than an interruption.
  grpc::Status stream(v1::FetchRequest request, bool& reached_end) {
    reached_end = false;
    request.set_max_records(remaining == INT64_MAX ? 0 : remaining);
    auto context = c.context();
    interrupt.set_stream(context.get());
    auto reader = c.records().Fetch(context.get(), request);
    v1::FetchResponse response;
    std::string out;
    grpc::Status failure;
    while (reader->Read(&response)) {
      out.clear();
      for (const v1::FetchedRecord& r : response.records()) formatter.write(f.topic, r, out);
      remaining -= response.records_size();
      if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
        interrupt.stop();  // stdout closed (e.g. `| head`): stop quietly
        break;
      }
      for (const v1::PartitionPosition& p : response.positions()) {
        positions[p.partition()] = p.next_offset();
      }
      if (!f.group.empty() &&
          std::chrono::steady_clock::now() - last_commit > std::chrono::seconds(1)) {
        if (failure = commit_positions(); !failure.ok()) {
          context->TryCancel();
          break;
        }
      }
    }
    std::fflush(stdout);
    grpc::Status status = reader->Finish();
    interrupt.set_stream(nullptr);
    if (!failure.ok()) return failure;
    reached_end = status.ok();
    return status;
  }

  grpc::Status commit_positions() {
    std::fflush(stdout);  // what is committed has been written
    last_commit = std::chrono::steady_clock::now();
    return commit(c, f.group, f.topic, positions);
  }
};

int fail(const std::string& what, const grpc::Status& status, const ConsumeFlags& f) {
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) return 0;
  return report_failure(what, status, f.client);
}

// A member of a group: its share of the partitions, handed out (and taken back) by the
// server's coordinator; positions resume from the group's committed offsets and are committed
// every second, before giving partitions up, and at exit.
int consume_in_group(Consumer& consumer, const v1::FetchRequest& base) {
  const ConsumeFlags& f = consumer.f;
  server::Connection& c = consumer.c;
  char host[256] = "?";
  gethostname(host, sizeof(host) - 1);
  v1::JoinGroupRequest join;
  join.set_group(f.group);
  join.set_topic(f.topic);
  join.set_session_timeout_ms(f.session_timeout_ms);
  join.set_client(fmt::format("sluice consume on {} (pid {})", host, getpid()));

  std::mutex mu;  // guards membership between this thread and the heartbeat thread
  v1::Membership membership;
  auto do_join = [&]() -> grpc::Status {
    v1::Membership m;
    auto s = c.groups().JoinGroup(c.context(std::chrono::seconds(10)).get(), join, &m);
    if (s.ok()) {
      std::lock_guard lock(mu);
      membership = m;
    }
    return s;
  };
  // Heartbeats acknowledging `acked`; a newer generation (or an expiry) interrupts the stream.
  auto heartbeat = [&](int64_t acked, v1::Membership& out) -> grpc::Status {
    v1::HeartbeatRequest hb;
    {
      std::lock_guard lock(mu);
      hb.set_group(f.group);
      hb.set_member_id(membership.member_id());
    }
    hb.set_acknowledged_generation(acked);
    return c.groups().Heartbeat(c.context(std::chrono::seconds(10)).get(), hb, &out);
  };
  if (auto s = do_join(); !s.ok()) return report_failure("joining group " + f.group, s, f.client);

  std::atomic<int64_t> reading_generation{0};
  std::atomic<bool> heartbeats_on{true};
  std::thread heartbeats([&] {
    while (heartbeats_on.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const int64_t gen = reading_generation.load();
      if (gen == 0) continue;  // between generations: the main thread heartbeats
      v1::Membership m;
      auto s = heartbeat(gen, m);
      if (!s.ok() || m.generation() != gen) consumer.interrupt.rebalance();
    }
  });

  int exit = 0;
  while (!consumer.interrupt.stopped() && consumer.remaining > 0) {
    // Wait for this generation's share: acknowledge it (nothing is being read now).
    v1::Membership m;
    grpc::Status s;
    int64_t gen;
    {
      std::lock_guard lock(mu);
      gen = membership.generation();
    }
    for (;;) {
      s = heartbeat(gen, m);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {  // expired: join again
        s = do_join();
        if (!s.ok()) break;
        std::lock_guard lock(mu);
        gen = membership.generation();
        continue;
      }
      if (!s.ok() || m.assigned() || consumer.interrupt.stopped()) break;
      if (m.generation() != gen) {
        gen = m.generation();  // nothing is being read: acknowledge the newest at once
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!s.ok()) {
      exit = report_failure("membership of group " + f.group, s, f.client);
      break;
    }
    if (consumer.interrupt.stopped()) break;
    consumer.interrupt.take_rebalance();
    {
      std::lock_guard lock(mu);
      membership = m;
    }
    std::vector<int32_t> mine(m.partitions().begin(), m.partitions().end());
    if (!f.partitions.empty()) {
      std::erase_if(mine, [&](int32_t p) {
        return std::find(f.partitions.begin(), f.partitions.end(), p) == f.partitions.end();
      });
    }
    // Resume from the group's committed offsets.
    v1::FetchOffsetsRequest fo;
    fo.set_group(f.group);
    fo.set_topic(f.topic);
    v1::FetchOffsetsResponse committed;
    s = c.groups().FetchOffsets(c.context(std::chrono::seconds(10)).get(), fo, &committed);
    if (!s.ok()) {
      exit = report_failure("reading the offsets of " + f.group, s, f.client);
      break;
    }
    v1::FetchRequest request = base;
    request.clear_partitions();
    for (int32_t p : mine) request.add_partitions(p);
    for (const v1::GroupOffset& o : committed.offsets()) {
      if (std::find(mine.begin(), mine.end(), o.partition()) != mine.end()) {
        (*request.mutable_offsets())[o.partition()] = o.offset();
      }
    }
    consumer.positions.clear();
    reading_generation.store(m.generation());
    bool reached_end = false;
    if (mine.empty()) {
      // Nothing to read this generation: wait for the next one (or the end).
      if (f.exit_at_end) break;
      while (!consumer.interrupt.stopped() && !consumer.interrupt.take_rebalance()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } else {
      s = consumer.stream(request, reached_end);
    }
    reading_generation.store(0);
    // Give the partitions back with their positions committed.
    if (auto cs = consumer.commit_positions(); !cs.ok()) {
      exit = report_failure("committing offsets of " + f.group, cs, f.client);
      break;
    }
    if (reached_end) break;
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      exit = fail("consume " + f.topic, s, f);
      break;
    }
  }
  heartbeats_on.store(false);
  heartbeats.join();
  v1::LeaveGroupRequest leave;
  leave.set_group(f.group);
  leave.set_member_id(membership.member_id());
  v1::LeaveGroupResponse left;
  // Leaving early hands the partitions over at once; a failure here only means they move after
  // the session timeout.
  c.groups().LeaveGroup(c.context(std::chrono::seconds(5)).get(), leave, &left).ok();
  return exit;
}

int consume(const ConsumeFlags& f) {
  // SIGINT/SIGTERM end the stream (and, in a group, commit where it got to and leave). Blocked
  // before gRPC starts its threads, which inherit the mask; a thread of ours takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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

  Interrupt interrupt;
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (!done.load()) interrupt.stop();
  });

  Consumer consumer{.f = f,
                    .c = *c,
                    .formatter = *formatter,
                    .interrupt = interrupt,
                    .remaining = f.count > 0 ? f.count : INT64_MAX};
  int exit = 0;
  if (f.group.empty()) {
    bool reached_end = false;
    exit = fail("consume " + f.topic, consumer.stream(request, reached_end), f);
  } else {
    exit = consume_in_group(consumer, request);
  }
  done.store(true);
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
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
                  "Consumer group: members of a group share the topic's partitions, resume from "
                  "its committed offsets (-o for partitions without one) and commit every second, "
                  "before a rebalance and at exit");
  cmd->add_option("--session-timeout-ms", f->session_timeout_ms,
                  "With -G: a member silent this long loses its partitions to the others")
      ->capture_default_str();
  cmd->add_flag("--read-uncommitted", f->read_uncommitted,
                "Also show records of open and aborted transactions");
  add_client_flags(*cmd, f->client);
  cmd->callback([f] { exit_code() = consume(*f); });
}

}  // namespace sluice::cli

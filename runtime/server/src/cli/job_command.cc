// `sluice job submit|list|describe|stop|restart|delete|validate`.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/core.h>

#include "cli/cli_common.h"
#include "job_library.h"
#include "sluice/base/bytes.h"
#include "sluice/v1/jobs.grpc.pb.h"

namespace sluice::cli {

namespace {

struct JobFlags {
  server::ClientOptions client;
  std::string store;
  std::optional<std::string> key, from, to;
  std::optional<int64_t> window_from, window_to;
  std::string key_format = "string";
  std::string value_format = "string";
  int limit = 0;
  std::string library;
  std::string sample;
  std::string name;
  std::vector<std::string> configs;
  bool replace = false;
  bool reset_state = false;
  bool json = false;
};

std::unique_ptr<v1::Jobs::Stub> jobs_stub(server::Connection& c) {
  return v1::Jobs::NewStub(c.channel());
}

const char* state_name(v1::JobState s) {
  return v1::JobState_Name(s).c_str();  // a reference to protobuf's static name
}

void print_description(const v1::JobDescription& d, bool with_topology) {
  const v1::JobSummary& s = d.summary();
  std::printf("Job: %s\tState: %s\tSource: %s\n", s.name().c_str(), state_name(s.state()),
              s.source().c_str());
  if (!s.error().empty()) std::printf("Error: %s\n", s.error().c_str());
  if (!d.config().empty()) {
    std::printf("Config:");
    std::map<std::string, std::string> sorted(d.config().begin(), d.config().end());
    for (const auto& [k, v] : sorted) std::printf(" %s=%s", k.c_str(), v.c_str());
    std::printf("\n");
  }
  std::printf("Records processed: %lld\tLag: %lld\tCommits: %lld (avg %.1f ms)\n",
              static_cast<long long>(d.records_processed()), static_cast<long long>(d.total_lag()),
              static_cast<long long>(d.commits()), d.commit_latency_avg_ms());
  for (const v1::TaskMetrics& t : d.tasks()) {
    int64_t lag = 0;
    for (const auto& in : t.inputs()) lag += in.lag();
    std::printf("  Task %-6s thread %d %s records %lld lag %lld %.0f ns/record%s\n", t.id().c_str(),
                t.thread(), t.restoring() ? "RESTORING" : "running  ",
                static_cast<long long>(t.records_processed()), static_cast<long long>(lag),
                t.process_ns_per_record(),
                t.alignment_wait_ms() > 0
                    ? fmt::format(" waited {:.1f} s for slower tasks",
                                  static_cast<double>(t.alignment_wait_ms()) / 1000.0)
                          .c_str()
                    : "");
    for (const auto& r : t.restore()) {
      if (!r.done()) {
        std::printf("    restoring %s: %lld of ~%lld records, %.0f/s, ETA %.0f s\n",
                    r.store().c_str(), static_cast<long long>(r.records()),
                    static_cast<long long>(r.records_total()), r.records_per_s(), r.eta_s());
      }
    }
    for (const auto& op : t.operators()) {
      std::printf("    %-40s in %10lld out %10lld%s\n", op.name().c_str(),
                  static_cast<long long>(op.records_in()), static_cast<long long>(op.records_out()),
                  op.late_dropped() > 0 ? fmt::format(" late {}", op.late_dropped()).c_str() : "");
    }
    for (const auto& st : t.stores()) {
      std::printf("    store %-34s ~%lld keys, %lld bytes on disk\n", st.name().c_str(),
                  static_cast<long long>(st.estimated_keys()),
                  static_cast<long long>(st.disk_bytes()));
    }
  }
  if (with_topology) std::printf("%s", d.topology().c_str());
}

int submit(const JobFlags& f) {
  auto configs = parse_configs(f.configs);
  if (!configs.ok()) return report_failure("job submit", configs.status());
  if (f.library.empty() == f.sample.empty()) {
    return report_failure("job submit",
                          invalid_argument("give a job library (LIB.so) or --sample NAME"));
  }
  v1::SubmitJobRequest first;
  v1::JobSpec* spec = first.mutable_spec();
  spec->mutable_config()->insert(configs->begin(), configs->end());
  spec->set_replace(f.replace);
  spec->set_reset_state(f.reset_state);
  std::string library;
  if (!f.sample.empty()) {
    spec->set_sample(f.sample);
    spec->set_name(f.name.empty() ? f.sample : f.name);
  } else {
    std::ifstream in(f.library, std::ios::binary);
    if (!in) return report_failure("job submit", not_found("cannot read " + f.library));
    library.assign(std::istreambuf_iterator<char>(in), {});
    std::string file = std::filesystem::path(f.library).filename().string();
    spec->set_library_name(file);
    std::string stem = std::filesystem::path(f.library).stem().string();
    if (stem.starts_with("lib")) stem = stem.substr(3);
    spec->set_name(f.name.empty() ? stem : f.name);
  }
  auto c = connect_or_exit(f.client);
  auto ctx = c->context();
  v1::JobDescription response;
  auto stub = jobs_stub(*c);
  auto writer = stub->SubmitJob(ctx.get(), &response);
  bool open = writer->Write(first);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; open && at < library.size(); at += kChunk) {
    v1::SubmitJobRequest part;
    part.set_library_chunk(library.substr(at, kChunk));
    open = writer->Write(part);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return report_failure("job submit " + spec->name(), status, f.client);
  std::printf("Submitted job %s (%s)\n", response.summary().name().c_str(),
              state_name(response.summary().state()));
  return 0;
}

int list(const JobFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::ListJobsResponse response;
  auto status = jobs_stub(*c)->ListJobs(c->context().get(), {}, &response);
  if (!status.ok()) return report_failure("job list", status, f.client);
  for (const auto& j : response.jobs()) {
    std::printf("%s\t%s\t%s%s\n", j.name().c_str(), state_name(j.state()), j.source().c_str(),
                j.error().empty() ? "" : ("\t" + j.error()).c_str());
  }
  return 0;
}

using JobCall = grpc::Status (v1::Jobs::Stub::*)(grpc::ClientContext*, const v1::JobRequest&,
                                                 v1::JobDescription*);

int on_job(const JobFlags& f, const char* verb, JobCall call, bool with_topology) {
  auto c = connect_or_exit(f.client);
  v1::JobRequest request;
  request.set_name(f.name);
  v1::JobDescription response;
  auto stub = jobs_stub(*c);
  auto status = ((*stub).*call)(c->context().get(), request, &response);
  if (!status.ok())
    return report_failure(std::string("job ") + verb + " " + f.name, status, f.client);
  print_description(response, with_topology);
  return 0;
}

int remove(const JobFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::DeleteJobRequest request;
  request.set_name(f.name);
  request.set_reset_state(f.reset_state);
  v1::DeleteJobResponse response;
  auto status = jobs_stub(*c)->DeleteJob(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("job delete " + f.name, status, f.client);
  std::printf("Deleted job %s%s\n", f.name.c_str(), f.reset_state ? " and its state" : "");
  return 0;
}

// Keys typed on the command line, as the job's serde writes them.
Result<std::string> encode_key(const std::string& text, const std::string& format) {
  if (format == "string") return text;
  if (format == "int64" || format == "int32") {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return invalid_argument("key '" + text + "' is not an integer (--key-format " + format + ")");
    }
    Bytes out;
    if (format == "int64") {
      append_be<int64_t>(out, n);
    } else {
      append_be<int32_t>(out, static_cast<int32_t>(n));
    }
    return out;
  }
  if (format == "hex") {
    if (text.size() % 2 != 0) return invalid_argument("a hex key has an even number of digits");
    std::string out;
    for (size_t i = 0; i < text.size(); i += 2) {
      out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    }
    return out;
  }
  return invalid_argument("--key-format is string, int64, int32 or hex, not " + format);
}

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// Stored bytes, shown as `format` says.
std::string show(const std::string& bytes, const std::string& format) {
  if (format == "int64" && bytes.size() == 8) return std::to_string(load_be<int64_t>(bytes.data()));
  if (format == "int32" && bytes.size() == 4) return std::to_string(load_be<int32_t>(bytes.data()));
  if (format == "double" && bytes.size() == 8) {
    uint64_t bits = load_be<uint64_t>(bytes.data());
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return fmt::format("{}", d);
  }
  if (format == "hex" || (format != "string" && format != "json")) return hex(bytes);
  return bytes;
}

int query(const JobFlags& f) {
  v1::QueryStoreRequest request;
  request.set_job(f.name);
  request.set_store(f.store);
  auto key = [&](const std::string& text) -> std::optional<std::string> {
    auto k = encode_key(text, f.key_format);
    if (!k.ok()) {
      report_failure("job query", k.status());
      return std::nullopt;
    }
    return *k;
  };
  if (f.window_from || f.window_to) {
    if (!f.key) {
      return report_failure("job query", invalid_argument("a window query needs a KEY"));
    }
    auto k = key(*f.key);
    if (!k) return kExitFailed;
    request.mutable_windows()->set_key(*k);
    request.mutable_windows()->set_from_ms(f.window_from.value_or(0));
    request.mutable_windows()->set_to_ms(f.window_to.value_or(INT64_MAX));
  } else if (f.key) {
    auto k = key(*f.key);
    if (!k) return kExitFailed;
    request.set_key(*k);
  } else {
    v1::KeyRange* range = request.mutable_range();
    if (f.from) {
      auto k = key(*f.from);
      if (!k) return kExitFailed;
      range->set_from(*k);
    }
    if (f.to) {
      auto k = key(*f.to);
      if (!k) return kExitFailed;
      range->set_to(*k);
    }
    range->set_limit(f.limit);
  }
  auto c = connect_or_exit(f.client);
  v1::QueryStoreResponse response;
  auto status = jobs_stub(*c)->QueryStore(c->context().get(), request, &response);
  if (!status.ok()) {
    return report_failure("job query " + f.name + " " + f.store, status, f.client);
  }
  if (request.query_case() == v1::QueryStoreRequest::kKey && response.entries_size() == 0) {
    std::fprintf(stderr, "sluice: no value for that key in %s\n", f.store.c_str());
    return kExitFailed;
  }
  const std::string key_format = f.key_format == "string" ? "string" : f.key_format;
  for (const v1::StoreEntry& e : response.entries()) {
    if (request.query_case() == v1::QueryStoreRequest::kWindows) {
      std::printf("%lld\t%s\n", static_cast<long long>(e.window_start_ms()),
                  show(e.value(), f.value_format).c_str());
    } else {
      std::printf("%s\t%s\n", show(e.key(), key_format).c_str(),
                  show(e.value(), f.value_format).c_str());
    }
  }
  if (response.truncated()) {
    std::fprintf(stderr, "sluice: stopped at %d entries (--limit)\n", response.entries_size());
  }
  return 0;
}

int validate(const JobFlags& f) {
  auto configs = parse_configs(f.configs);
  if (!configs.ok()) return report_failure("job validate", configs.status());
  auto check = server::check_job_in_process(f.library, dsl::JobConfig(*configs));
  if (f.json) {
    std::printf("%s\n", server::job_check_to_json(check).c_str());
    return check.ok() ? 0 : kExitFailed;
  }
  if (!check.ok()) return report_failure("job validate " + f.library, check.status());
  std::printf("%s is a valid job (ABI %d)\n", f.library.c_str(), dsl::kJobAbiVersion);
  for (const auto& [topic, partitions] : check->topics) {
    std::printf("  topic %s: %d partition(s), created when missing\n", topic.c_str(), partitions);
  }
  std::printf("%s", check->topology.c_str());
  return 0;
}

}  // namespace

void add_job_command(CLI::App& app) {
  auto f = std::make_shared<JobFlags>();
  CLI::App* job = app.add_subcommand("job", "Submit, inspect and control jobs on the server");
  job->require_subcommand(1);

  CLI::App* s = job->add_subcommand(
      "submit",
      "Run a job: a library built with sluice_add_job, or a built-in sample.\n"
      "The server checks the library in a child process first. Runtime keys in --config:\n"
      "threads, commit.interval.ms, processing.guarantee (exactly_once|at_least_once),\n"
      "offset.reset (earliest|latest), max.task.drift.ms (how far in stream time a task may\n"
      "run ahead of the slowest of its sub-topology; default 30000, -1: no bound); the others\n"
      "go to the job.");
  s->add_option("library", f->library, "Job library (lib<name>.so)");
  s->add_option("--sample", f->sample, "A built-in sample instead: page-views, sessions");
  s->add_option("--name", f->name, "Job name (default: the library's or sample's name)");
  s->add_option("-c,--config", f->configs, "key=value, repeatable");
  s->add_flag("--replace", f->replace, "Replace the job of the same name (its state is kept)");
  s->add_flag("--reset-state", f->reset_state,
              "With --replace: delete the old job's state and internal topics, start over");
  add_client_flags(*s, f->client);
  s->callback([f] { exit_code() = submit(*f); });

  CLI::App* l = job->add_subcommand("list", "List jobs with their states");
  add_client_flags(*l, f->client);
  l->callback([f] { exit_code() = list(*f); });

  CLI::App* d = job->add_subcommand(
      "describe", "A job's state, metrics per task and operator, restore progress and topology");
  d->add_option("name", f->name, "Job name")->required();
  add_client_flags(*d, f->client);
  d->callback([f] { exit_code() = on_job(*f, "describe", &v1::Jobs::Stub::DescribeJob, true); });

  CLI::App* st = job->add_subcommand("stop", "Commit and stop a job (restart resumes it)");
  st->add_option("name", f->name, "Job name")->required();
  add_client_flags(*st, f->client);
  st->callback([f] { exit_code() = on_job(*f, "stop", &v1::Jobs::Stub::StopJob, false); });

  CLI::App* r = job->add_subcommand("restart", "Stop (if running) and start a job again");
  r->add_option("name", f->name, "Job name")->required();
  add_client_flags(*r, f->client);
  r->callback([f] { exit_code() = on_job(*f, "restart", &v1::Jobs::Stub::RestartJob, false); });

  CLI::App* del = job->add_subcommand("delete", "Stop a job and forget it");
  del->add_option("name", f->name, "Job name")->required();
  del->add_flag("--reset-state", f->reset_state,
                "Also delete its state, changelogs and repartition topics");
  add_client_flags(*del, f->client);
  del->callback([f] { exit_code() = remove(*f); });

  CLI::App* q = job->add_subcommand(
      "query",
      "Read a running job's store: a KEY's value, a range of keys (no KEY), or a KEY's windows\n"
      "(--window-from/--window-to). Prints key TAB value (window-start TAB value).");
  q->add_option("name", f->name, "Job name")->required();
  q->add_option("store", f->store, "Store name (see `sluice job describe`)")->required();
  q->add_option("key", f->key, "Key (as --key-format)");
  q->add_option("--from", f->from, "Range: first key (inclusive)");
  q->add_option("--to", f->to, "Range: last key (exclusive)");
  q->add_option("--limit", f->limit, "Range: at most this many entries (default 10000)");
  q->add_option("--window-from", f->window_from, "Windows starting at or after (ms)");
  q->add_option("--window-to", f->window_to, "Windows starting at or before (ms)");
  q->add_option("--key-format", f->key_format, "string, int64, int32 or hex")
      ->capture_default_str();
  q->add_option("--value-format", f->value_format, "string, json, int64, int32, double or hex")
      ->capture_default_str();
  add_client_flags(*q, f->client);
  q->callback([f] { exit_code() = query(*f); });

  CLI::App* v = job->add_subcommand(
      "validate", "Load a job library here and build its topology, without a server");
  v->add_option("library", f->library, "Job library (lib<name>.so)")->required();
  v->add_option("-c,--config", f->configs, "key=value, repeatable");
  v->add_flag("--json", f->json, "Print the result as JSON (what the server reads)");
  v->callback([f] { exit_code() = validate(*f); });
}

}  // namespace sluice::cli

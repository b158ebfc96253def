// TaskState: one task's RocksDB instance, stores, changelogs, record cache and commits.
#include "sluice/state/task_state.h"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "cached_store.h"
#include "changelog.h"
#include "memory_budget_impl.h"
#include "record_cache.h"
#include "rocks_key_value_store.h"
#include "rocks_window_stores.h"
#include "rocks_writer.h"
#include "sluice/state/in_memory_stores.h"
#include "ttl_store.h"

namespace sluice::state {
namespace {

using logstore::TopicPartition;

constexpr std::string_view kOffsetKeyPrefix = "changelog-offset/";
constexpr std::string_view kKindKeyPrefix = "store-kind/";
constexpr std::string_view kTtlKeyPrefix = "store-ttl/";
// Present for a window store laid out time-ordered (StoreSpec::time_ordered).
constexpr std::string_view kLayoutKeyPrefix = "store-layout/";
// The least a TTL sweep examines at each commit (more when more was written since the last).
constexpr size_t kSweepMinimum = 1000;
constexpr size_t kRestoreFetchBytes = 8 << 20;

std::string_view kind_name(StoreKind k) {
  switch (k) {
    case StoreKind::kKeyValue:
      return "key-value";
    case StoreKind::kWindow:
      return "window";
    case StoreKind::kSession:
      return "session";
  }
  return "?";
}

Status validate_spec(const StoreSpec& spec, StoreKind kind) {
  if (spec.name.empty() || spec.name.size() > 200) {
    return invalid_argument("a store needs a name of 1 to 200 characters");
  }
  for (char c : spec.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return invalid_argument("store name '" + spec.name +
                              "' may only contain letters, digits, '.', '_' and '-' (it names "
                              "the store's changelog topic)");
    }
  }
  if (spec.kind != kind) {
    return invalid_argument("store '" + spec.name + "' is specified as a " +
                            std::string(kind_name(spec.kind)) + " store but requested as a " +
                            std::string(kind_name(kind)) + " store");
  }
  if (kind != StoreKind::kKeyValue && spec.retention_ms < 1) {
    return invalid_argument("store '" + spec.name + "' needs a positive retention_ms");
  }
  if (spec.ttl_ms < 0) return invalid_argument("store '" + spec.name + "' has a negative ttl_ms");
  return Status();
}

// Values of a store with TTL carry write times; a changelog written with and a store opened
// without (or the reverse) would mix the two.
Status check_ttl_format(const StoreSpec& spec, const TopicPartition& tp,
                        const logstore::RecordView& r) {
  const bool stamped = std::ranges::any_of(
      r.headers, [](const logstore::RecordHeader& h) { return h.key == kTtlChangelogHeader; });
  if (stamped == (spec.ttl_ms > 0)) return Status();
  return invalid_argument("changelog " + tp.to_string() + " was written by store '" + spec.name +
                          "' " + (stamped ? "with" : "without") + " a TTL, which is now opened " +
                          (stamped ? "without" : "with") +
                          " one; use a new store name (or reset the application's state)");
}

// One store and the layers over it: inner (RocksDB or memory) <- logged <- cached <- ttl.
struct StoreEntry {
  StoreSpec spec;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  std::unique_ptr<KeyValueStore> kv;
  std::unique_ptr<WindowStore> window;
  std::unique_ptr<SessionStore> session;
  std::unique_ptr<ChangelogBuffer> changelog;
  std::unique_ptr<KeyValueStore> kv_logged;
  std::unique_ptr<WindowStore> window_logged;
  std::unique_ptr<SessionStore> session_logged;
  std::unique_ptr<KeyValueStore> kv_cached;
  std::unique_ptr<TtlKeyValueStore> kv_ttl;
  int64_t restored = 0;
};

class TaskStateImpl final : public TaskState {
 public:
  explicit TaskStateImpl(TaskStateOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : Clock::system()),
        budget_(options_.budget ? options_.budget : StateMemoryBudget::create(64 << 20)),
        cache_(options_.cache_bytes) {}

  ~TaskStateImpl() override { close().ignore_error(); }

  Status open();

  Result<KeyValueStore*> key_value_store(const StoreSpec& spec) override;
  Result<WindowStore*> window_store(const StoreSpec& spec) override;
  Result<SessionStore*> session_store(const StoreSpec& spec) override;
  Status flush(logstore::Producer* producer) override;
  Status apply() override;
  Status abort() override;
  StateMetrics metrics() const override;
  Status close() override;

 private:
  std::string db_path() const { return options_.state_dir + "/rocksdb"; }
  Status open_db();
  // The entry for `spec`, created (column family, changelog topic) and restored on first use.
  Result<StoreEntry*> entry(const StoreSpec& spec, StoreKind kind);
  Status make_inner(StoreEntry& e);
  Status ensure_changelog(StoreEntry& e);
  Result<std::optional<Offset>> stored_offset(const StoreEntry& e);
  Status restore(StoreEntry& e);
  Status wipe(StoreEntry& e);
  Status apply_record(StoreEntry& e, ByteView key, std::optional<ByteView> value);

  TaskStateOptions options_;
  Clock& clock_;
  std::shared_ptr<StateMemoryBudget> budget_;
  RecordCache cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned: destroyed before db_
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf_by_name_;
  std::unique_ptr<RocksWriter> writer_;
  std::map<std::string, std::unique_ptr<StoreEntry>> stores_;
  bool closed_ = false;
};

Status TaskStateImpl::open() {
  if (options_.state_dir.empty()) return invalid_argument("TaskStateOptions.state_dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  if (ec) return errno_status("creating " + options_.state_dir, ec.value());
  if (!options_.persistent) return Status();
  Status s = open_db();
  if (s.code() == StatusCode::kCorruption) {
    // Lost or corrupt local state is rebuilt from the changelogs alone.
    spdlog::warn("state of task at {} is unreadable ({}); rebuilding it from the changelogs",
                 options_.state_dir, s.message());
    std::filesystem::remove_all(db_path(), ec);
    s = open_db();
  }
  return s;
}

Status TaskStateImpl::open_db() {
  rocksdb::DBOptions db_options;
  rocksdb::ColumnFamilyOptions cf_options;
  static_cast<RocksMemoryBudget&>(*budget_).configure(db_options, cf_options);
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 2;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;

  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, db_path(), &names);
  if (!listed.ok()) names = {rocksdb::kDefaultColumnFamilyName};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, cf_options);
  rocksdb::DB* raw = nullptr;
  SLUICE_RETURN_IF_ERROR(
      from_rocks(rocksdb::DB::Open(db_options, db_path(), descriptors, &handles_, &raw),
                 "opening the state of task at " + options_.state_dir));
  db_.reset(raw);
  for (auto* h : handles_) cf_by_name_[h->GetName()] = h;
  writer_ = std::make_unique<RocksWriter>(db_.get());
  return Status();
}

Result<StoreEntry*> TaskStateImpl::entry(const StoreSpec& spec, StoreKind kind) {
  if (closed_) return failed_precondition("the task's state is closed");
  SLUICE_RETURN_IF_ERROR(validate_spec(spec, kind));
  auto it = stores_.find(spec.name);
  if (it != stores_.end()) {
    if (it->second->spec.kind != kind) {
      return invalid_argument("store '" + spec.name + "' exists as a " +
                              std::string(kind_name(it->second->spec.kind)) + " store");
    }
    return it->second.get();
  }
  if (spec.logged && options_.log == nullptr) {
    return invalid_argument("store '" + spec.name +
                            "' is logged but the task has no LogClient for its changelog");
  }
  auto e = std::make_unique<StoreEntry>();
  e->spec = spec;
  bool record_format = false;
  bool relayout = false;
  if (options_.persistent) {
    // The kind is recorded with the data: reopening a store as another kind is refused.
    const std::string kind_key = std::string(kKindKeyPrefix) + spec.name;
    SLUICE_ASSIGN_OR_RETURN(auto stored, writer_->get(db_->DefaultColumnFamily(), kind_key));
    if (stored && *stored != kind_name(kind)) {
      return invalid_argument("store '" + spec.name + "' holds " + *stored +
                              " data and cannot be opened as a " + std::string(kind_name(kind)) +
                              " store");
    }
    // So is whether its values carry TTL stamps: that cannot change under existing data.
    const std::string ttl_key = std::string(kTtlKeyPrefix) + spec.name;
    SLUICE_ASSIGN_OR_RETURN(auto stamped, writer_->get(db_->DefaultColumnFamily(), ttl_key));
    if (stored && stamped.has_value() != (spec.ttl_ms > 0)) {
      return invalid_argument(
          "store '" + spec.name + "' was created " + (stamped ? "with" : "without") +
          " a TTL and cannot be reopened " + (stamped ? "without" : "with") + " one: its values " +
          (stamped ? "carry" : "lack") +
          " write times; use a new store name (or reset the application's state)");
    }
    // The layout of a window store may change (a newer version, another emit strategy): the
    // local data is then rebuilt from the changelog in the new one.
    if (stored && kind == StoreKind::kWindow) {
      const std::string layout_key = std::string(kLayoutKeyPrefix) + spec.name;
      SLUICE_ASSIGN_OR_RETURN(auto layout, writer_->get(db_->DefaultColumnFamily(), layout_key));
      relayout = layout.has_value() != spec.time_ordered;
    }
    record_format = !stored || relayout;
    auto cf = cf_by_name_.find(spec.name);
    if (cf == cf_by_name_.end()) {
      rocksdb::ColumnFamilyOptions cf_options;
      rocksdb::DBOptions unused;
      static_cast<RocksMemoryBudget&>(*budget_).configure(unused, cf_options);
      rocksdb::ColumnFamilyHandle* h = nullptr;
      SLUICE_RETURN_IF_ERROR(from_rocks(db_->CreateColumnFamily(cf_options, spec.name, &h),
                                        "creating store " + spec.name));
      handles_.push_back(h);
      cf = cf_by_name_.emplace(spec.name, h).first;
    }
    e->cf = cf->second;
  }
  if (relayout) {
    spdlog::info("store {}: its local data is laid out {}, the store is now {}: {}", spec.name,
                 spec.time_ordered ? "key-first" : "time-ordered",
                 spec.time_ordered ? "time-ordered" : "key-first",
                 spec.logged ? "rebuilding it from its changelog"
                             : "it starts empty (the store has no changelog)");
    SLUICE_RETURN_IF_ERROR(wipe(*e));
  } else {
    SLUICE_RETURN_IF_ERROR(make_inner(*e));
  }
  if (spec.logged) {
    SLUICE_RETURN_IF_ERROR(ensure_changelog(*e));
    SLUICE_RETURN_IF_ERROR(restore(*e));
  }
  if (record_format) {
    // Recorded once the restore has accepted the changelog's format.
    rocksdb::WriteBatch batch;
    batch.Put(db_->DefaultColumnFamily(), std::string(kKindKeyPrefix) + spec.name,
              std::string(kind_name(kind)));
    if (spec.ttl_ms > 0)
      batch.Put(db_->DefaultColumnFamily(), std::string(kTtlKeyPrefix) + spec.name, "1");
    const std::string layout_key = std::string(kLayoutKeyPrefix) + spec.name;
    if (kind == StoreKind::kWindow && spec.time_ordered) {
      batch.Put(db_->DefaultColumnFamily(), layout_key, "time-ordered");
    } else {
      batch.Delete(db_->DefaultColumnFamily(), layout_key);
    }
    SLUICE_RETURN_IF_ERROR(
        from_rocks(db_->Write(rocksdb::WriteOptions(), &batch), "recording store " + spec.name));
  }
  // Window and session stores are always reached through the wrapper (logging or not): abort()
  // replaces them so they drop a stream time that was never committed.
  switch (kind) {
    case StoreKind::kKeyValue:
      if (spec.logged) e->kv_logged = make_logged(e->kv, e->changelog.get());
      break;
    case StoreKind::kWindow:
      e->window_logged = make_logged(e->window, e->changelog.get());
      break;
    case StoreKind::kSession:
      e->session_logged = make_logged(e->session, e->changelog.get());
      break;
  }
  if (kind == StoreKind::kKeyValue && spec.cached) {
    e->kv_cached = make_cached(e->kv_logged ? *e->kv_logged : *e->kv, cache_, nullptr);
  }
  if (kind == StoreKind::kKeyValue && spec.ttl_ms > 0) {
    KeyValueStore& below = e->kv_cached ? *e->kv_cached : e->kv_logged ? *e->kv_logged : *e->kv;
    e->kv_ttl = make_ttl(below, spec.ttl_ms, clock_);
  }
  return stores_.emplace(spec.name, std::move(e)).first->second.get();
}

Status TaskStateImpl::make_inner(StoreEntry& e) {
  const StoreSpec& spec = e.spec;
  if (options_.persistent) {
    switch (spec.kind) {
      case StoreKind::kKeyValue:
        e.kv = std::make_unique<RocksKeyValueStore>(spec, *writer_, e.cf);
        break;
      case StoreKind::kWindow:
        e.window =
            make_rocks_window_store(spec, *writer_, e.cf, spec.cached ? options_.cache_bytes : 0);
        break;
      case StoreKind::kSession:
        e.session = make_rocks_session_store(spec, *writer_, e.cf);
        break;
    }
    return Status();
  }
  switch (spec.kind) {
    case StoreKind::kKeyValue: {
      SLUICE_ASSIGN_OR_RETURN(e.kv, make_in_memory_key_value_store(spec));
      break;
    }
    case StoreKind::kWindow: {
      SLUICE_ASSIGN_OR_RETURN(e.window, make_in_memory_window_store(spec));
      break;
    }
    case StoreKind::kSession: {
      SLUICE_ASSIGN_OR_RETURN(e.session, make_in_memory_session_store(spec));
      break;
    }
  }
  return Status();
}

Status TaskStateImpl::ensure_changelog(StoreEntry& e) {
  const std::string topic = options_.application_id + "-" + e.spec.name + "-changelog";
  logstore::TopicConfig config;
  config.partitions = std::max(options_.changelog_partitions, options_.partition.value() + 1);
  config.cleanup_policy = logstore::CleanupPolicy::kCompact;
  Status created = options_.log->create_topic(topic, config);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
    return created.with_context("creating changelog " + topic);
  }
  SLUICE_ASSIGN_OR_RETURN(logstore::TopicDescription d, options_.log->describe_topic(topic));
  if (static_cast<size_t>(options_.partition.value()) >= d.partitions.size()) {
    return failed_precondition("changelog " + topic + " has " +
                               std::to_string(d.partitions.size()) +
                               " partitions; task partition " +
                               std::to_string(options_.partition.value()) + " needs more");
  }
  std::vector<logstore::RecordHeader> headers;
  if (e.spec.ttl_ms > 0) headers.push_back({.key = kTtlChangelogHeader});
  e.changelog = std::make_unique<ChangelogBuffer>(TopicPartition{topic, options_.partition},
                                                  std::move(headers));
  return Status();
}

Result<std::optional<Offset>> TaskStateImpl::stored_offset(const StoreEntry& e) {
  if (!options_.persistent) return std::optional<Offset>();
  SLUICE_ASSIGN_OR_RETURN(auto v, writer_->get(db_->DefaultColumnFamily(),
                                               std::string(kOffsetKeyPrefix) + e.spec.name));
  if (!v) return std::optional<Offset>();
  if (v->size() != 8) return corruption("stored changelog offset of " + e.spec.name);
  return std::optional<Offset>(Offset(load_be<int64_t>(v->data())));
}

Status TaskStateImpl::apply_record(StoreEntry& e, ByteView key, std::optional<ByteView> value) {
  switch (e.spec.kind) {
    case StoreKind::kKeyValue:
      return apply_changelog_record(*e.kv, key, value);
    case StoreKind::kWindow:
      return apply_changelog_record(*e.window, key, value);
    case StoreKind::kSession:
      return apply_changelog_record(*e.session, key, value);
  }
  return Status();
}

Status TaskStateImpl::wipe(StoreEntry& e) {
  if (options_.persistent) {
    // Drop and recreate the column family: the quickest way to empty a store.
    const std::string name = e.spec.name;
    SLUICE_RETURN_IF_ERROR(from_rocks(db_->DropColumnFamily(e.cf), "dropping store " + name));
    std::erase(handles_, e.cf);
    SLUICE_RETURN_IF_ERROR(from_rocks(db_->DestroyColumnFamilyHandle(e.cf), "dropping " + name));
    rocksdb::ColumnFamilyOptions cf_options;
    rocksdb::DBOptions unused;
    static_cast<RocksMemoryBudget&>(*budget_).configure(unused, cf_options);
    rocksdb::ColumnFamilyHandle* h = nullptr;
    SLUICE_RETURN_IF_ERROR(
        from_rocks(db_->CreateColumnFamily(cf_options, name, &h), "recreating store " + name));
    handles_.push_back(h);
    cf_by_name_[name] = h;
    e.cf = h;
    SLUICE_RETURN_IF_ERROR(
        from_rocks(db_->Delete(rocksdb::WriteOptions(), db_->DefaultColumnFamily(),
                               std::string(kOffsetKeyPrefix) + name),
                   "forgetting the offset of " + name));
  }
  return make_inner(e);
}

Status TaskStateImpl::restore(StoreEntry& e) {
  const TopicPartition& tp = e.changelog->topic();
  SLUICE_ASSIGN_OR_RETURN(logstore::PartitionEnds ends, options_.log->partition_ends(tp));
  SLUICE_ASSIGN_OR_RETURN(std::optional<Offset> stored, stored_offset(e));
  Offset from = stored ? stored->next() : ends.log_start;
  if (from < ends.log_start) {
    // What the local state lacks is no longer in the changelog: start over from the log alone.
    spdlog::warn("{}: local state is older than changelog {}; rebuilding it", e.spec.name,
                 tp.to_string());
    SLUICE_RETURN_IF_ERROR(wipe(e));
    from = ends.log_start;
  }
  const Offset end = ends.stable.offset();
  RestoreProgress progress{e.spec.name, tp, 0, 0, end - from, 0, 0, false};
  if (from >= end) {
    progress.done = true;
    if (options_.on_restore) options_.on_restore(progress);
    return Status();
  }
  spdlog::info("restoring store {} from {} offsets [{}, {})", e.spec.name, tp.to_string(),
               from.value(), end.value());
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  auto elapsed_s = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (options_.persistent) writer_->begin_bulk();
  Status s;
  logstore::FetchRequest req{.partition = tp,
                             .offset = from,
                             .max_bytes = kRestoreFetchBytes,
                             .isolation = logstore::IsolationLevel::kReadCommitted};
  while (s.ok() && req.offset < end) {
    auto chunk = options_.log->fetch(req);
    if (!chunk.ok()) {
      s = chunk.status();
      break;
    }
    if (chunk->batches.empty()) break;
    s = logstore::for_each_record(
        *chunk, req.offset, logstore::IsolationLevel::kReadCommitted,
        [&](const logstore::RecordView& r) -> Status {
          if (r.offset >= end || !r.key) return Status();
          if (r.value && e.spec.kind == StoreKind::kKeyValue) {
            SLUICE_RETURN_IF_ERROR(check_ttl_format(e.spec, tp, r));
          }
          ++progress.records;
          progress.bytes += static_cast<int64_t>(r.key->size() + (r.value ? r.value->size() : 0));
          return apply_record(e, *r.key, r.value);
        });
    req.offset = chunk->next_offset;
    const auto now = std::chrono::steady_clock::now();
    if (options_.on_restore && now - last_report > std::chrono::milliseconds(200)) {
      last_report = now;
      progress.records_per_s = static_cast<double>(progress.records) / elapsed_s();
      const double covered = static_cast<double>(req.offset - from);
      const double rate = covered / elapsed_s();
      progress.eta_s = rate > 0 ? static_cast<double>(end - req.offset) / rate : 0;
      options_.on_restore(progress);
    }
  }
  if (s.ok() && options_.persistent) {
    // The offset goes in with the last restored records: a crash mid-restore repeats it.
    Bytes offset;
    append_be<int64_t>(offset, (end - 1).value());
    s = writer_->put(db_->DefaultColumnFamily(), std::string(kOffsetKeyPrefix) + e.spec.name,
                     offset);
  }
  if (options_.persistent) {
    Status ended = writer_->end_bulk();
    if (s.ok()) s = ended;
  }
  SLUICE_RETURN_IF_ERROR(s.with_context("restoring store " + e.spec.name));
  e.restored += progress.records;
  progress.done = true;
  progress.records_per_s = static_cast<double>(progress.records) / std::max(elapsed_s(), 1e-9);
  progress.eta_s = 0;
  spdlog::info("restored store {}: {} records, {} bytes in {:.2f} s ({:.0f} records/s)",
               e.spec.name, progress.records, progress.bytes, elapsed_s(), progress.records_per_s);
  if (options_.on_restore) options_.on_restore(progress);
  return Status();
}

Result<KeyValueStore*> TaskStateImpl::key_value_store(const StoreSpec& spec) {
  SLUICE_ASSIGN_OR_RETURN(StoreEntry * e, entry(spec, StoreKind::kKeyValue));
  if (e->kv_ttl) return e->kv_ttl.get();
  if (e->kv_cached) return e->kv_cached.get();
  if (e->kv_logged) return e->kv_logged.get();
  return e->kv.get();
}

Result<WindowStore*> TaskStateImpl::window_store(const StoreSpec& spec) {
  SLUICE_ASSIGN_OR_RETURN(StoreEntry * e, entry(spec, StoreKind::kWindow));
  return e->window_logged ? e->window_logged.get() : e->window.get();
}

Result<SessionStore*> TaskStateImpl::session_store(const StoreSpec& spec) {
  SLUICE_ASSIGN_OR_RETURN(StoreEntry * e, entry(spec, StoreKind::kSession));
  return e->session_logged ? e->session_logged.get() : e->session.get();
}

Status TaskStateImpl::flush(logstore::Producer* producer) {
  if (closed_) return failed_precondition("the task's state is closed");
  for (auto& [name, e] : stores_) {
    if (!e->kv_ttl) continue;
    const size_t budget = std::max(kSweepMinimum, 2 * e->kv_ttl->writes_since_sweep());
    SLUICE_RETURN_IF_ERROR(e->kv_ttl->sweep(budget).status().with_context("expiring " + name));
  }
  SLUICE_RETURN_IF_ERROR(cache_.flush_all());
  for (auto& [name, e] : stores_) {
    if (e->changelog && !e->changelog->empty()) {
      SLUICE_RETURN_IF_ERROR(e->changelog->flush(*options_.log, producer));
    }
  }
  return Status();
}

Status TaskStateImpl::apply() {
  if (closed_) return failed_precondition("the task's state is closed");
  if (options_.persistent) {
    for (auto& [name, e] : stores_) {
      if (!e->changelog || !e->changelog->flushed()) continue;
      Bytes offset;
      append_be<int64_t>(offset, e->changelog->flushed()->value());
      SLUICE_RETURN_IF_ERROR(
          writer_->put(db_->DefaultColumnFamily(), std::string(kOffsetKeyPrefix) + name, offset));
    }
    SLUICE_RETURN_IF_ERROR(writer_->commit());
  }
  for (auto& [name, e] : stores_) {
    if (e->changelog) e->changelog->clear_flushed();
  }
  return Status();
}

Status TaskStateImpl::abort() {
  if (closed_) return failed_precondition("the task's state is closed");
  cache_.clear();
  for (auto& [name, e] : stores_) {
    if (e->changelog) e->changelog->discard();
  }
  if (options_.persistent) {
    writer_->discard();
    // Window and session stores reread their committed stream time.
    for (auto& [name, e] : stores_) {
      if (e->spec.kind != StoreKind::kKeyValue) SLUICE_RETURN_IF_ERROR(make_inner(*e));
    }
    return Status();
  }
  // In-memory stores wrote in place: rebuild the logged ones from their changelogs (which hold
  // exactly what was committed).
  for (auto& [name, e] : stores_) {
    if (!e->changelog) continue;
    SLUICE_RETURN_IF_ERROR(make_inner(*e));
    SLUICE_RETURN_IF_ERROR(restore(*e));
  }
  return Status();
}

StateMetrics TaskStateImpl::metrics() const {
  StateMetrics m;
  // Figures of the DB as of the last commit: its write may still be in flight.
  if (writer_) {
    Status written = writer_->wait_for_commit();
    if (!written.ok()) spdlog::warn("state metrics: {}", written.to_string());
  }
  m.memory = budget_->usage();
  m.cache_bytes = cache_.bytes();
  m.cache_hits = cache_.hits();
  m.cache_misses = cache_.misses();
  for (const auto& [name, e] : stores_) {
    StoreMetrics& sm = m.stores.emplace_back();
    sm.name = name;
    sm.kind = e->spec.kind;
    sm.restored_records = e->restored;
    if (e->kv_ttl) sm.expired_records = e->kv_ttl->expired();
    if (e->cf != nullptr) {
      db_->GetIntProperty(e->cf, "rocksdb.estimate-num-keys", &sm.estimated_keys);
      db_->GetIntProperty(e->cf, "rocksdb.total-sst-files-size", &sm.disk_bytes);
      db_->GetIntProperty(e->cf, "rocksdb.cur-size-all-mem-tables", &sm.memtable_bytes);
    } else if (e->kv) {
      sm.estimated_keys = e->kv->approximate_count().value_or(0);
    }
    m.restored_records += sm.restored_records;
    m.estimated_keys += sm.estimated_keys;
  }
  if (db_) {
    std::error_code ec;
    for (const auto& f : std::filesystem::recursive_directory_iterator(db_path(), ec)) {
      if (f.is_regular_file(ec)) m.disk_bytes += f.file_size(ec);
    }
  }
  return m;
}

Status TaskStateImpl::close() {
  if (closed_) return Status();
  closed_ = true;
  stores_.clear();
  Status s;
  if (db_) {
    writer_.reset();
    for (auto* h : handles_) {
      Status d = from_rocks(db_->DestroyColumnFamilyHandle(h), "closing a store");
      if (s.ok()) s = d;
    }
    handles_.clear();
    Status c = from_rocks(db_->Close(), "closing the task's RocksDB");
    if (s.ok()) s = c;
    db_.reset();
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<TaskState>> TaskState::open(TaskStateOptions options) {
  auto state = std::make_unique<TaskStateImpl>(std::move(options));
  SLUICE_RETURN_IF_ERROR(state->open());
  return std::unique_ptr<TaskState>(std::move(state));
}

}  // namespace sluice::state

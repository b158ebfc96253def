#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "log_files.h"
#include "log_store_impl.h"
#include "sluice/base/check.h"

namespace sluice::logstore {
namespace {

constexpr std::string_view kLockFile = "LOCK";
constexpr int64_t kTimeoutCheckIntervalMs = 1000;
constexpr int64_t kTickMs = 10;

TopicConfig internal_config(int32_t partitions) {
  TopicConfig c;
  c.partitions = partitions;
  c.cleanup_policy = CleanupPolicy::kCompact;
  c.flush_policy = FlushPolicy::kEveryBatch;  // offsets and transaction states must not be lost
  c.segment_bytes = 16 << 20;
  c.max_batch_bytes = 8 << 20;
  return c;
}

}  // namespace

Status validate_topic_name(std::string_view name) {
  if (name.empty() || name.size() > 249) {
    return invalid_argument("topic name must be 1 to 249 characters long");
  }
  if (name == "." || name == "..") return invalid_argument("topic name cannot be '.' or '..'");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return invalid_argument("topic name '" + std::string(name) +
                              "' may only contain letters, digits, '.', '_' and '-'");
    }
  }
  if (is_internal_topic(name)) {
    return invalid_argument("topic names starting with '__' are reserved for internal topics");
  }
  return Status();
}

Result<std::unique_ptr<LogStore>> LogStore::open(const LogStoreOptions& options,
                                                 OpenReport* report) {
  if (options.data_dir.empty()) return invalid_argument("LogStoreOptions.data_dir is empty");
  if (options.offsets_topic_partitions < 1) {
    return invalid_argument("offsets_topic_partitions must be at least 1");
  }
  auto store = std::make_unique<LogStoreImpl>(options);
  OpenReport local;
  SLUICE_RETURN_IF_ERROR(store->open(report ? *report : local));
  return std::unique_ptr<LogStore>(std::move(store));
}

LogStoreImpl::LogStoreImpl(const LogStoreOptions& options)
    : options_(options),
      data_dir_(options.data_dir),
      fs_(options.fs ? *options.fs : FileSystem::posix()),
      clock_(options.clock ? *options.clock : Clock::system()) {}

LogStoreImpl::~LogStoreImpl() {
  Status s = close();
  if (!s.ok()) spdlog::error("closing the log store at {}: {}", data_dir_, s.to_string());
}

Status LogStoreImpl::open(OpenReport& report) {
  SLUICE_RETURN_IF_ERROR(fs_.create_dirs(topics_dir()));
  SLUICE_ASSIGN_OR_RETURN(dir_lock_, fs_.lock_file(data_dir_ + "/" + std::string(kLockFile)));
  // A topic deletion that was interrupted: finish it.
  std::string deleted = data_dir_ + "/deleted";
  if (fs_.exists(deleted)) SLUICE_RETURN_IF_ERROR(fs_.remove_all(deleted));

  SLUICE_ASSIGN_OR_RETURN(auto names, fs_.list_dir(topics_dir()));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    SLUICE_RETURN_IF_ERROR(load_topic(name, report));
  }
  SLUICE_RETURN_IF_ERROR(ensure_internal_topics());

  SLUICE_ASSIGN_OR_RETURN(auto offsets_topic, topic(kConsumerOffsetsTopic));
  SLUICE_ASSIGN_OR_RETURN(auto txn_topic, topic(kTransactionStateTopic));
  groups_ = std::make_unique<GroupOffsets>(offsets_topic->partitions);
  coordinator_ = std::make_unique<TransactionCoordinator>(
      clock_, txn_topic->partitions.at(0),
      [this](const TopicPartition& tp) { return partition(tp); }, *groups_);
  std::vector<std::shared_ptr<Partition>> partitions = all_partitions();
  std::erase(partitions, txn_topic->partitions.at(0));
  SLUICE_RETURN_IF_ERROR(coordinator_->recover(partitions, report));
  SLUICE_RETURN_IF_ERROR(groups_->load());

  if (options_.background_maintenance) {
    maintenance_ = std::jthread([this](std::stop_token stop) { maintenance_loop(stop); });
  }
  return Status();
}

Status LogStoreImpl::load_topic(const std::string& name, OpenReport& report) {
  const std::string dir = topics_dir() + "/" + name;
  const std::string config_path = dir + "/" + std::string(files::kTopicFile);
  if (!fs_.exists(config_path)) {
    spdlog::warn("ignoring {}: it has no {}", dir, files::kTopicFile);
    return Status();
  }
  SLUICE_ASSIGN_OR_RETURN(Bytes text, read_file(fs_, config_path));
  auto config = TopicConfig::from_json(text);
  if (!config.ok()) return config.status().with_context("reading " + config_path);
  auto t = std::make_shared<Topic>();
  t->name = name;
  t->dir = dir;
  t->config = *config;
  for (int32_t p = 0; p < config->partitions; ++p) {
    SLUICE_ASSIGN_OR_RETURN(auto partition,
                            Partition::open(fs_, clock_, {name, PartitionId(p)},
                                            dir + "/" + std::to_string(p), *config, report));
    t->partitions.push_back(std::move(partition));
  }
  WriterLock lock(topics_mu_);
  topics_[name] = std::move(t);
  return Status();
}

Status LogStoreImpl::ensure_internal_topics() {
  if (!topic(kTransactionStateTopic).ok()) {
    SLUICE_RETURN_IF_ERROR(create_topic_internal(kTransactionStateTopic, internal_config(1)));
  }
  if (!topic(kConsumerOffsetsTopic).ok()) {
    SLUICE_RETURN_IF_ERROR(create_topic_internal(
        kConsumerOffsetsTopic, internal_config(options_.offsets_topic_partitions)));
  }
  return Status();
}

Status LogStoreImpl::close() {
  {
    MutexLock lock(maintenance_mu_);
    if (closed_) return Status();
    closed_ = true;
  }
  if (maintenance_.joinable()) {
    maintenance_.request_stop();
    {
      MutexLock lock(maintenance_mu_);
      maintenance_cv_.notify_all();
    }
    maintenance_.join();
  }
  Status first;
  for (const auto& p : all_partitions()) {
    Status s = p->close();
    if (!s.ok() && first.ok()) first = s;
  }
  dir_lock_.reset();
  return first;
}

// --- topics ---

Status LogStoreImpl::create_topic(std::string_view name, const TopicConfig& config) {
  SLUICE_RETURN_IF_ERROR(validate_topic_name(name));
  return create_topic_internal(name, config);
}

Status LogStoreImpl::create_topic_internal(std::string_view name, const TopicConfig& config) {
  SLUICE_RETURN_IF_ERROR(config.validate());
  WriterLock lock(topics_mu_);
  if (topics_.count(name)) {
    return already_exists("topic '" + std::string(name) + "' already exists");
  }
  auto t = std::make_shared<Topic>();
  t->name = std::string(name);
  t->dir = topics_dir() + "/" + t->name;
  t->config = config;
  SLUICE_RETURN_IF_ERROR(fs_.create_dirs(t->dir));
  OpenReport ignored;
  for (int32_t p = 0; p < config.partitions; ++p) {
    SLUICE_ASSIGN_OR_RETURN(auto partition,
                            Partition::open(fs_, clock_, {t->name, PartitionId(p)},
                                            t->dir + "/" + std::to_string(p), config, ignored));
    t->partitions.push_back(std::move(partition));
  }
  // The config file last: a topic directory without one is an unfinished creation.
  SLUICE_RETURN_IF_ERROR(
      write_file_atomically(fs_, t->dir + "/" + std::string(files::kTopicFile), config.to_json()));
  SLUICE_RETURN_IF_ERROR(fs_.sync_dir(topics_dir()));
  topics_[t->name] = std::move(t);
  return Status();
}

Status LogStoreImpl::delete_topic(std::string_view name) {
  if (is_internal_topic(name)) {
    return invalid_argument("internal topic '" + std::string(name) + "' cannot be deleted");
  }
  std::shared_ptr<Topic> t;
  {
    WriterLock lock(topics_mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return not_found("topic '" + std::string(name) + "' does not exist");
    t = it->second;
    topics_.erase(it);
  }
  for (const auto& p : t->partitions) p->close().ignore_error();  // its data is going anyway
  // Move it aside first so that a crash cannot leave half a topic behind.
  const std::string deleted = data_dir_ + "/deleted";
  SLUICE_RETURN_IF_ERROR(fs_.create_dirs(deleted));
  const std::string target = deleted + "/" + t->name + "-" + std::to_string(clock_.now().value());
  SLUICE_RETURN_IF_ERROR(fs_.rename(t->dir, target));
  SLUICE_RETURN_IF_ERROR(fs_.sync_dir(topics_dir()));
  return fs_.remove_all(target);
}

Status LogStoreImpl::alter_topic(std::string_view name,
                                 const std::map<std::string, std::string>& changes) {
  SLUICE_ASSIGN_OR_RETURN(auto t, topic(name));
  WriterLock lock(topics_mu_);
  TopicConfig config = t->config;
  for (const auto& [key, value] : changes) {
    if (key == "partitions") {
      return invalid_argument("the partition count of '" + std::string(name) +
                              "' cannot be changed");
    }
    SLUICE_RETURN_IF_ERROR(config.set(key, value));
  }
  SLUICE_RETURN_IF_ERROR(config.validate());
  SLUICE_RETURN_IF_ERROR(
      write_file_atomically(fs_, t->dir + "/" + std::string(files::kTopicFile), config.to_json()));
  t->config = config;
  for (const auto& p : t->partitions) p->set_config(config);
  return Status();
}

Result<std::shared_ptr<LogStoreImpl::Topic>> LogStoreImpl::topic(std::string_view name) const {
  ReaderLock lock(topics_mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return not_found("topic '" + std::string(name) + "' does not exist");
  return it->second;
}

TopicConfig LogStoreImpl::topic_config(std::string_view name) {
  ReaderLock lock(topics_mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? TopicConfig{} : it->second->config;
}

Result<std::shared_ptr<Partition>> LogStoreImpl::partition(const TopicPartition& tp) {
  ReaderLock lock(topics_mu_);
  auto it = topics_.find(tp.topic);
  if (it == topics_.end()) return not_found("topic '" + tp.topic + "' does not exist");
  const auto& parts = it->second->partitions;
  if (tp.partition.value() < 0 || static_cast<size_t>(tp.partition.value()) >= parts.size()) {
    return not_found("topic '" + tp.topic + "' has no partition " +
                     std::to_string(tp.partition.value()) + " (it has " +
                     std::to_string(parts.size()) + ")");
  }
  return parts[static_cast<size_t>(tp.partition.value())];
}

std::vector<std::shared_ptr<Partition>> LogStoreImpl::all_partitions() const {
  ReaderLock lock(topics_mu_);
  std::vector<std::shared_ptr<Partition>> out;
  for (const auto& [name, t] : topics_) {
    out.insert(out.end(), t->partitions.begin(), t->partitions.end());
  }
  return out;
}

Result<TopicDescription> LogStoreImpl::describe_topic(std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(auto t, topic(name));
  TopicDescription d;
  d.name = t->name;
  d.config = topic_config(name);
  for (const auto& p : t->partitions) {
    d.partitions.push_back(p->ends());
    d.partition_bytes.push_back(p->size_bytes());
  }
  return d;
}

std::vector<std::string> LogStoreImpl::list_topics() {
  ReaderLock lock(topics_mu_);
  std::vector<std::string> out;
  for (const auto& [name, t] : topics_) out.push_back(name);
  return out;
}

Result<PartitionEnds> LogStoreImpl::partition_ends(const TopicPartition& tp) {
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(tp));
  return p->ends();
}

Result<std::optional<Offset>> LogStoreImpl::offset_for_timestamp(const TopicPartition& tp,
                                                                 Timestamp ts) {
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(tp));
  return p->offset_for_timestamp(ts);
}

Status LogStoreImpl::delete_records(const TopicPartition& tp, Offset before) {
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(tp));
  return p->delete_records(before);
}

// --- data ---

Result<FetchResult> LogStoreImpl::fetch(const FetchRequest& request) {
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(request.partition));
  return p->read(request);
}

Result<AppendResult> LogStoreImpl::append_batch(const TopicPartition& tp, Bytes& batch) {
  return append_batch_from(tp, batch, BatchOrigin::kClient);
}

Result<AppendResult> LogStoreImpl::append_local_batch(const TopicPartition& tp, Bytes& batch) {
  return append_batch_from(tp, batch, BatchOrigin::kLocal);
}

Result<AppendResult> LogStoreImpl::append_batch_from(const TopicPartition& tp, Bytes& batch,
                                                     BatchOrigin origin) {
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(tp));
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, parse_batch_header(batch));
  if (h.transactional() && !h.control()) {
    SLUICE_RETURN_IF_ERROR(coordinator_->check_append(h.producer_id, h.producer_epoch, tp));
  }
  return p->append(batch, origin);
}

Result<AppendResult> LogStoreImpl::append(const TopicPartition& tp,
                                          std::span<const Record> records) {
  if (records.empty()) return invalid_argument("append of no records to " + tp.to_string());
  SLUICE_ASSIGN_OR_RETURN(auto p, partition(tp));
  TopicConfig config = p->config();
  Compression codec = Compression::kNone;
  if (config.compression == TopicCompression::kLz4) codec = Compression::kLz4;
  if (config.compression == TopicCompression::kZstd) codec = Compression::kZstd;
  // One builder per thread: its buffer is recycled, so steady appends allocate nothing.
  thread_local RecordBatchBuilder builder;
  builder.reset({.compression = codec, .default_timestamp = clock_.now()});
  builder.reserve(estimated_batch_bytes(records));
  for (const Record& r : records) builder.add(r);
  SLUICE_ASSIGN_OR_RETURN(Bytes batch, builder.build());
  auto result = p->append(batch, BatchOrigin::kLocal);
  builder.recycle(std::move(batch));
  return result;
}

// --- transactions and groups ---

Result<ProducerIdentity> LogStoreImpl::init_producer_id(std::string_view transactional_id,
                                                        int64_t timeout_ms) {
  return coordinator_->init_producer_id(transactional_id, timeout_ms);
}

Status LogStoreImpl::add_partitions_to_transaction(std::string_view transactional_id,
                                                   ProducerIdentity producer,
                                                   const std::vector<TopicPartition>& partitions) {
  return coordinator_->add_partitions(transactional_id, producer, partitions);
}

Status LogStoreImpl::transactional_offset_commit(std::string_view transactional_id,
                                                 ProducerIdentity producer, std::string_view group,
                                                 const OffsetMap& offsets) {
  for (const auto& [tp, committed] : offsets) SLUICE_RETURN_IF_ERROR(partition(tp).status());
  const TopicPartition offsets_partition = groups_->partition_for(group)->id();
  SLUICE_RETURN_IF_ERROR(
      coordinator_->add_partitions(transactional_id, producer, {offsets_partition}));
  return groups_->commit_in_transaction(group, offsets, producer);
}

Status LogStoreImpl::end_transaction(std::string_view transactional_id, ProducerIdentity producer,
                                     bool commit) {
  return coordinator_->end_transaction(transactional_id, producer, commit);
}

Status LogStoreImpl::commit_offsets(std::string_view group, const OffsetMap& offsets) {
  for (const auto& [tp, committed] : offsets) SLUICE_RETURN_IF_ERROR(partition(tp).status());
  return groups_->commit(group, offsets);
}

Result<std::optional<CommittedOffset>> LogStoreImpl::committed_offset(std::string_view group,
                                                                      const TopicPartition& tp) {
  return groups_->fetch(group, tp);
}

Result<OffsetMap> LogStoreImpl::group_offsets(std::string_view group) {
  return groups_->fetch_all(group);
}

std::vector<std::string> LogStoreImpl::list_groups() { return groups_->groups(); }

// --- maintenance ---

Status LogStoreImpl::flush() {
  Status first;
  for (const auto& p : all_partitions()) {
    Status s = p->sync();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status LogStoreImpl::run_retention() {
  Status first;
  for (const auto& p : all_partitions()) {
    Status s = p->enforce_retention();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status LogStoreImpl::run_compaction(bool force) {
  Status first;
  for (const auto& p : all_partitions()) {
    Status s = p->compact(force);
    if (!s.ok() && first.ok()) first = s.with_context("compacting " + p->id().to_string());
  }
  return first;
}

Status LogStoreImpl::abort_timed_out_transactions() {
  return coordinator_->abort_timed_out().status();
}

void LogStoreImpl::maintenance_loop(std::stop_token stop) {
  int64_t last_retention = clock_.monotonic_ms();
  int64_t last_compaction = last_retention;
  int64_t last_timeouts = last_retention;
  auto report = [](const char* what, const Status& s) {
    if (!s.ok()) spdlog::error("background {}: {}", what, s.to_string());
  };
  while (!stop.stop_requested()) {
    {
      MutexLock lock(maintenance_mu_);
      if (stop.stop_requested()) break;
      maintenance_cv_.wait_for(maintenance_mu_, std::chrono::milliseconds(kTickMs));
    }
    const int64_t now = clock_.monotonic_ms();
    for (const auto& p : all_partitions()) {
      if (p->flush_due(now)) report("flush", p->sync());
    }
    if (now - last_timeouts >= kTimeoutCheckIntervalMs) {
      report("transaction timeouts", abort_timed_out_transactions());
      last_timeouts = now;
    }
    if (now - last_retention >= options_.retention_check_interval_ms) {
      report("retention", run_retention());
      last_retention = now;
    }
    if (now - last_compaction >= options_.compaction_check_interval_ms) {
      report("compaction", run_compaction(false));
      last_compaction = now;
    }
  }
}

}  // namespace sluice::logstore

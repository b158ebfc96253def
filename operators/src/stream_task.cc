#include "sluice/operators/stream_task.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace sluice::operators {
namespace {

constexpr std::string_view kErrorStage = "sluice.error.stage";
constexpr std::string_view kErrorMessage = "sluice.error.message";
constexpr std::string_view kErrorTopic = "sluice.error.topic";
constexpr std::string_view kErrorPartition = "sluice.error.partition";
constexpr std::string_view kErrorOffset = "sluice.error.offset";

struct Punctuation {
  PunctuationType type;
  int64_t interval_ms;
  int64_t next;  // the time at which it fires next (kNoTimestamp: not yet anchored)
  std::function<Status(Timestamp)> fn;
};

class StreamTaskImpl final : public StreamTask, public TaskContext {
 public:
  explicit StreamTaskImpl(StreamTaskOptions o)
      : options_(std::move(o)), clock_(options_.clock ? *options_.clock : Clock::system()) {}

  Status init();

  // ---- StreamTask ----
  const std::vector<std::string>& input_topics() const override { return inputs_; }
  PartitionId partition() const override { return options_.partition; }
  int subtopology() const override { return options_.subtopology; }
  Status process(std::string_view topic, const logstore::RecordView& record) override;
  Status punctuate_wall_clock() override { return run_punctuations(PunctuationType::kWallClock); }
  Status flush() override {
    for (auto& n : nodes_) SLUICE_RETURN_IF_ERROR(n->flush());
    return Status();
  }
  Timestamp stream_time() const override { return stream_time_; }
  const TaskMetrics& metrics() const override { return metrics_; }
  TaskContext& context() override { return *this; }

  // ---- TaskContext ----
  const std::string& application_id() const override { return options_.application_id; }
  const RecordMetadata& record() const override { return current_; }
  Timestamp wall_clock_time() const override { return clock_.now(); }
  void observe_timestamp(Timestamp t) override {
    if (t > stream_time_) stream_time_ = t;
    current_.timestamp = t;
  }
  Result<state::KeyValueStore*> key_value_store(std::string_view name) override {
    SLUICE_ASSIGN_OR_RETURN(const state::StoreSpec* spec, spec_of(name));
    return options_.state->key_value_store(*spec);
  }
  Result<state::WindowStore*> window_store(std::string_view name) override {
    SLUICE_ASSIGN_OR_RETURN(const state::StoreSpec* spec, spec_of(name));
    return options_.state->window_store(*spec);
  }
  Result<state::SessionStore*> session_store(std::string_view name) override {
    SLUICE_ASSIGN_OR_RETURN(const state::StoreSpec* spec, spec_of(name));
    return options_.state->session_store(*spec);
  }
  Result<state::KeyValueStore*> global_store(std::string_view name) override {
    if (!options_.global_stores) {
      return not_found("no global table store '" + std::string(name) + "' in this task");
    }
    return options_.global_stores(name);
  }
  RecordCollector& collector() override { return *options_.collector; }
  std::string topic_name(std::string_view name) const override {
    if (!options_.topology->is_internal(name)) return std::string(name);
    return options_.application_id + "-" + std::string(name);
  }
  void schedule(PunctuationType type, int64_t interval_ms,
                std::function<Status(Timestamp)> fn) override {
    SLUICE_CHECK(interval_ms > 0);
    const Timestamp now = type == PunctuationType::kWallClock ? clock_.now() : stream_time_;
    const int64_t next = now == kNoTimestamp ? kNoTimestamp.value() : now.value() + interval_ms;
    punctuations_.push_back({type, interval_ms, next, std::move(fn)});
  }
  NodeMetrics& metrics(std::string_view node) override {
    auto it = metrics_.nodes.find(node);
    if (it == metrics_.nodes.end())
      it = metrics_.nodes.emplace(std::string(node), NodeMetrics{}).first;
    return it->second;
  }

 private:
  Result<const state::StoreSpec*> spec_of(std::string_view name) const {
    const state::StoreSpec* spec = options_.topology->find_store(name);
    if (!spec) return not_found("the topology has no store named '" + std::string(name) + "'");
    return spec;
  }
  Status handle_bad_record(std::string_view stage, const Status& error,
                           const logstore::RecordView& record, ErrorPolicy policy);
  Status run_punctuations(PunctuationType type);

  StreamTaskOptions options_;
  Clock& clock_;
  std::vector<std::unique_ptr<Node>> nodes_;                  // in topology order
  std::map<std::string, SourceInput*, std::less<>> sources_;  // by topic
  decltype(sources_)::iterator last_source_ = sources_.end();
  std::vector<std::string> inputs_;
  std::vector<Punctuation> punctuations_;
  Timestamp stream_time_ = kNoTimestamp;
  RecordMetadata current_;
  TaskMetrics metrics_;
};

Status StreamTaskImpl::init() {
  const Topology& t = *options_.topology;
  if (!t.built()) return failed_precondition("the topology is not built: call build() first");
  if (options_.subtopology < 0 ||
      static_cast<size_t>(options_.subtopology) >= t.subtopologies().size()) {
    return invalid_argument("no sub-topology " + std::to_string(options_.subtopology));
  }
  if (!options_.state || !options_.collector) {
    return invalid_argument("a stream task needs a TaskState and a RecordCollector");
  }
  const SubTopology& st = t.subtopologies()[static_cast<size_t>(options_.subtopology)];
  std::map<int, Node*> by_index;
  for (int i : st.nodes) {
    const NodeDef& def = t.node(i);
    nodes_.push_back(def.make());
    nodes_.back()->set_name(def.name);
    by_index[i] = nodes_.back().get();
    metrics(def.name);
    if (def.kind == NodeKind::kSource) {
      auto* source = dynamic_cast<SourceInput*>(nodes_.back().get());
      SLUICE_CHECK_MSG(source != nullptr, "a source node must decode raw records");
      for (const auto& topic : def.topics) sources_[topic_name(topic)] = source;
    }
  }
  for (int i : st.nodes) {
    for (int child : t.node(i).children) by_index.at(i)->add_child(*by_index.at(child));
  }
  for (const auto& topic : st.source_topics) inputs_.push_back(topic_name(topic));
  current_.partition = options_.partition;
  for (auto& n : nodes_) SLUICE_RETURN_IF_ERROR(n->init(*this));
  return Status();
}

Status StreamTaskImpl::process(std::string_view topic, const logstore::RecordView& record) {
  // Records mostly come from the topic of the record before: look it up only when it changes.
  if (last_source_ == sources_.end() || last_source_->first != topic) {
    last_source_ = sources_.find(topic);
    if (last_source_ == sources_.end()) {
      return invalid_argument("task " + std::to_string(options_.subtopology) + "_" +
                              std::to_string(options_.partition.value()) +
                              " does not read topic '" + std::string(topic) + "'");
    }
  }
  const auto source = last_source_;
  current_ =
      RecordMetadata{topic, options_.partition, record.offset, record.timestamp, record.headers};
  const ErrorHandling& errors = options_.topology->error_handling();
  SourceInput::Outcome outcome;
  try {
    outcome = source->second->process_raw(record);
  } catch (const std::exception& e) {
    SLUICE_RETURN_IF_ERROR(
        handle_bad_record("process", internal_error(std::string("an operator threw: ") + e.what()),
                          record, errors.on_processing_error));
    return run_punctuations(PunctuationType::kStreamTime);
  } catch (...) {
    SLUICE_RETURN_IF_ERROR(handle_bad_record("process",
                                             internal_error("an operator threw a non-exception"),
                                             record, errors.on_processing_error));
    return run_punctuations(PunctuationType::kStreamTime);
  }
  if (outcome.bad_record) {
    SLUICE_RETURN_IF_ERROR(
        handle_bad_record("deserialize", outcome.status, record, errors.on_deserialization_error));
  } else {
    SLUICE_RETURN_IF_ERROR(outcome.status);
    ++metrics_.records_processed;
  }
  return run_punctuations(PunctuationType::kStreamTime);
}

Status StreamTaskImpl::handle_bad_record(std::string_view stage, const Status& error,
                                         const logstore::RecordView& record, ErrorPolicy policy) {
  const std::string where = std::string(current_.topic) + "/" +
                            std::to_string(options_.partition.value()) + "@" +
                            std::to_string(record.offset.value());
  switch (policy) {
    case ErrorPolicy::kFail:
      return error.with_context("record " + where + " (" + std::string(stage) +
                                "; set an error policy of skip or dead-letter to go on)");
    case ErrorPolicy::kSkip:
      ++metrics_.records_skipped;
      spdlog::warn("skipping record {} ({}): {}", where, stage, error.to_string());
      return Status();
    case ErrorPolicy::kDeadLetter: {
      const std::string& dlq = options_.topology->error_handling().dead_letter_topic;
      SLUICE_ASSIGN_OR_RETURN(int32_t partitions, options_.collector->partitions(dlq));
      const std::string message = error.to_string();
      const std::string partition = std::to_string(options_.partition.value());
      const std::string offset = std::to_string(record.offset.value());
      std::vector<logstore::RecordHeader> headers(record.headers.begin(), record.headers.end());
      headers.push_back({kErrorStage, stage});
      headers.push_back({kErrorMessage, message});
      headers.push_back({kErrorTopic, current_.topic});
      headers.push_back({kErrorPartition, partition});
      headers.push_back({kErrorOffset, offset});
      ++metrics_.records_dead_lettered;
      return options_.collector->send(dlq, PartitionId(options_.partition.value() % partitions),
                                      record.key, record.value, record.timestamp, headers);
    }
  }
  return error;
}

Status StreamTaskImpl::run_punctuations(PunctuationType type) {
  if (punctuations_.empty()) return Status();
  const Timestamp now = type == PunctuationType::kWallClock ? clock_.now() : stream_time_;
  if (now == kNoTimestamp) return Status();
  for (size_t i = 0; i < punctuations_.size(); ++i) {
    Punctuation& p = punctuations_[i];
    if (p.type != type) continue;
    if (p.next == kNoTimestamp.value()) {
      p.next = now.value() + p.interval_ms;  // anchored at the first stream time seen
      continue;
    }
    if (now.value() < p.next) continue;
    // Once per call, however many intervals passed (as Kafka Streams does).
    p.next = now.value() + p.interval_ms - ((now.value() - p.next) % p.interval_ms);
    current_ = RecordMetadata{{}, options_.partition, Offset(-1), now, {}};
    ++metrics_.punctuations;
    SLUICE_RETURN_IF_ERROR(punctuations_[i].fn(now));
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<StreamTask>> StreamTask::create(StreamTaskOptions options) {
  auto task = std::make_unique<StreamTaskImpl>(std::move(options));
  SLUICE_RETURN_IF_ERROR(task->init());
  return std::unique_ptr<StreamTask>(std::move(task));
}

}  // namespace sluice::operators

// The low-level processor API: custom operators written as classes, with access to state
// stores, to each record's metadata (topic, partition, offset, timestamp, headers), to stream
// time and wall-clock time, and to punctuation (scheduled callbacks).
//
//   class Dedup : public Processor<std::string, Event, std::string, Event> {
//    public:
//     Status init(ProcessorContext<std::string, Event>& ctx) override {
//       ctx_ = &ctx;
//       SLUICE_ASSIGN_OR_RETURN(seen_, ctx.key_value_store<std::string, int64_t>("seen"));
//       ctx.schedule(PunctuationType::kWallClock, 60'000, [this](Timestamp now) { ... });
//       return Status();
//     }
//     Status process(Record<std::string, Event> r) override {
//       SLUICE_ASSIGN_OR_RETURN(auto before, seen_.get(r.key));
//       if (before) return Status();
//       SLUICE_RETURN_IF_ERROR(seen_.put(r.key, r.timestamp.value()));
//       return ctx_->forward(std::move(r));
//     }
//    private:
//     ProcessorContext<std::string, Event>* ctx_ = nullptr;
//     KeyValueStoreView<std::string, int64_t> seen_{nullptr};
//   };
//
//   stream.process<std::string, Event>([] { return std::make_unique<Dedup>(); }, {"seen"});
//
// A processor instance belongs to one task (the factory makes one per task). Stores it uses
// are declared on the builder (add_state_store) and named when the processor is added.
//
// Thread safety: a processor is called by its task's thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/operators/node.h"
#include "sluice/operators/typed_store.h"

namespace sluice::operators {

// What a processor sees of its task; forward() sends a record to the processor's children.
template <typename KOut, typename VOut>
class ProcessorContext {
 public:
  virtual ~ProcessorContext() = default;
  virtual Status forward(Record<KOut, VOut> record) = 0;
  virtual const RecordMetadata& record_metadata() const = 0;
  virtual Timestamp stream_time() const = 0;
  virtual Timestamp wall_clock_time() const = 0;
  virtual PartitionId partition() const = 0;
  virtual void schedule(PunctuationType type, int64_t interval_ms,
                        std::function<Status(Timestamp)> fn) = 0;
  virtual TaskContext& task() = 0;

  // Typed views of the stores the processor was given (by name).
  template <typename K, typename V>
  Result<KeyValueStoreView<K, V>> key_value_store(std::string_view name) {
    SLUICE_ASSIGN_OR_RETURN(state::KeyValueStore * s, task().key_value_store(name));
    return KeyValueStoreView<K, V>(s);
  }
  template <typename K, typename V>
  Result<WindowStoreView<K, V>> window_store(std::string_view name) {
    SLUICE_ASSIGN_OR_RETURN(state::WindowStore * s, task().window_store(name));
    return WindowStoreView<K, V>(s);
  }
};

template <typename K, typename V, typename KOut, typename VOut>
class Processor {
 public:
  virtual ~Processor() = default;
  // Called once, before the first record.
  virtual Status init(ProcessorContext<KOut, VOut>& context) = 0;
  virtual Status process(Record<K, V> record) = 0;
  // Called when the task commits.
  virtual Status flush() { return Status(); }
};

template <typename K, typename V, typename KOut, typename VOut>
using ProcessorFactory = std::function<std::unique_ptr<Processor<K, V, KOut, VOut>>()>;

// The node that runs a user's processor.
template <typename K, typename V, typename KOut, typename VOut>
class ProcessorNode final : public Input<K, V>,
                            public OutputNode<KOut, VOut>,
                            private ProcessorContext<KOut, VOut> {
 public:
  explicit ProcessorNode(std::unique_ptr<Processor<K, V, KOut, VOut>> p) : p_(std::move(p)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    return p_->init(*this);
  }
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    return p_->process(std::move(r));
  }
  Status flush() override { return p_->flush(); }

 private:
  Status forward(Record<KOut, VOut> r) override {
    ++this->metrics_->records_out;
    return this->out_.forward(std::move(r));
  }
  const RecordMetadata& record_metadata() const override { return this->context_->record(); }
  Timestamp stream_time() const override { return this->context_->stream_time(); }
  Timestamp wall_clock_time() const override { return this->context_->wall_clock_time(); }
  PartitionId partition() const override { return this->context_->partition(); }
  void schedule(PunctuationType type, int64_t interval_ms,
                std::function<Status(Timestamp)> fn) override {
    this->context_->schedule(type, interval_ms, std::move(fn));
  }
  TaskContext& task() override { return *this->context_; }

  std::unique_ptr<Processor<K, V, KOut, VOut>> p_;
};

}  // namespace sluice::operators

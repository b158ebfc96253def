// The DSL: a processing topology in idiomatic C++.
//
//   sluice::dsl::TopologyBuilder b;
//   auto views = b.stream<std::string, PageView>("page-views");
//   views.filter([](const std::string&, const PageView& v) { return !v.is_bot(); })
//       .named("drop-bots")
//       .group_by_key()
//       .windowed_by(TumblingWindows::of(1min).grace(30s))
//       .count(Materialized{"views-per-page"})
//       .to_stream()
//       .to("page-view-counts");
//   sluice::Result<Topology> topology = b.build();
//
// Streams and tables are typed by key and value. Serdes (sluice/operators/serde.h) are found
// by type and used only at the edges — sources, sinks, stores, repartition topics; a missing one
// is a compile error there. User functions are plain lambdas, taking (key, value) or just
// (value) where that reads naturally, and their results decide the types downstream.
//
// Re-keying (map, select_key, flat_map, group_by) marks a stream; a keyed operation on a marked
// stream first writes it to an internal repartition topic, `<application-id>-<name>-
// repartition`, so that each key's state lives in exactly one task.
//
// Names: every operator gets a derived name (`filter-3`); named() sets the last operator's
// name. Stores are named by Materialized{"..."}; keep the names and a changed topology finds its
// state (and its repartition topics) again.
//
// Thread safety: a builder and its streams are used by one thread while building.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/operators/aggregate.h"
#include "sluice/operators/join.h"
#include "sluice/operators/processor.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/stateless.h"
#include "sluice/operators/table.h"
#include "sluice/operators/topology.h"
#include "sluice/operators/windows.h"

namespace sluice::dsl {

using operators::EdgeType;
using operators::EmitStrategy;
using operators::ErrorHandling;
using operators::ErrorPolicy;
using operators::HasSerde;
using operators::HoppingWindows;
using operators::JoinWindows;
using operators::KeyValueStoreView;
using operators::Processor;
using operators::ProcessorContext;
using operators::PunctuationType;
using operators::Record;
using operators::RecordMetadata;
using operators::SessionWindows;
using operators::SlidingWindows;
using operators::TimeWindows;
using operators::Topology;
using operators::TumblingWindows;
using operators::Window;
using operators::Windowed;
using operators::WindowStoreView;

// How a source reads its topic.
template <typename K, typename V>
struct Consumed {
  operators::TimestampExtractor<K, V> timestamp_extractor;  // default: the stored timestamp
  std::string name;                                         // default: source-<n>
};

// How a sink writes its topic.
template <typename K, typename V>
struct Produced {
  operators::Partitioner<K, V> partitioner;  // default: Kafka's murmur2 of the key bytes
  std::string name;                          // default: sink-<n>
};

// The store behind a keyed aggregation.
struct Materialized {
  Materialized() = default;
  Materialized(std::string store_name) : name(std::move(store_name)) {}  // NOLINT: implicit
  Materialized(const char* store_name) : name(store_name) {}             // NOLINT: implicit

  std::string name;  // default: <operator>-store
  bool logged = true;
  bool cached = true;
  std::optional<int64_t> retention_ms;  // windowed stores: at least window size + grace

  Materialized with_retention(std::chrono::milliseconds r) const {
    Materialized m = *this;
    m.retention_ms = r.count();
    return m;
  }
  Materialized without_logging() const {
    Materialized m = *this;
    m.logged = false;
    return m;
  }
  Materialized without_caching() const {
    Materialized m = *this;
    m.cached = false;
    return m;
  }
};

class TopologyBuilder;
template <typename K, typename V>
class KStream;
template <typename K, typename V, typename U = V>
class KTable;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class KGroupedTable;
template <typename K, typename V>
class TimeWindowedKStream;
template <typename K, typename V>
class SessionWindowedKStream;
template <typename K, typename V>
class SlidingWindowedKStream;

namespace detail {

// With emit-on-close, the key-value store a windowed aggregation keeps beside its store (how far
// it has emitted, or what it has still to emit): added to `t`, and its name to `stores`.
inline void add_emit_store(operators::Topology& t, EmitStrategy emit, const std::string& name,
                           bool logged, std::vector<std::string>& stores) {
  if (emit != EmitStrategy::kOnWindowClose) return;
  t.add_store(state::StoreSpec{
      .name = name, .kind = state::StoreKind::kKeyValue, .logged = logged, .cached = false});
  stores.push_back(name);
}

// What every stream handle holds: the builder and the node whose output it is.
struct Handle {
  TopologyBuilder* builder = nullptr;
  int node = -1;
  bool needs_repartition = false;
};

template <typename T>
std::string type_name() {
  if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "int64";
  else if constexpr (std::is_same_v<T, int32_t>)
    return "int32";
  else if constexpr (std::is_same_v<T, double>)
    return "double";
  else if constexpr (std::is_same_v<T, std::monostate>)
    return "none";
  else
    return typeid(T).name();
}

}  // namespace detail

// A global table (TopologyBuilder::global_table): the name of its store.
template <typename K, typename V>
struct GlobalKTable {
  std::string store;
};

class TopologyBuilder {
 public:
  TopologyBuilder() = default;
  TopologyBuilder(const TopologyBuilder&) = delete;
  TopologyBuilder& operator=(const TopologyBuilder&) = delete;

  // A stream of the records of `topic`.
  template <typename K, typename V>
  requires EdgeType<K> && EdgeType<V> KStream<K, V> stream(std::string topic,
                                                           Consumed<K, V> consumed = {}) {
    const int n = add("source", consumed.name, operators::NodeKind::kSource, {std::move(topic)}, {},
                      detail::type_name<K>(), detail::type_name<V>(),
                      [extractor = consumed.timestamp_extractor] {
                        return std::make_unique<operators::SourceNode<K, V>>(extractor);
                      });
    return KStream<K, V>(detail::Handle{this, n, false});
  }

  // A table of the latest value per key of `topic` (compacted, typically); null values delete.
  // Materialized in a key-value store (default name: `<topic>-table`).
  template <typename K, typename V>
  requires EdgeType<K> && HasSerde<V> KTable<K, V, std::optional<V>> table(std::string topic,
                                                                           Materialized m = {}) {
    const std::string store = m.name.empty() ? topic + "-table" : m.name;
    topology_.add_store(state::StoreSpec{.name = store, .logged = m.logged, .cached = m.cached},
                        /*timestamped=*/true);
    const int n =
        add("table_source", store + "-source", operators::NodeKind::kSource, {std::move(topic)},
            {store}, detail::type_name<K>(), detail::type_name<V>(),
            [store] { return std::make_unique<operators::TableSourceNode<K, V>>(store); });
    return KTable<K, V, std::optional<V>>(detail::Handle{this, n, false}, store);
  }

  // A table every task sees whole: all partitions of `topic`, for enrichment without
  // co-partitioning (join it with KStream::join(global, key_selector, joiner)).
  template <typename K, typename V>
  requires HasSerde<K> && HasSerde<V> GlobalKTable<K, V> global_table(std::string topic,
                                                                      Materialized m = {}) {
    const std::string store = m.name.empty() ? topic + "-global" : m.name;
    topology_.add_global_table(operators::GlobalTableDef{
        topic, state::StoreSpec{.name = store, .logged = false, .cached = false},
        &operators::apply_to_global_table<K, V>});
    return GlobalKTable<K, V>{store};
  }

  // Declares a store for custom processors (process()); they name it to use it.
  TopologyBuilder& add_state_store(state::StoreSpec spec) {
    topology_.add_store(std::move(spec));
    return *this;
  }

  // What happens to records that cannot be decoded or whose processing throws.
  TopologyBuilder& on_errors(ErrorHandling handling) {
    topology_.set_error_handling(std::move(handling));
    return *this;
  }

  // Validates the topology and hands it over; the builder is spent.
  Result<Topology> build() {
    if (built_) return failed_precondition("this builder has already built its topology");
    built_ = true;
    SLUICE_RETURN_IF_ERROR(topology_.build());
    return std::move(topology_);
  }

  // ---- for the stream classes ----

  int add(std::string operation, std::string name, operators::NodeKind kind,
          std::vector<std::string> topics, std::vector<std::string> stores, std::string key_type,
          std::string value_type, std::function<std::unique_ptr<operators::Node>()> make) {
    operators::NodeDef def;
    def.name = name.empty() ? operation + "-" + std::to_string(topology_.nodes().size()) : name;
    def.kind = kind;
    def.operation = std::move(operation);
    def.topics = std::move(topics);
    def.stores = std::move(stores);
    def.key_type = std::move(key_type);
    def.value_type = std::move(value_type);
    def.make = std::move(make);
    return topology_.add_node(std::move(def));
  }
  // A node fed by `parent`.
  int add_child(int parent, std::string operation, std::string key_type, std::string value_type,
                std::function<std::unique_ptr<operators::Node>()> make,
                std::vector<std::string> stores = {}) {
    const int n =
        add(std::move(operation), "", operators::NodeKind::kProcessor, {}, std::move(stores),
            std::move(key_type), std::move(value_type), std::move(make));
    topology_.connect(parent, n);
    return n;
  }
  void rename(int node, std::string name);
  const std::string& name_of(int node) const { return topology_.node(node).name; }
  Topology& topology() { return topology_; }

 private:
  Topology topology_;
  bool built_ = false;
};

template <typename K, typename V>
class KStream {
 public:
  explicit KStream(detail::Handle h) : h_(h) {}

  // Sets the name of the operator that made this stream.
  KStream named(std::string name) {
    h_.builder->rename(h_.node, std::move(name));
    return *this;
  }

  template <typename F>
  requires operators::KvFunction<F, K, V> KStream filter(F f) {
    return same("filter",
                [f] { return std::make_unique<operators::FilterNode<K, V, F>>(f, true); });
  }
  template <typename F>
  requires operators::KvFunction<F, K, V> KStream filter_not(F f) {
    return same("filter_not",
                [f] { return std::make_unique<operators::FilterNode<K, V, F>>(f, false); });
  }

  // (key, value) -> std::pair<K2, V2>. Marks the stream for repartitioning.
  template <typename F>
  requires std::is_invocable_v<F&, const K&, const V&>
  auto map(F f) {
    using R = std::invoke_result_t<F&, const K&, const V&>;
    using K2 = typename R::first_type;
    using V2 = typename R::second_type;
    return KStream<K2, V2>(child<K2, V2>(
        "map", [f] { return std::make_unique<operators::MapNode<K, V, F>>(f); }, true));
  }

  // (value) or (key, value) -> V2.
  template <typename F>
  requires operators::KvFunction<F, K, V>
  auto map_values(F f) {
    using V2 = std::decay_t<operators::CallKvResult<F, K, V>>;
    return KStream<K, V2>(child<K, V2>(
        "map_values", [f] { return std::make_unique<operators::MapValuesNode<K, V, F>>(f); },
        h_.needs_repartition));
  }

  // (key, value) -> a range of std::pair<K2, V2>. Marks the stream for repartitioning.
  template <typename F>
  requires std::is_invocable_v<F&, const K&, const V&>
  auto flat_map(F f) {
    using P = std::ranges::range_value_t<std::invoke_result_t<F&, const K&, const V&>>;
    using K2 = typename P::first_type;
    using V2 = typename P::second_type;
    return KStream<K2, V2>(child<K2, V2>(
        "flat_map", [f] { return std::make_unique<operators::FlatMapNode<K, V, F>>(f); }, true));
  }

  // (value) or (key, value) -> a range of V2.
  template <typename F>
  requires operators::KvFunction<F, K, V>
  auto flat_map_values(F f) {
    using V2 = std::ranges::range_value_t<std::decay_t<operators::CallKvResult<F, K, V>>>;
    return KStream<K, V2>(child<K, V2>(
        "flat_map_values",
        [f] { return std::make_unique<operators::FlatMapValuesNode<K, V, F>>(f); },
        h_.needs_repartition));
  }

  // (key, value) or (value) -> K2. Marks the stream for repartitioning.
  template <typename F>
  requires operators::KvFunction<F, K, V>
  auto select_key(F f) {
    using K2 = std::decay_t<operators::CallKvResult<F, K, V>>;
    return KStream<K2, V>(child<K2, V>(
        "select_key", [f] { return std::make_unique<operators::SelectKeyNode<K, V, F>>(f); },
        true));
  }

  template <typename F>
  requires operators::KvFunction<F, K, V> KStream peek(F f) {
    return same("peek", [f] { return std::make_unique<operators::PeekNode<K, V, F>>(f); });
  }

  template <typename F>
  requires operators::KvFunction<F, K, V>
  void foreach (F f) {
    child<K, V>(
        "foreach", [f] { return std::make_unique<operators::ForeachNode<K, V, F>>(f); }, false);
  }

  // One stream per predicate: a record goes to the first whose predicate holds, or nowhere.
  std::vector<KStream> branch(std::vector<std::function<bool(const K&, const V&)>> predicates) {
    const int b = h_.builder->add_child(
        h_.node, "branch", detail::type_name<K>(), detail::type_name<V>(),
        [predicates] { return std::make_unique<operators::BranchNode<K, V>>(predicates); });
    std::vector<KStream> out;
    for (size_t i = 0; i < predicates.size(); ++i) {
      const int c = h_.builder->add_child(
          b, "branch-" + std::to_string(i), detail::type_name<K>(), detail::type_name<V>(),
          [] { return std::make_unique<operators::PassThroughNode<K, V>>(); });
      out.emplace_back(detail::Handle{h_.builder, c, h_.needs_repartition});
    }
    return out;
  }

  // The stream written to the repartition topic `<application-id>-<name>-repartition` (name: by
  // default this operator's) and read back, so that each record reaches the task of its key, as
  // Kafka Streams' KStream::repartition(). Groupings and joins downstream need no further topic.
  // Repartitioning the one side whose key changed before a merge spares the other side the
  // trip (a grouping of the merge checks that the topics it reads are partitioned alike).
  KStream repartition(std::string name = "") requires EdgeType<K> && EdgeType<V> {
    return KStream(through_repartition(std::move(name)));
  }

  // The records of both streams.
  KStream merge(const KStream& other) {
    KStream m = same("merge", [] { return std::make_unique<operators::PassThroughNode<K, V>>(); });
    h_.builder->topology().connect(other.h_.node, m.h_.node);
    m.h_.needs_repartition = h_.needs_repartition || other.h_.needs_repartition;
    return m;
  }

  // A custom processor (sluice/operators/processor.h), one instance per task from `factory`,
  // with the stores it names (declared with TopologyBuilder::add_state_store).
  template <typename KOut, typename VOut>
  KStream<KOut, VOut> process(operators::ProcessorFactory<K, V, KOut, VOut> factory,
                              std::vector<std::string> stores = {}) {
    const int n = h_.builder->add_child(
        h_.node, "process", detail::type_name<KOut>(), detail::type_name<VOut>(),
        [factory] {
          return std::make_unique<operators::ProcessorNode<K, V, KOut, VOut>>(factory());
        },
        std::move(stores));
    return KStream<KOut, VOut>(detail::Handle{h_.builder, n, h_.needs_repartition});
  }

  // Stream-table joins: each record joins the table's current value for its key; table updates
  // emit nothing. join: (const V&, const T&), only when the key is in the table; left_join:
  // (const V&, const std::optional<T>&), always.
  template <typename T, typename U, typename F>
  requires std::is_invocable_v<F&, const V&, const T&>
  auto join(KTable<K, T, U> table, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const T&>>;
    return stream_table_join<T, U, VOut>(
        table, false, std::move(name),
        [joiner](const V& v, const std::optional<T>& t) { return joiner(v, *t); });
  }
  template <typename T, typename U, typename F>
  requires std::is_invocable_v < F&, const V&, const std::optional<T>
  & > auto left_join(KTable<K, T, U> table, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const std::optional<T>&>>;
    return stream_table_join<T, U, VOut>(table, true, std::move(name), joiner);
  }

  // Joins with a global table: key_selector(key, value) picks the table key. join:
  // (const V&, const T&) when found; left_join: (const V&, const std::optional<T>&) always.
  template <typename GK, typename T, typename Sel, typename F>
  requires std::is_invocable_v<F&, const V&, const T&>
  auto join(GlobalKTable<GK, T> table, Sel key_selector, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const T&>>;
    return global_join<GK, T, VOut>(
        table, false, key_selector,
        [joiner](const V& v, const std::optional<T>& t) { return joiner(v, *t); }, name);
  }
  template <typename GK, typename T, typename Sel, typename F>
  requires std::is_invocable_v < F&, const V&, const std::optional<T>
  & > auto left_join(GlobalKTable<GK, T> table, Sel key_selector, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const std::optional<T>&>>;
    return global_join<GK, T, VOut>(table, true, key_selector, joiner, name);
  }

  // Windowed joins with another stream of the same key type: records whose timestamps are
  // within the join window (sluice/operators/join.h). The joiner takes
  //   join:       (const V&, const V2&)
  //   left_join:  (const V&, const std::optional<V2>&)
  //   outer_join: (const std::optional<V>&, const std::optional<V2>&)
  // `name` names the join and its stores (`<name>-left-store`, ...).
  template <typename V2, typename F>
  requires std::is_invocable_v<F&, const V&, const V2&>
  auto join(KStream<K, V2> other, F joiner, JoinWindows windows, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const V2&>>;
    return join_impl<V2, VOut>(
        other, operators::JoinKind::kInner, windows, std::move(name),
        [joiner](const std::optional<V>& l, const std::optional<V2>& r) { return joiner(*l, *r); });
  }
  template <typename V2, typename F>
  requires std::is_invocable_v < F&, const V&, const std::optional<V2>
  & > auto left_join(KStream<K, V2> other, F joiner, JoinWindows windows, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const std::optional<V2>&>>;
    return join_impl<V2, VOut>(
        other, operators::JoinKind::kLeft, windows, std::move(name),
        [joiner](const std::optional<V>& l, const std::optional<V2>& r) { return joiner(*l, r); });
  }
  template <typename V2, typename F>
  requires std::is_invocable_v < F&, const std::optional<V>
  &, const std::optional<V2>& > auto outer_join(KStream<K, V2> other, F joiner, JoinWindows windows,
                                                std::string name = "") {
    using VOut =
        std::decay_t<std::invoke_result_t<F&, const std::optional<V>&, const std::optional<V2>&>>;
    return join_impl<V2, VOut>(other, operators::JoinKind::kOuter, windows, std::move(name),
                               joiner);
  }

  // Writes the stream to `topic`.
  void to(std::string topic, Produced<K, V> produced = {}) requires EdgeType<K> && EdgeType<V> {
    const int n = h_.builder->add("sink", produced.name, operators::NodeKind::kSink, {topic}, {},
                                  detail::type_name<K>(), detail::type_name<V>(),
                                  [topic, p = produced.partitioner] {
                                    return std::make_unique<operators::SinkNode<K, V>>(topic, p);
                                  });
    h_.builder->topology().connect(h_.node, n);
  }

  // Groups by the current key (through a repartition topic if the key was changed).
  KGroupedStream<K, V> group_by_key(
      std::string repartition_name = "") requires EdgeType<K> && EdgeType<V> {
    if (!h_.needs_repartition) {
      // Records of several topics meet in the grouping (a merge): each key's records must reach
      // one task, so the topics must be partitioned alike.
      const std::vector<std::string> topics = upstream_topics({h_.node});
      if (topics.size() > 1) {
        h_.builder->topology().add_copartition_group(
            {topics, "a grouping of " + h_.builder->name_of(h_.node) + " reads them"});
      }
      return KGroupedStream<K, V>(h_);
    }
    return KGroupedStream<K, V>(through_repartition(std::move(repartition_name)));
  }

  // Groups by a new key, (key, value) or (value) -> K2, through a repartition topic.
  template <typename F>
  requires operators::KvFunction<F, K, V>
  auto group_by(F f, std::string repartition_name = "") {
    return select_key(std::move(f)).group_by_key(std::move(repartition_name));
  }

  const detail::Handle& handle() const { return h_; }

 private:
  template <typename, typename>
  friend class KStream;  // joins reach the other side's handle
  template <typename K2, typename V2, typename Make>
  detail::Handle child(std::string op, Make make, bool repartition) {
    const int n = h_.builder->add_child(h_.node, std::move(op), detail::type_name<K2>(),
                                        detail::type_name<V2>(), std::move(make));
    return detail::Handle{h_.builder, n, repartition};
  }
  template <typename Make>
  KStream same(std::string op, Make make) {
    return KStream(child<K, V>(std::move(op), std::move(make), h_.needs_repartition));
  }
  template <typename GK, typename T, typename VOut, typename Sel>
  KStream<K, VOut> global_join(GlobalKTable<GK, T> table, bool left, Sel key_selector,
                               std::function<VOut(const V&, const std::optional<T>&)> joiner,
                               const std::string& name) {
    std::function<GK(const K&, const V&)> select = [key_selector](const K& k, const V& v) {
      return GK(key_selector(k, v));
    };
    const std::string store = table.store;
    const int n = h_.builder->add_child(
        h_.node, left ? "global_table_left_join" : "global_table_join", detail::type_name<K>(),
        detail::type_name<VOut>(), [=] {
          return std::make_unique<operators::GlobalTableJoinNode<K, V, GK, T, VOut>>(
              store, left, select, joiner);
        });
    if (!name.empty()) h_.builder->rename(n, name);
    return KStream<K, VOut>(detail::Handle{h_.builder, n, h_.needs_repartition});
  }

  template <typename T, typename U, typename VOut>
  KStream<K, VOut> stream_table_join(
      KTable<K, T, U> table, bool left, std::string name,
      std::function<VOut(const V&, const std::optional<T>&)> joiner) {
    SLUICE_CHECK_MSG(!table.store().empty(),
                     "a stream-table join needs a materialized table (read from a topic or an "
                     "aggregation)");
    KStream<K, V> stream = *this;
    if (stream.h_.needs_repartition) stream.h_ = stream.through_repartition("");
    auto* b = h_.builder;
    const std::string store = table.store();
    const int n =
        b->add_child(stream.h_.node, left ? "stream_table_left_join" : "stream_table_join",
                     detail::type_name<K>(), detail::type_name<VOut>(),
                     [=] {
                       return std::make_unique<operators::StreamTableJoinNode<K, V, T, VOut>>(
                           store, left, joiner);
                     },
                     {store});
    if (!name.empty()) b->rename(n, std::move(name));
    b->topology().add_copartition_group(
        {upstream_topics({stream.h_.node, table.handle().node}), b->name_of(n) + " joins them"});
    return KStream<K, VOut>(detail::Handle{b, n, false});
  }

  template <typename V2, typename VOut>
  KStream<K, VOut> join_impl(KStream<K, V2> other, operators::JoinKind kind, JoinWindows windows,
                             std::string name,
                             std::function<VOut(const std::optional<V>&, const std::optional<V2>&)>
                                 joiner) requires HasSerde<K> && HasSerde<V> && HasSerde<V2> {
    KStream<K, V> left = *this;
    if (left.h_.needs_repartition) left.h_ = left.through_repartition("");
    if (other.h_.needs_repartition) other = other.repartition();
    auto* b = h_.builder;
    if (name.empty()) name = "join-" + std::to_string(b->topology().nodes().size());
    const operators::JoinStores stores{name + "-left-store", name + "-right-store",
                                       name + "-unmatched-store"};
    const int64_t retention =
        std::max<int64_t>(1, windows.before_ms + windows.after_ms + windows.grace_ms);
    auto& t = b->topology();
    for (const auto& s : {stores.left, stores.right}) {
      t.add_store(state::StoreSpec{.name = s,
                                   .kind = state::StoreKind::kWindow,
                                   .cached = false,  // read by range only
                                   .retention_ms = retention});
    }
    std::vector<std::string> used{stores.left, stores.right};
    if (kind != operators::JoinKind::kInner) {
      t.add_store(state::StoreSpec{.name = stores.unmatched, .cached = false});
      used.push_back(stores.unmatched);
    }
    const char* kind_name = kind == operators::JoinKind::kInner  ? "join"
                            : kind == operators::JoinKind::kLeft ? "left_join"
                                                                 : "outer_join";
    const int l = b->add(kind_name, name + "-left", operators::NodeKind::kProcessor, {}, used,
                         detail::type_name<K>(), detail::type_name<VOut>(), [=] {
                           return std::make_unique<operators::StreamJoinNode<K, V, V2, VOut>>(
                               operators::JoinSide::kLeft, kind, windows, stores, joiner);
                         });
    const int r =
        b->add(kind_name, name + "-right", operators::NodeKind::kProcessor, {}, used,
               detail::type_name<K>(), detail::type_name<VOut>(), [=] {
                 return std::make_unique<operators::StreamJoinNode<K, V2, V, VOut>>(
                     operators::JoinSide::kRight, kind, windows, stores,
                     [joiner](const std::optional<V2>& mine, const std::optional<V>& theirs) {
                       return joiner(theirs, mine);
                     });
               });
    t.connect(left.h_.node, l);
    t.connect(other.handle().node, r);
    const int merge = b->add("merge", name + "-merge", operators::NodeKind::kProcessor, {}, {},
                             detail::type_name<K>(), detail::type_name<VOut>(), [] {
                               return std::make_unique<operators::PassThroughNode<K, VOut>>();
                             });
    t.connect(l, merge);
    t.connect(r, merge);
    t.add_copartition_group(
        {upstream_topics({left.h_.node, other.handle().node}), name + " joins them"});
    return KStream<K, VOut>(detail::Handle{b, merge, false});
  }
  // The topics read by the sources upstream of `nodes` (to check co-partitioning).
  std::vector<std::string> upstream_topics(std::vector<int> nodes) const {
    const auto& t = h_.builder->topology();
    std::vector<std::string> out;
    std::vector<bool> seen(t.nodes().size());
    while (!nodes.empty()) {
      const int n = nodes.back();
      nodes.pop_back();
      if (seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = true;
      const auto& def = t.node(n);
      if (def.kind == operators::NodeKind::kSource) {
        out.insert(out.end(), def.topics.begin(), def.topics.end());
      }
      nodes.insert(nodes.end(), def.parents.begin(), def.parents.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  detail::Handle through_repartition(std::string name) {
    if (name.empty()) name = h_.builder->name_of(h_.node);
    const std::string topic = name + "-repartition";
    h_.builder->topology().add_internal_topic(topic);
    const int sink = h_.builder->add(
        "sink", name + "-repartition-sink", operators::NodeKind::kSink, {topic}, {},
        detail::type_name<K>(), detail::type_name<V>(),
        [topic] { return std::make_unique<operators::SinkNode<K, V>>(topic, nullptr); });
    h_.builder->topology().connect(h_.node, sink);
    const int source =
        h_.builder->add("source", name + "-repartition-source", operators::NodeKind::kSource,
                        {topic}, {}, detail::type_name<K>(), detail::type_name<V>(),
                        [] { return std::make_unique<operators::SourceNode<K, V>>(); });
    return detail::Handle{h_.builder, source, false};
  }

  detail::Handle h_;
};

// A table: the latest value per key. U is the type of its updates: V for aggregations (they
// never delete), std::optional<V> for tables read from topics and join results (std::nullopt
// deletes the key).
template <typename K, typename V, typename U>
class KTable {
 public:
  // `store`: the key-value store holding the table ("" when not materialized).
  explicit KTable(detail::Handle h, std::string store = "") : h_(h), store_(std::move(store)) {}

  // The table's updates as a stream (deletions as std::nullopt for optional updates).
  KStream<K, U> to_stream() {
    const int n =
        h_.builder->add_child(h_.node, "to_stream", detail::type_name<K>(), detail::type_name<U>(),
                              [] { return std::make_unique<operators::PassThroughNode<K, U>>(); });
    return KStream<K, U>(detail::Handle{h_.builder, n, false});
  }
  KTable named(std::string name) {
    h_.builder->rename(h_.node, std::move(name));
    return *this;
  }
  const std::string& store() const { return store_; }
  const detail::Handle& handle() const { return h_; }

  // Re-groups the table by a new key: selector(key, value) -> std::pair<K1, V1>. Aggregations of
  // the grouped table take each key's old value out of the group it mapped to (a subtractor)
  // and add its new one (an adder), so they follow updates and deletions — e.g. users per
  // region while users move. Updates reach each group's task through the repartition topic
  // `<application-id>-<name>-repartition`; each key's previous value is kept in the store
  // `<name>-prior-store` (name: by default derived from this table's operator).
  template <typename F>
  requires std::is_invocable_v<F&, const K&, const V&>
  auto group_by(F selector, std::string name = "") {
    using Pair = std::decay_t<std::invoke_result_t<F&, const K&, const V&>>;
    using K1 = std::decay_t<typename Pair::first_type>;
    using V1 = std::decay_t<typename Pair::second_type>;
    static_assert(HasSerde<K> && HasSerde<V>,
                  "the table's key and value need serdes for its store");
    static_assert(EdgeType<K1> && HasSerde<V1>,
                  "the new key and value need serdes for the repartition topic");
    auto* b = h_.builder;
    if (name.empty()) name = b->name_of(h_.node) + "-group-by";
    const std::string store = name + "-prior-store";
    b->topology().add_store(state::StoreSpec{.name = store, .kind = state::StoreKind::kKeyValue});
    std::function<std::pair<K1, V1>(const K&, const V&)> select =
        [selector](const K& k, const V& v) { return std::pair<K1, V1>(selector(k, v)); };
    const int n = b->add_child(
        h_.node, "table_group_by", detail::type_name<K1>(), detail::type_name<V1>(),
        [store, select] {
          return std::make_unique<operators::TableGroupByNode<K, V, U, K1, V1>>(store, select);
        },
        {store});
    auto grouped =
        KStream<K1, operators::Change<V1>>(detail::Handle{b, n, true}).group_by_key(name);
    return KGroupedTable<K1, V1>(grouped.handle());
  }

  // Table-table joins: every update of either side joins the other side's current value.
  //   join:       (const V&, const V2&)                                 both present
  //   left_join:  (const V&, const std::optional<V2>&)                  left present
  //   outer_join: (const std::optional<V>&, const std::optional<V2>&)   either present
  // The result is a table of std::optional updates (a key whose result no longer exists is
  // deleted); it is not materialized.
  template <typename V2, typename U2, typename F>
  requires std::is_invocable_v<F&, const V&, const V2&>
  auto join(KTable<K, V2, U2> other, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const V2&>>;
    return table_join<V2, U2, VOut>(
        other, "table_join", std::move(name),
        [joiner](const std::optional<V>& l, const std::optional<V2>& r) -> std::optional<VOut> {
          if (!l || !r) return std::nullopt;
          return joiner(*l, *r);
        });
  }
  template <typename V2, typename U2, typename F>
  requires std::is_invocable_v < F&, const V&, const std::optional<V2>
  & > auto left_join(KTable<K, V2, U2> other, F joiner, std::string name = "") {
    using VOut = std::decay_t<std::invoke_result_t<F&, const V&, const std::optional<V2>&>>;
    return table_join<V2, U2, VOut>(
        other, "table_left_join", std::move(name),
        [joiner](const std::optional<V>& l, const std::optional<V2>& r) -> std::optional<VOut> {
          if (!l) return std::nullopt;
          return joiner(*l, r);
        });
  }
  template <typename V2, typename U2, typename F>
  requires std::is_invocable_v < F&, const std::optional<V>
  &, const std::optional<V2>& >
         auto outer_join(KTable<K, V2, U2> other, F joiner, std::string name = "") {
    using VOut =
        std::decay_t<std::invoke_result_t<F&, const std::optional<V>&, const std::optional<V2>&>>;
    return table_join<V2, U2, VOut>(
        other, "table_outer_join", std::move(name),
        [joiner](const std::optional<V>& l, const std::optional<V2>& r) -> std::optional<VOut> {
          if (!l && !r) return std::nullopt;
          return joiner(l, r);
        });
  }

  // (for the other table's joins)
  int updates_as_optional() const {
    if constexpr (std::is_same_v<U, std::optional<V>>) {
      return h_.node;
    } else {
      return h_.builder->add_child(
          h_.node, "as_table_updates", detail::type_name<K>(), detail::type_name<V>(), [] {
            auto f = [](const U& v) { return std::optional<V>(v); };
            return std::make_unique<operators::MapValuesNode<K, U, decltype(f)>>(f);
          });
    }
  }

 private:
  template <typename V2, typename U2, typename VOut>
  KTable<K, VOut, std::optional<VOut>> table_join(
      KTable<K, V2, U2> other, const std::string& op, std::string name,
      std::function<std::optional<VOut>(const std::optional<V>&, const std::optional<V2>&)>
          joiner) {
    SLUICE_CHECK_MSG(!store_.empty() && !other.store().empty(),
                     "a table join needs both tables materialized (read from a topic or an "
                     "aggregation)");
    auto* b = h_.builder;
    auto& t = b->topology();
    if (name.empty()) name = op + "-" + std::to_string(t.nodes().size());
    const int left_updates = updates_as_optional();
    const int right_updates = other.updates_as_optional();
    const std::string other_store = other.store();
    const int l = b->add(op, name + "-left", operators::NodeKind::kProcessor, {}, {other_store},
                         detail::type_name<K>(), detail::type_name<VOut>(), [=] {
                           return std::make_unique<operators::TableTableJoinNode<K, V, V2, VOut>>(
                               other_store, joiner);
                         });
    const std::string this_store = store_;
    const int r = b->add(
        op, name + "-right", operators::NodeKind::kProcessor, {}, {this_store},
        detail::type_name<K>(), detail::type_name<VOut>(), [=] {
          return std::make_unique<operators::TableTableJoinNode<K, V2, V, VOut>>(
              this_store, [joiner](const std::optional<V2>& mine, const std::optional<V>& theirs) {
                return joiner(theirs, mine);
              });
        });
    t.connect(left_updates, l);
    t.connect(right_updates, r);
    const int merge = b->add(
        "merge", name + "-merge", operators::NodeKind::kProcessor, {}, {}, detail::type_name<K>(),
        detail::type_name<VOut>(),
        [] { return std::make_unique<operators::PassThroughNode<K, std::optional<VOut>>>(); });
    t.connect(l, merge);
    t.connect(r, merge);
    return KTable<K, VOut, std::optional<VOut>>(detail::Handle{b, merge, false});
  }

  detail::Handle h_;
  std::string store_;
};

template <typename K, typename V>
class KGroupedStream {
 public:
  explicit KGroupedStream(detail::Handle h) : h_(h) {}

  // agg = adder(key, value, agg), from initializer() for a new key.
  template <typename Init, typename Adder>
  auto aggregate(Init initializer, Adder adder, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    static_assert(HasSerde<K> && HasSerde<Agg>, "the key and aggregate need serdes for the store");
    const std::string store = store_name(m, "aggregate");
    h_.builder->topology().add_store(state::StoreSpec{.name = store,
                                                      .kind = state::StoreKind::kKeyValue,
                                                      .logged = m.logged,
                                                      .cached = m.cached},
                                     /*timestamped=*/true);
    const int n = h_.builder->add_child(
        h_.node, "aggregate", detail::type_name<K>(), detail::type_name<Agg>(),
        [store, initializer, adder] {
          return std::make_unique<operators::AggregateNode<K, V, Agg>>(
              store, initializer,
              [adder](const K& k, const V& v, Agg a) { return adder(k, v, std::move(a)); });
        },
        {store});
    return KTable<K, Agg>(detail::Handle{h_.builder, n, false}, store);
  }

  // value = reducer(value so far, value), starting from a key's first value.
  template <typename Reducer>
  KTable<K, V> reduce(Reducer reducer, Materialized m = {}) {
    static_assert(HasSerde<K> && HasSerde<V>, "the key and value need serdes for the store");
    const std::string store = store_name(m, "reduce");
    h_.builder->topology().add_store(state::StoreSpec{.name = store,
                                                      .kind = state::StoreKind::kKeyValue,
                                                      .logged = m.logged,
                                                      .cached = m.cached},
                                     /*timestamped=*/true);
    const int n = h_.builder->add_child(
        h_.node, "reduce", detail::type_name<K>(), detail::type_name<V>(),
        [store, reducer] {
          return std::make_unique<operators::AggregateNode<K, V, V>>(
              store, nullptr,
              [reducer](const K&, const V& v, V acc) { return reducer(std::move(acc), v); });
        },
        {store});
    return KTable<K, V>(detail::Handle{h_.builder, n, false}, store);
  }

  KTable<K, int64_t> count(Materialized m = {}) {
    m.name = store_name(m, "count");
    return aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     m);
  }

  const detail::Handle& handle() const { return h_; }

  TimeWindowedKStream<K, V> windowed_by(TimeWindows w) { return TimeWindowedKStream<K, V>(h_, w); }
  SessionWindowedKStream<K, V> windowed_by(SessionWindows w) {
    return SessionWindowedKStream<K, V>(h_, w);
  }
  SlidingWindowedKStream<K, V> windowed_by(SlidingWindows w) {
    return SlidingWindowedKStream<K, V>(h_, w);
  }

 private:
  std::string store_name(const Materialized& m, const std::string& op) {
    return m.name.empty() ? h_.builder->name_of(h_.node) + "-" + op + "-store" : m.name;
  }
  detail::Handle h_;
};

// A table re-grouped by KTable::group_by: its records are operators::Change<V>, a value leaving
// the group and/or one joining it.
template <typename K, typename V>
class KGroupedTable {
 public:
  explicit KGroupedTable(detail::Handle h) : h_(h) {}

  // agg = adder(key, value, agg) for a value joining the group and subtractor(key, value, agg)
  // for one leaving it, from initializer() for a new group.
  template <typename Init, typename Adder, typename Subtractor>
  auto aggregate(Init initializer, Adder adder, Subtractor subtractor, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    return add<Agg>(
        "table_aggregate", m, std::function<Agg()>(initializer),
        [adder](const K& k, const V& v, Agg a) { return adder(k, v, std::move(a)); },
        [subtractor](const K& k, const V& v, Agg a) { return subtractor(k, v, std::move(a)); });
  }

  // value = adder(value so far, value) / subtractor(value so far, value), starting from a
  // group's first value.
  template <typename Adder, typename Subtractor>
  KTable<K, V> reduce(Adder adder, Subtractor subtractor, Materialized m = {}) {
    return add<V>(
        "table_reduce", m, nullptr,
        [adder](const K&, const V& v, V acc) { return adder(std::move(acc), v); },
        [subtractor](const K&, const V& v, V acc) { return subtractor(std::move(acc), v); });
  }

  // The number of keys of the table in each group (0 once all have left).
  KTable<K, int64_t> count(Materialized m = {}) {
    return aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     [](const K&, const V&, int64_t n) { return n - 1; }, m);
  }

 private:
  template <typename Agg>
  KTable<K, Agg> add(const std::string& op, const Materialized& m, std::function<Agg()> init,
                     std::function<Agg(const K&, const V&, Agg)> adder,
                     std::function<Agg(const K&, const V&, Agg)> subtractor) {
    static_assert(HasSerde<K> && HasSerde<Agg>, "the key and aggregate need serdes for the store");
    const std::string store =
        m.name.empty() ? h_.builder->name_of(h_.node) + "-" + op + "-store" : m.name;
    h_.builder->topology().add_store(state::StoreSpec{.name = store,
                                                      .kind = state::StoreKind::kKeyValue,
                                                      .logged = m.logged,
                                                      .cached = m.cached},
                                     /*timestamped=*/true);
    const int n =
        h_.builder->add_child(h_.node, op, detail::type_name<K>(), detail::type_name<Agg>(),
                              [store, init, adder, subtractor] {
                                return std::make_unique<operators::TableAggregateNode<K, V, Agg>>(
                                    store, init, adder, subtractor);
                              },
                              {store});
    return KTable<K, Agg>(detail::Handle{h_.builder, n, false}, store);
  }

  detail::Handle h_;
};

template <typename K, typename V>
class TimeWindowedKStream {
 public:
  TimeWindowedKStream(detail::Handle h, TimeWindows w) : h_(h), windows_(w) {}

  // Forward each window's result once, when the window closes (default: every update).
  TimeWindowedKStream emit(EmitStrategy e) const {
    TimeWindowedKStream s = *this;
    s.emit_ = e;
    return s;
  }
  // Records later than their window's end + grace go to `topic` (default: dropped, counted).
  TimeWindowedKStream late_records_to(std::string topic) const {
    TimeWindowedKStream s = *this;
    s.late_topic_ = std::move(topic);
    return s;
  }

  template <typename Init, typename Adder>
  auto aggregate(Init initializer, Adder adder, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    return add<Agg>(
        "windowed-aggregate", std::function<Agg()>(initializer),
        [adder](const K& k, const V& v, Agg a) { return adder(k, v, std::move(a)); }, nullptr, m);
  }

  // With a merger (key, Agg, Agg) -> Agg that combines two partial aggregates as adding their
  // records one by one would (a sum, a count, a max): hopping windows emitted on close are
  // computed from slices of the advance, as Flink does — a record updates one slice instead of
  // every window it falls in, and a closing window merges its slices. The store, named
  // `<name>-slices`, then holds one aggregate per key and slice (what an interactive query of
  // it sees). Other windows ignore the merger.
  template <typename Init, typename Adder, typename Merger>
  requires std::is_invocable_r_v<std::decay_t<std::invoke_result_t<Init&>>, Merger&, const K&,
                                 std::decay_t<std::invoke_result_t<Init&>>,
                                 std::decay_t<std::invoke_result_t<Init&>>> auto
  aggregate(Init initializer, Adder adder, Merger merger, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    return add<Agg>(
        "windowed-aggregate", std::function<Agg()>(initializer),
        [adder](const K& k, const V& v, Agg a) { return adder(k, v, std::move(a)); },
        [merger](const K& k, Agg a, Agg b) { return merger(k, std::move(a), std::move(b)); }, m);
  }

  // Sliced (see aggregate with a merger) when hopping and emitted on close.
  KTable<Windowed<K>, int64_t> count(Materialized m = {}) {
    return aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     [](const K&, int64_t a, int64_t b) { return a + b; }, m);
  }

  // A window's value = reducer(value so far, value), starting from its first value.
  template <typename Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, Materialized m = {}) {
    return add<V>(
        "windowed-reduce", nullptr,
        [reducer](const K&, const V& v, V acc) { return reducer(std::move(acc), v); }, nullptr, m);
  }

 private:
  template <typename Agg>
  KTable<Windowed<K>, Agg> add(const std::string& op, std::function<Agg()> initializer,
                               std::function<Agg(const K&, const V&, Agg)> adder,
                               std::function<Agg(const K&, Agg, Agg)> merger,
                               const Materialized& m) {
    static_assert(HasSerde<K> && HasSerde<Agg>, "the key and aggregate need serdes for the store");
    const bool sliced = merger && emit_ == operators::EmitStrategy::kOnWindowClose &&
                        windows_.advance_ms < windows_.size_ms &&
                        windows_.size_ms % windows_.advance_ms == 0;
    const std::string store =
        (m.name.empty() ? h_.builder->name_of(h_.node) + "-" + op + "-store" : m.name) +
        (sliced ? "-slices" : "");
    const int64_t needed = windows_.size_ms + windows_.grace_ms;
    const int64_t retention = std::max(m.retention_ms.value_or(needed), needed);
    auto& t = h_.builder->topology();
    // Emitting on close reads each closed window range whole: time-ordered makes that a walk
    // over just those windows.
    t.add_store(state::StoreSpec{.name = store,
                                 .kind = state::StoreKind::kWindow,
                                 .logged = m.logged,
                                 .cached = m.cached,
                                 .retention_ms = retention,
                                 .time_ordered = emit_ == operators::EmitStrategy::kOnWindowClose},
                /*timestamped=*/true);
    std::vector<std::string> stores{store};
    const std::string emitted = store + "-emitted";
    detail::add_emit_store(t, emit_, emitted, m.logged, stores);
    const int n = h_.builder->add_child(
        h_.node, op + " (" + windows_.describe() + (sliced ? ", sliced" : "") + ")",
        detail::type_name<Windowed<K>>(), detail::type_name<Agg>(),
        [=, w = windows_, e = emit_, late = late_topic_]() -> std::unique_ptr<operators::Node> {
          if (sliced) {
            return std::make_unique<operators::SlicedWindowedAggregateNode<K, V, Agg>>(
                store, emitted, w, late, initializer, adder, merger);
          }
          return std::make_unique<operators::WindowedAggregateNode<K, V, Agg>>(
              store, emitted, w, e, late, initializer, adder);
        },
        stores);
    return KTable<Windowed<K>, Agg>(detail::Handle{h_.builder, n, false});
  }

  detail::Handle h_;
  TimeWindows windows_;
  EmitStrategy emit_ = EmitStrategy::kOnEveryUpdate;
  std::string late_topic_;
};

// Session windows. Results are std::optional: each update forwards the merged session's value,
// and std::nullopt for each session the update absorbed (a tombstone), so a table of the
// results holds exactly the live sessions. With EmitStrategy::kOnWindowClose each session is
// forwarded once, when stream time passes its end + gap + grace, with its final value (never
// std::nullopt).
template <typename K, typename V>
class SessionWindowedKStream {
 public:
  SessionWindowedKStream(detail::Handle h, SessionWindows w) : h_(h), windows_(w) {}

  // Forward each session's result once, when the session closes (default: every update).
  SessionWindowedKStream emit(EmitStrategy e) const {
    SessionWindowedKStream s = *this;
    s.emit_ = e;
    return s;
  }

  // Records later than their session's end + grace go to `topic` (default: dropped, counted).
  SessionWindowedKStream late_records_to(std::string topic) const {
    SessionWindowedKStream s = *this;
    s.late_topic_ = std::move(topic);
    return s;
  }

  // agg = adder(key, value, agg) from initializer(); two sessions that a record bridges
  // combine with merger(key, agg1, agg2).
  template <typename Init, typename Adder, typename Merger>
  auto aggregate(Init initializer, Adder adder, Merger merger, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    return add<Agg>(
        "session-aggregate", std::function<Agg()>(initializer),
        [adder](const K& k, const V& v, Agg a) { return adder(k, v, std::move(a)); },
        [merger](const K& k, Agg a, Agg b) { return merger(k, std::move(a), std::move(b)); }, m);
  }

  KTable<Windowed<K>, std::optional<int64_t>> count(Materialized m = {}) {
    return aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     [](const K&, int64_t a, int64_t b) { return a + b; }, m);
  }

  template <typename Reducer>
  KTable<Windowed<K>, std::optional<V>> reduce(Reducer reducer, Materialized m = {}) {
    auto r = [reducer](V a, const V& b) { return reducer(std::move(a), b); };
    return add<V>(
        "session-reduce", nullptr,
        [r](const K&, const V& v, V acc) { return r(std::move(acc), v); },
        [r](const K&, V a, V b) { return r(std::move(a), b); }, m);
  }

 private:
  template <typename Agg>
  KTable<Windowed<K>, std::optional<Agg>> add(const std::string& op,
                                              std::function<Agg()> initializer,
                                              std::function<Agg(const K&, const V&, Agg)> adder,
                                              std::function<Agg(const K&, Agg, Agg)> merger,
                                              const Materialized& m) {
    static_assert(HasSerde<K> && HasSerde<Agg>, "the key and aggregate need serdes for the store");
    const std::string store =
        m.name.empty() ? h_.builder->name_of(h_.node) + "-" + op + "-store" : m.name;
    const int64_t needed = windows_.gap_ms + windows_.grace_ms;
    const int64_t retention = std::max(m.retention_ms.value_or(needed), needed);
    auto& t = h_.builder->topology();
    t.add_store(state::StoreSpec{.name = store,
                                 .kind = state::StoreKind::kSession,
                                 .logged = m.logged,
                                 .cached = m.cached,
                                 .retention_ms = retention},
                /*timestamped=*/true);
    std::vector<std::string> stores{store};
    const std::string pending = store + "-pending";
    detail::add_emit_store(t, emit_, pending, m.logged, stores);
    const int n = h_.builder->add_child(
        h_.node, op + " (gap " + std::to_string(windows_.gap_ms) + " ms)",
        detail::type_name<Windowed<K>>(), detail::type_name<Agg>(),
        [=, w = windows_, e = emit_, late = late_topic_] {
          return std::make_unique<operators::SessionAggregateNode<K, V, Agg>>(
              store, pending, w, e, late, initializer, adder, merger);
        },
        stores);
    return KTable<Windowed<K>, std::optional<Agg>>(detail::Handle{h_.builder, n, false});
  }

  detail::Handle h_;
  SessionWindows windows_;
  EmitStrategy emit_ = EmitStrategy::kOnEveryUpdate;
  std::string late_topic_;
};

// Sliding windows: [start, start + difference], both ends inclusive, defined by the records
// (sluice/operators/aggregate.h). Each update forwards every window whose value changed.
template <typename K, typename V>
class SlidingWindowedKStream {
 public:
  SlidingWindowedKStream(detail::Handle h, SlidingWindows w) : h_(h), windows_(w) {}

  SlidingWindowedKStream late_records_to(std::string topic) const {
    SlidingWindowedKStream s = *this;
    s.late_topic_ = std::move(topic);
    return s;
  }
  // Forward each window's result once, when the window closes (default: every update).
  SlidingWindowedKStream emit(EmitStrategy e) const {
    SlidingWindowedKStream s = *this;
    s.emit_ = e;
    return s;
  }

  template <typename Init, typename Adder>
  auto aggregate(Init initializer, Adder adder, Materialized m = {}) {
    using Agg = std::decay_t<std::invoke_result_t<Init&>>;
    static_assert(HasSerde<K> && HasSerde<V> && HasSerde<Agg>,
                  "the key, value and aggregate need serdes for the stores");
    const std::string store =
        m.name.empty() ? h_.builder->name_of(h_.node) + "-sliding-aggregate-store" : m.name;
    const std::string records = store + "-records";
    const int64_t needed = 2 * windows_.difference_ms + windows_.grace_ms + 2;
    const int64_t retention = std::max(m.retention_ms.value_or(needed), needed);
    auto& t = h_.builder->topology();
    // Emitting on close reads each closed window range whole: time-ordered makes that a walk
    // over just those windows.
    t.add_store(state::StoreSpec{.name = store,
                                 .kind = state::StoreKind::kWindow,
                                 .logged = m.logged,
                                 .cached = m.cached,
                                 .retention_ms = retention,
                                 .time_ordered = emit_ == operators::EmitStrategy::kOnWindowClose},
                /*timestamped=*/true);
    t.add_store(state::StoreSpec{.name = records,
                                 .kind = state::StoreKind::kWindow,
                                 .logged = m.logged,
                                 .retention_ms = retention});
    std::vector<std::string> stores{store, records};
    const std::string emitted = store + "-emitted";
    detail::add_emit_store(t, emit_, emitted, m.logged, stores);
    std::function<Agg()> init = initializer;
    std::function<Agg(const K&, const V&, Agg)> add = [adder](const K& k, const V& v, Agg a) {
      return adder(k, v, std::move(a));
    };
    const int n = h_.builder->add_child(
        h_.node, "sliding-aggregate (" + std::to_string(windows_.difference_ms) + " ms)",
        detail::type_name<Windowed<K>>(), detail::type_name<Agg>(),
        [=, w = windows_, e = emit_, late = late_topic_] {
          return std::make_unique<operators::SlidingAggregateNode<K, V, Agg>>(
              store, records, emitted, w, e, late, init, add);
        },
        stores);
    return KTable<Windowed<K>, Agg>(detail::Handle{h_.builder, n, false});
  }

  KTable<Windowed<K>, int64_t> count(Materialized m = {}) {
    return aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     m);
  }

 private:
  detail::Handle h_;
  SlidingWindows windows_;
  EmitStrategy emit_ = EmitStrategy::kOnEveryUpdate;
  std::string late_topic_;
};

inline void TopologyBuilder::rename(int node, std::string name) {
  topology_.rename_node(node, std::move(name));
}

}  // namespace sluice::dsl

#include "sluice/operators/topology.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "sluice/base/check.h"

namespace sluice::operators {
namespace {

// Union-find over node indexes.
class Components {
 public:
  explicit Components(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  size_t find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void join(size_t a, size_t b) { parent_[find(a)] = find(b); }

 private:
  std::vector<size_t> parent_;
};

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string dot_id(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int Topology::add_node(NodeDef def) {
  SLUICE_CHECK_MSG(!built_, "the topology is already built");
  nodes_.push_back(std::move(def));
  return static_cast<int>(nodes_.size() - 1);
}

void Topology::connect(int parent, int child) {
  SLUICE_CHECK_MSG(!built_, "the topology is already built");
  nodes_[static_cast<size_t>(parent)].children.push_back(child);
  nodes_[static_cast<size_t>(child)].parents.push_back(parent);
}

void Topology::rename_node(int node, std::string name) {
  SLUICE_CHECK_MSG(!built_, "the topology is already built");
  nodes_[static_cast<size_t>(node)].name = std::move(name);
}

void Topology::add_store(state::StoreSpec spec, bool timestamped) {
  SLUICE_CHECK_MSG(!built_, "the topology is already built");
  if (timestamped) timestamped_.push_back(spec.name);
  stores_.push_back(std::move(spec));
}

bool Topology::is_timestamped(std::string_view store) const {
  return std::ranges::find(timestamped_, store) != timestamped_.end();
}

void Topology::add_internal_topic(std::string name) {
  SLUICE_CHECK_MSG(!built_, "the topology is already built");
  if (!is_internal(name)) internal_topics_.push_back(TopicDef{std::move(name), true, {}});
}

void Topology::add_copartition_group(CopartitionGroup group) {
  copartition_.push_back(std::move(group));
}

std::optional<int> Topology::find_node(std::string_view name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

const state::StoreSpec* Topology::find_store(std::string_view name) const {
  for (const auto& s : stores_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool Topology::is_internal(std::string_view topic) const {
  return std::ranges::any_of(internal_topics_, [&](const TopicDef& t) { return t.name == topic; });
}

std::vector<std::string> Topology::external_source_topics() const {
  std::set<std::string> out;
  for (const auto& n : nodes_) {
    if (n.kind != NodeKind::kSource) continue;
    for (const auto& t : n.topics) {
      if (!is_internal(t)) out.insert(t);
    }
  }
  return {out.begin(), out.end()};
}

Status Topology::build() {
  if (built_) return Status();
  if (nodes_.empty()) return invalid_argument("the topology is empty: add a source (stream(...))");
  std::set<std::string> names;
  for (const auto& n : nodes_) {
    if (!names.insert(n.name).second) {
      return invalid_argument("two operators are named '" + n.name +
                              "': give one of them another name with named()");
    }
    if (n.kind == NodeKind::kSource && n.topics.empty()) {
      return invalid_argument("source '" + n.name + "' reads no topic");
    }
    if (n.kind != NodeKind::kSource && n.parents.empty()) {
      return invalid_argument("operator '" + n.name + "' has no input");
    }
    if (n.kind == NodeKind::kSink && n.topics.size() != 1) {
      return invalid_argument("sink '" + n.name + "' must write exactly one topic");
    }
    for (const auto& s : n.stores) {
      if (!find_store(s)) {
        return invalid_argument("operator '" + n.name + "' uses store '" + s +
                                "', which the topology does not declare");
      }
    }
    if (!n.make) return invalid_argument("operator '" + n.name + "' has no implementation");
  }
  std::set<std::string> store_names;
  for (const auto& s : stores_) {
    if (!store_names.insert(s.name).second) {
      return invalid_argument("two stores are named '" + s.name +
                              "': name one of them differently (Materialized{\"...\"})");
    }
  }
  if ((errors_.on_deserialization_error == ErrorPolicy::kDeadLetter ||
       errors_.on_processing_error == ErrorPolicy::kDeadLetter) &&
      errors_.dead_letter_topic.empty()) {
    return invalid_argument("a dead-letter error policy needs a dead_letter_topic");
  }
  // A topic read by two sources of the same sub-topology would deliver its records twice.
  std::map<std::string, std::string> reader;
  for (const auto& n : nodes_) {
    if (n.kind != NodeKind::kSource) continue;
    for (const auto& t : n.topics) {
      auto [it, fresh] = reader.emplace(t, n.name);
      if (!fresh) {
        return invalid_argument("topic '" + t + "' is read by both '" + it->second + "' and '" +
                                n.name + "': read it once and reuse the stream");
      }
    }
  }

  // Sub-topologies: connected by edges and by shared stores.
  Components c(nodes_.size());
  std::map<std::string, size_t> store_user;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (int child : nodes_[i].children) c.join(i, static_cast<size_t>(child));
    for (const auto& s : nodes_[i].stores) {
      auto [it, fresh] = store_user.emplace(s, i);
      if (!fresh) c.join(i, it->second);
    }
  }
  std::map<size_t, size_t> index_of_root;  // in order of first node
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const size_t root = c.find(i);
    auto [it, fresh] = index_of_root.emplace(root, subtopologies_.size());
    if (fresh) subtopologies_.push_back(SubTopology{static_cast<int>(subtopologies_.size())});
    SubTopology& st = subtopologies_[it->second];
    st.nodes.push_back(static_cast<int>(i));
    const NodeDef& n = nodes_[i];
    if (n.kind == NodeKind::kSource) {
      st.source_topics.insert(st.source_topics.end(), n.topics.begin(), n.topics.end());
    }
    if (n.kind == NodeKind::kSink) st.sink_topics.push_back(n.topics[0]);
    st.stores.insert(st.stores.end(), n.stores.begin(), n.stores.end());
  }
  for (auto& st : subtopologies_) {
    for (auto* v : {&st.source_topics, &st.sink_topics, &st.stores}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    if (st.source_topics.empty()) {
      return invalid_argument("operators " + nodes_[static_cast<size_t>(st.nodes[0])].name +
                              "... read no topic");
    }
  }
  built_ = true;
  return Status();
}

std::string Topology::describe() const {
  std::ostringstream out;
  out << "Topologies:\n";
  for (const auto& st : subtopologies_) {
    out << "   Sub-topology: " << st.id << "\n";
    for (int i : st.nodes) {
      const NodeDef& n = node(i);
      switch (n.kind) {
        case NodeKind::kSource:
          out << "    Source: " << n.name << " (topics: [" << join_names(n.topics) << "])\n";
          break;
        case NodeKind::kProcessor:
          out << "    Processor: " << n.name << " (" << n.operation << "; stores: ["
              << join_names(n.stores) << "])\n";
          break;
        case NodeKind::kSink:
          out << "    Sink: " << n.name << " (topic: " << n.topics[0] << ")\n";
          break;
      }
      std::vector<std::string> next;
      for (int ch : n.children) next.push_back(node(ch).name);
      if (!next.empty()) out << "      --> " << join_names(next) << "\n";
      std::vector<std::string> prev;
      for (int p : n.parents) prev.push_back(node(p).name);
      if (!prev.empty()) out << "      <-- " << join_names(prev) << "\n";
    }
    out << "\n";
  }
  return out.str();
}

std::string Topology::to_dot() const {
  std::ostringstream out;
  out << "digraph topology {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
  std::set<std::string> topics;
  for (const auto& st : subtopologies_) {
    out << "  subgraph cluster_" << st.id << " {\n    label=\"sub-topology " << st.id << "\";\n";
    for (int i : st.nodes) {
      const NodeDef& n = node(i);
      std::string label = n.name;
      if (n.kind == NodeKind::kProcessor) label += "\\n" + n.operation;
      out << "    " << dot_id(n.name) << " [shape=box, label=" << dot_id(label) << "];\n";
    }
    out << "  }\n";
  }
  for (const auto& n : nodes_) {
    for (int ch : n.children) {
      out << "  " << dot_id(n.name) << " -> " << dot_id(node(ch).name) << ";\n";
    }
    for (const auto& t : n.topics) {
      topics.insert(t);
      if (n.kind == NodeKind::kSource) {
        out << "  " << dot_id("topic:" + t) << " -> " << dot_id(n.name) << ";\n";
      } else {
        out << "  " << dot_id(n.name) << " -> " << dot_id("topic:" + t) << ";\n";
      }
    }
    for (const auto& s : n.stores) {
      out << "  " << dot_id(n.name) << " -> " << dot_id("store:" + s)
          << " [style=dashed, dir=both];\n";
    }
  }
  for (const auto& t : topics) {
    out << "  " << dot_id("topic:" + t) << " [shape=cds, label=" << dot_id(t) << "];\n";
  }
  for (const auto& s : stores_) {
    out << "  " << dot_id("store:" + s.name) << " [shape=cylinder, label=" << dot_id(s.name)
        << "];\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace sluice::operators

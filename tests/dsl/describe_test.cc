// A topology describes itself: text like Kafka Streams' TopologyDescription, and Graphviz dot.
#include <cstdio>
#include <fstream>

#include "temp_dir.h"
#include "test_util.h"

namespace sluice::dsl {
namespace {

using namespace std::chrono_literals;

Topology page_view_topology() {
  TopologyBuilder b;
  b.stream<std::string, std::string>("page-views")
      .filter([](const std::string& v) { return v != "bot"; })
      .named("drop-bots")
      .select_key([](const std::string& v) { return v; })
      .named("by-page")
      .group_by_key()
      .windowed_by(TumblingWindows::of(1min))
      .count("views-per-page")
      .named("count-views")
      .to_stream()
      .named("as-stream")
      .to("page-view-counts");
  auto t = b.build();
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

TEST(DescribeTest, TextListsSubTopologiesNodesTopicsAndStores) {
  const Topology t = page_view_topology();
  EXPECT_EQ(t.describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: source-0 (topics: [page-views])\n"
            "      --> drop-bots\n"
            "    Processor: drop-bots (filter; stores: [])\n"
            "      --> by-page\n"
            "      <-- source-0\n"
            "    Processor: by-page (select_key; stores: [])\n"
            "      --> by-page-repartition-sink\n"
            "      <-- drop-bots\n"
            "    Sink: by-page-repartition-sink (topic: by-page-repartition)\n"
            "      <-- by-page\n"
            "\n"
            "   Sub-topology: 1\n"
            "    Source: by-page-repartition-source (topics: [by-page-repartition])\n"
            "      --> count-views\n"
            "    Processor: count-views (windowed-aggregate (tumbling 60000 ms); stores: "
            "[views-per-page])\n"
            "      --> as-stream\n"
            "      <-- by-page-repartition-source\n"
            "    Processor: as-stream (to_stream; stores: [])\n"
            "      --> sink-7\n"
            "      <-- count-views\n"
            "    Sink: sink-7 (topic: page-view-counts)\n"
            "      <-- as-stream\n"
            "\n");
  ASSERT_EQ(t.subtopologies().size(), 2u);
  EXPECT_EQ(t.subtopologies()[1].stores, (std::vector<std::string>{"views-per-page"}));
  ASSERT_EQ(t.internal_topics().size(), 1u);
  EXPECT_EQ(t.internal_topics()[0].name, "by-page-repartition");
}

TEST(DescribeTest, DotOutputRendersWithGraphviz) {
  const Topology t = page_view_topology();
  sluice::testing::TempDir dir;
  {
    std::ofstream f(dir / "topology.dot");
    f << t.to_dot();
  }
  const std::string cmd =
      "dot -Tsvg '" + (dir / "topology.dot") + "' -o '" + (dir / "topology.svg") + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) output += buf;
  const int rc = pclose(p);
  ASSERT_EQ(rc, 0) << "dot failed (is graphviz installed? scripts/install-deps.sh installs it): "
                   << output;
  std::ifstream svg(dir / "topology.svg");
  std::string contents((std::istreambuf_iterator<char>(svg)), {});
  EXPECT_NE(contents.find("<svg"), std::string::npos);
  // (SVG text escapes the hyphen.)
  EXPECT_NE(contents.find("drop&#45;bots"), std::string::npos);
  EXPECT_NE(contents.find("views&#45;per&#45;page"), std::string::npos);
}

TEST(DescribeTest, BuildRejectsDuplicateNamesAndStoresWithActionableMessages) {
  {
    TopologyBuilder b;
    auto s = b.stream<std::string, std::string>("a");
    s.filter([](const std::string&) { return true; }).named("same").to("x");
    s.filter([](const std::string&) { return true; }).named("same").to("y");
    auto t = b.build();
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("named()"), std::string::npos) << t.status().to_string();
  }
  {
    TopologyBuilder b;
    b.stream<std::string, std::string>("a").group_by_key().count("dup");
    b.stream<std::string, std::string>("b").group_by_key().count("dup");
    auto t = b.build();
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("'dup'"), std::string::npos) << t.status().to_string();
  }
  {
    TopologyBuilder b;
    b.stream<std::string, std::string>("a").to("x");
    b.stream<std::string, std::string>("a").to("y");
    auto t = b.build();
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("read it once"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::dsl

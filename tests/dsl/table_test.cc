// Tables from topics, stream-table joins, table-table joins and tables regrouped by a new key.
#include <map>
#include <random>

#include "test_util.h"

namespace sluice::dsl {
namespace {

using testing::driver_for;
using testing::read;
using Strings = std::vector<TestRecord<std::string, std::string>>;
using Updates = std::vector<TestRecord<std::string, std::optional<std::string>>>;

std::string opt(const std::optional<std::string>& v) { return v ? *v : "null"; }

TEST(TableTest, TableKeepsTheLatestValuePerKeyAndNullValuesDelete) {
  TopologyBuilder b;
  auto users = b.table<std::string, std::string>("users", "users-store");
  users.to_stream().to("user-updates");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(d->pipe_raw("users", ByteView("u1"), ByteView("alice"), Timestamp(1)));
  ASSERT_OK(d->pipe_raw("users", ByteView("u2"), ByteView("bob"), Timestamp(2)));
  ASSERT_OK(d->pipe_raw("users", ByteView("u1"), ByteView("alicia"), Timestamp(3)));
  ASSERT_OK(d->pipe_raw("users", ByteView("u2"), std::nullopt, Timestamp(4)));  // tombstone
  auto all = d->query_range<std::string, std::string>("users-store");
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(*all, (std::vector<std::pair<std::string, std::string>>{{"u1", "alicia"}}));
  auto updates = d->output_topic<std::string, std::optional<std::string>>("user-updates");
  EXPECT_EQ(read(updates), (Updates{{"u1", "alice", Timestamp(1)},
                                    {"u2", "bob", Timestamp(2)},
                                    {"u1", "alicia", Timestamp(3)},
                                    {"u2", std::nullopt, Timestamp(4)}}));
}

TEST(TableTest, StreamTableJoinUsesTheTablesValueAtTheTimeOfEachStreamRecord) {
  TopologyBuilder b;
  auto users = b.table<std::string, std::string>("users");
  auto clicks = b.stream<std::string, std::string>("clicks");
  clicks
      .join(users, [](const std::string& page,
                      const std::string& user) { return user + " clicked " + page; })
      .to("enriched");
  clicks
      .left_join(users,
                 [](const std::string& page, const std::optional<std::string>& user) {
                   return opt(user) + " clicked " + page;
                 })
      .to("enriched-left");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto click = d->input_topic<std::string, std::string>("clicks");
  ASSERT_OK(click.pipe("u1", "/home", Timestamp(1)));  // no user yet
  ASSERT_OK(d->pipe_raw("users", ByteView("u1"), ByteView("alice"), Timestamp(2)));
  ASSERT_OK(click.pipe("u1", "/cart", Timestamp(3)));
  ASSERT_OK(d->pipe_raw("users", ByteView("u1"), ByteView("alicia"), Timestamp(4)));
  ASSERT_OK(click.pipe("u1", "/pay", Timestamp(5)));
  auto enriched = d->output_topic<std::string, std::string>("enriched");
  EXPECT_EQ(read(enriched), (Strings{{"u1", "alice clicked /cart", Timestamp(3)},
                                     {"u1", "alicia clicked /pay", Timestamp(5)}}));
  auto left = d->output_topic<std::string, std::string>("enriched-left");
  EXPECT_EQ(read(left), (Strings{{"u1", "null clicked /home", Timestamp(1)},
                                 {"u1", "alice clicked /cart", Timestamp(3)},
                                 {"u1", "alicia clicked /pay", Timestamp(5)}}));
}

TEST(TableTest, TableTableJoinsFollowUpdatesOfBothSides) {
  TopologyBuilder b;
  auto names = b.table<std::string, std::string>("names");
  auto cities = b.table<std::string, std::string>("cities");
  names.join(cities, [](const std::string& n, const std::string& c) { return n + "@" + c; })
      .to_stream()
      .to("inner");
  names
      .left_join(cities, [](const std::string& n,
                            const std::optional<std::string>& c) { return n + "@" + opt(c); })
      .to_stream()
      .to("left");
  names
      .outer_join(cities, [](const std::optional<std::string>& n,
                             const std::optional<std::string>& c) { return opt(n) + "@" + opt(c); })
      .to_stream()
      .to("outer");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(d->pipe_raw("names", ByteView("k"), ByteView("ann"), Timestamp(1)));
  ASSERT_OK(d->pipe_raw("cities", ByteView("k"), ByteView("oslo"), Timestamp(2)));
  ASSERT_OK(d->pipe_raw("names", ByteView("k"), std::nullopt, Timestamp(3)));
  auto inner = d->output_topic<std::string, std::optional<std::string>>("inner");
  EXPECT_EQ(read(inner), (Updates{{"k", std::nullopt, Timestamp(1)},
                                  {"k", "ann@oslo", Timestamp(2)},
                                  {"k", std::nullopt, Timestamp(3)}}));
  auto left = d->output_topic<std::string, std::optional<std::string>>("left");
  EXPECT_EQ(read(left), (Updates{{"k", "ann@null", Timestamp(1)},
                                 {"k", "ann@oslo", Timestamp(2)},
                                 {"k", std::nullopt, Timestamp(3)}}));
  auto outer = d->output_topic<std::string, std::optional<std::string>>("outer");
  EXPECT_EQ(read(outer), (Updates{{"k", "ann@null", Timestamp(1)},
                                  {"k", "ann@oslo", Timestamp(2)},
                                  {"k", "null@oslo", Timestamp(3)}}));
}

TEST(TableTest, AnAggregationIsATableThatStreamsCanJoin) {
  TopologyBuilder b;
  auto totals =
      b.stream<std::string, int64_t>("payments")
          .group_by_key()
          .aggregate([] { return int64_t{0}; },
                     [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; },
                     "totals");
  b.stream<std::string, std::string>("orders")
      .left_join(totals,
                 [](const std::string& order, const std::optional<int64_t>& paid) {
                   return order + " (paid so far " + (paid ? std::to_string(*paid) : "0") + ")";
                 })
      .to("orders-with-payments");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto payments = d->input_topic<std::string, int64_t>("payments");
  auto orders = d->input_topic<std::string, std::string>("orders");
  ASSERT_OK(orders.pipe("c1", "o1", Timestamp(1)));
  ASSERT_OK(payments.pipe("c1", 30, Timestamp(2)));
  ASSERT_OK(payments.pipe("c1", 12, Timestamp(3)));
  ASSERT_OK(orders.pipe("c1", "o2", Timestamp(4)));
  auto out = d->output_topic<std::string, std::string>("orders-with-payments");
  EXPECT_EQ(read(out), (Strings{{"c1", "o1 (paid so far 0)", Timestamp(1)},
                                {"c1", "o2 (paid so far 42)", Timestamp(4)}}));
}

using Counts = std::vector<TestRecord<std::string, int64_t>>;

// users: user -> region; regrouped by region and counted.
TEST(TableGroupByTest, CountPerNewKeyFollowsUpdatesAndDeletionsOfTheTable) {
  TopologyBuilder b;
  b.table<std::string, std::string>("users")
      .group_by(
          [](const std::string& user, const std::string& region) {
            return std::pair<std::string, std::string>(region, user);
          },
          "by-region")
      .count("users-per-region")
      .to_stream()
      .to("region-counts");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(d->pipe_raw("users", ByteView("alice"), ByteView("eu"), Timestamp(1)));
  ASSERT_OK(d->pipe_raw("users", ByteView("bob"), ByteView("eu"), Timestamp(2)));
  ASSERT_OK(d->pipe_raw("users", ByteView("carol"), ByteView("us"), Timestamp(3)));
  auto out = d->output_topic<std::string, int64_t>("region-counts");
  EXPECT_EQ(read(out),
            (Counts{{"eu", 1, Timestamp(1)}, {"eu", 2, Timestamp(2)}, {"us", 1, Timestamp(3)}}));
  // alice moves: out of eu, into us.
  ASSERT_OK(d->pipe_raw("users", ByteView("alice"), ByteView("us"), Timestamp(4)));
  EXPECT_EQ(read(out), (Counts{{"eu", 1, Timestamp(4)}, {"us", 2, Timestamp(4)}}));
  // bob is deleted; carol is written again unchanged: one update, subtract and add together.
  ASSERT_OK(d->pipe_raw("users", ByteView("bob"), std::nullopt, Timestamp(5)));
  ASSERT_OK(d->pipe_raw("users", ByteView("carol"), ByteView("us"), Timestamp(6)));
  EXPECT_EQ(read(out), (Counts{{"eu", 0, Timestamp(5)}, {"us", 2, Timestamp(6)}}));
  // A tombstone for a key the table never held changes nothing.
  ASSERT_OK(d->pipe_raw("users", ByteView("dave"), std::nullopt, Timestamp(7)));
  EXPECT_TRUE(read(out).empty());
  auto counts = d->query_range<std::string, int64_t>("users-per-region");
  ASSERT_TRUE(counts.ok()) << counts.status().to_string();
  EXPECT_EQ(*counts, (std::vector<std::pair<std::string, int64_t>>{{"eu", 0}, {"us", 2}}));
  // The updates went through a real repartition topic.
  EXPECT_TRUE(d->partitions("test-app-by-region-repartition").ok());
}

TEST(TableGroupByTest, ReduceAndAggregateSubtractTheOldValueAndAddTheNewOne) {
  TopologyBuilder b;
  // accounts: account -> "owner:balance"; total balance per owner.
  auto by_owner = b.table<std::string, std::string>("accounts")
                      .group_by([](const std::string&, const std::string& v) {
                        const auto colon = v.find(':');
                        return std::pair<std::string, int64_t>(v.substr(0, colon),
                                                               std::stoll(v.substr(colon + 1)));
                      });
  by_owner
      .reduce([](int64_t total, int64_t v) { return total + v; },
              [](int64_t total, int64_t v) { return total - v; }, "balances")
      .to_stream()
      .to("balances");
  by_owner
      .aggregate([] { return std::string(); },
                 [](const std::string&, const int64_t& v, std::string log) {
                   return log + "+" + std::to_string(v);
                 },
                 [](const std::string&, const int64_t& v, std::string log) {
                   return log + "-" + std::to_string(v);
                 },
                 "history")
      .to_stream()
      .to("history");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(d->pipe_raw("accounts", ByteView("a1"), ByteView("ann:100"), Timestamp(1)));
  ASSERT_OK(d->pipe_raw("accounts", ByteView("a2"), ByteView("ann:50"), Timestamp(2)));
  ASSERT_OK(d->pipe_raw("accounts", ByteView("a1"), ByteView("ann:70"), Timestamp(3)));
  ASSERT_OK(d->pipe_raw("accounts", ByteView("a2"), ByteView("ben:50"), Timestamp(4)));
  auto balances = d->output_topic<std::string, int64_t>("balances");
  EXPECT_EQ(read(balances), (Counts{{"ann", 100, Timestamp(1)},
                                    {"ann", 150, Timestamp(2)},
                                    {"ann", 120, Timestamp(3)},
                                    {"ann", 70, Timestamp(4)},
                                    {"ben", 50, Timestamp(4)}}));
  auto history = d->output_topic<std::string, std::string>("history");
  EXPECT_EQ(read(history), (Strings{{"ann", "+100", Timestamp(1)},
                                    {"ann", "+100+50", Timestamp(2)},
                                    {"ann", "+100+50-100+70", Timestamp(3)},
                                    {"ann", "+100+50-100+70-50", Timestamp(4)},
                                    {"ben", "+50", Timestamp(4)}}));
}

// Random updates and deletions of a 4-partition table, regrouped onto 5 groups: the counts and
// sums per group equal those of the table's final contents, each group's state in one task.
TEST(TableGroupByTest, RegroupedAggregatesOverFourPartitionsEqualTheFinalTablesGroups) {
  TopologyBuilder b;
  auto grouped = b.table<std::string, int64_t>("items").group_by(
      [](const std::string&, const int64_t& v) {
        return std::pair<std::string, int64_t>("g" + std::to_string(v % 5), v);
      },
      "by-group");
  grouped.count("group-counts");
  grouped.reduce([](int64_t a, int64_t v) { return a + v; },
                 [](int64_t a, int64_t v) { return a - v; }, "group-sums");
  auto d = driver_for(b, {.partitions = {{"items", 4}}});
  ASSERT_TRUE(d);
  std::mt19937_64 rng(7);
  std::map<std::string, int64_t> table;
  std::vector<TopologyTestDriver::RawRecord> updates;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "item" + std::to_string(rng() % 300);
    TopologyTestDriver::RawRecord r{.key = key, .timestamp = Timestamp(i)};
    if (rng() % 5 == 0) {
      table.erase(key);
    } else {
      const auto v = static_cast<int64_t>(rng() % 1000);
      r.value = operators::encode(v);
      table[key] = v;
    }
    updates.push_back(std::move(r));
  }
  ASSERT_OK(d->append_raw("items", updates));  // partitioned by key, as a producer would
  ASSERT_OK(d->process_all());
  std::map<std::string, int64_t> counts, sums;
  for (int g = 0; g < 5; ++g) counts["g" + std::to_string(g)] = 0;
  for (const auto& [key, v] : table) {
    ++counts["g" + std::to_string(v % 5)];
    sums["g" + std::to_string(v % 5)] += v;
  }
  auto by_task = d->key_value_store_by_task<std::string, int64_t>("group-counts");
  ASSERT_TRUE(by_task.ok()) << by_task.status().to_string();
  std::map<std::string, int64_t> got_counts;
  for (const auto& [partition, contents] : *by_task) {
    for (const auto& [group, n] : contents) {
      EXPECT_FALSE(got_counts.contains(group)) << group << " is held by two tasks";
      got_counts[group] = n;
    }
  }
  EXPECT_EQ(got_counts, counts);
  auto got_sums = d->query_range<std::string, int64_t>("group-sums");
  ASSERT_TRUE(got_sums.ok()) << got_sums.status().to_string();
  std::map<std::string, int64_t> sums_map(got_sums->begin(), got_sums->end());
  for (auto& [group, sum] : sums_map) {
    if (!sums.contains(group)) {
      EXPECT_EQ(sum, 0) << group;  // every value left this group
    }
  }
  std::erase_if(sums_map, [&](const auto& e) { return !sums.contains(e.first); });
  EXPECT_EQ(sums_map, sums);
}

}  // namespace
}  // namespace sluice::dsl

namespace sluice::dsl {
namespace {

TEST(GlobalTableTest, EveryTaskJoinsAgainstTheWholeGlobalTableWithoutCopartitioning) {
  TopologyBuilder b;
  auto campaigns = b.global_table<std::string, std::string>("campaigns");  // ad -> campaign
  b.stream<std::string, std::string>("clicks")                             // user -> ad
      .join(
          campaigns, [](const std::string&, const std::string& ad) { return ad; },
          [](const std::string& ad, const std::string& campaign) { return ad + " in " + campaign; })
      .to("attributed");
  b.stream<std::string, std::string>("views")
      .left_join(
          campaigns, [](const std::string&, const std::string& ad) { return ad; },
          [](const std::string& ad, const std::optional<std::string>& c) {
            return ad + " in " + (c ? *c : "?");
          })
      .to("views-attributed");
  // Clicks have 4 partitions, the global table 3: no co-partitioning needed.
  auto d =
      testing::driver_for(b, {.partitions = {{"clicks", 4}, {"campaigns", 3}, {"attributed", 1}}});
  ASSERT_TRUE(d);
  for (const auto& [ad, campaign] : std::vector<std::pair<std::string, std::string>>{
           {"ad1", "summer"}, {"ad2", "winter"}, {"ad3", "spring"}}) {
    ASSERT_OK(d->pipe_raw("campaigns", ByteView(ad), ByteView(campaign), Timestamp(1)));
  }
  auto clicks = d->input_topic<std::string, std::string>("clicks");
  for (int u = 0; u < 12; ++u) {
    ASSERT_OK(clicks.pipe("user" + std::to_string(u), "ad" + std::to_string(u % 3 + 1),
                          Timestamp(10 + u)));
  }
  ASSERT_OK((d->input_topic<std::string, std::string>("views").pipe("u", "ad9", Timestamp(30))));
  auto attributed = d->output_topic<std::string, std::string>("attributed");
  auto records = testing::read(attributed);
  ASSERT_EQ(records.size(), 12u);
  std::map<std::string, int> per_campaign;
  for (const auto& r : records) ++per_campaign[r.value.substr(r.value.find(" in ") + 4)];
  EXPECT_EQ(per_campaign,
            (std::map<std::string, int>{{"spring", 4}, {"summer", 4}, {"winter", 4}}));
  auto views = d->output_topic<std::string, std::string>("views-attributed");
  EXPECT_EQ(testing::read(views), (Strings{{"u", "ad9 in ?", Timestamp(30)}}));
}

}  // namespace
}  // namespace sluice::dsl

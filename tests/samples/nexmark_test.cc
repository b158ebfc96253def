// Nexmark: the generator's proportions, and each query on the runtime against its oracle at a
// small scale.
#include "sluice/samples/nexmark.h"

#include <gtest/gtest.h>

#include "sample_test_util.h"
#include "sluice/base/murmur2.h"

#include <cmath>
#include <set>

namespace sluice::samples {
namespace {

using runtime::testing::Event;

const NexmarkOptions kOptions{.seed = 12, .events = 50'000};

// The values a query wrote, sorted (as its oracle returns them).
template <typename V>
std::vector<V> sorted_values(const std::vector<runtime::testing::Output<std::string, V>>& out) {
  std::vector<V> values;
  for (const auto& r : out) values.push_back(r.value);
  std::sort(values.begin(), values.end());
  return values;
}

std::vector<std::pair<std::string, std::vector<Event>>> inputs(const NexmarkEvents& e) {
  std::vector<Event> people, auctions, bids;
  for (const auto& p : e.people) {
    people.push_back({std::to_string(p.id), nlohmann::json(p).dump(), Timestamp(p.date_time)});
  }
  for (const auto& a : e.auctions) {
    auctions.push_back({std::to_string(a.id), nlohmann::json(a).dump(), Timestamp(a.date_time)});
  }
  for (const auto& b : e.bids) {
    bids.push_back({std::to_string(b.auction), nlohmann::json(b).dump(), Timestamp(b.date_time)});
  }
  return {{kPersonTopic, people}, {kAuctionTopic, auctions}, {kBidTopic, bids}};
}

// The inputs plus one auction per partition far in the future: stream time then passes every
// real auction's expiry in every task, so all of them close (q4, q6).
std::vector<std::pair<std::string, std::vector<Event>>> inputs_all_closed(const NexmarkEvents& e) {
  auto in = inputs(e);
  const int64_t last = e.bids.back().date_time;
  std::set<int32_t> covered;
  for (int i = 0; covered.size() < 4; ++i) {
    const std::string key = "sentinel-" + std::to_string(i);
    if (!covered.insert(kafka_partition_for_key(key, 4)).second) continue;
    Auction a{.id = -1 - i, .date_time = last + 600'000, .expires = last + 1'000'000'000};
    in[1].second.push_back({key, nlohmann::json(a).dump(), Timestamp(a.date_time)});
  }
  return in;
}

// The inputs plus one bid per partition far in the future: stream time then passes the end
// (and grace) of every real window in every task, so all of them close (q5). The sentinels'
// own windows stay open.
std::vector<std::pair<std::string, std::vector<Event>>> inputs_all_windows_closed(
    const NexmarkEvents& e) {
  auto in = inputs(e);
  const int64_t last = e.bids.back().date_time;
  std::set<int32_t> covered;
  for (int64_t id = -1; covered.size() < 4; --id) {
    const std::string key = std::to_string(id);
    if (!covered.insert(kafka_partition_for_key(key, 4)).second) continue;
    Bid b{.auction = id, .date_time = last + kNexmarkWindowMs + kNexmarkQ5GraceMs + 1};
    in[2].second.push_back({key, nlohmann::json(b).dump(), Timestamp(b.date_time)});
  }
  return in;
}

TEST(NexmarkTest, TheGeneratorFollowsThePublishedProportions) {
  const auto e = generate_nexmark(kOptions);
  EXPECT_EQ(e.people.size() + e.auctions.size() + e.bids.size(), 50'000u);
  EXPECT_NEAR(static_cast<double>(e.people.size()) / 50'000, 1.0 / 50, 0.001);
  EXPECT_NEAR(static_cast<double>(e.auctions.size()) / 50'000, 3.0 / 50, 0.001);
  // Sellers and bidders exist when they act.
  for (const auto& a : e.auctions)
    EXPECT_LT(a.seller, 1000 + static_cast<int64_t>(e.people.size()));
  EXPECT_FALSE(nexmark_q2(e).empty());
  EXPECT_FALSE(nexmark_q3(e).empty());
}

TEST(NexmarkTest, WithoutBidsTheGeneratorMakesTheSamePeopleAndAuctions) {
  const auto all = generate_nexmark(kOptions);
  NexmarkOptions o = kOptions;
  o.keep_bids = false;
  const auto no_bids = generate_nexmark(o);
  EXPECT_TRUE(no_bids.bids.empty());
  EXPECT_EQ(no_bids.people, all.people);
  EXPECT_EQ(no_bids.auctions, all.auctions);
}

TEST(NexmarkTest, Q0AndQ1PassAndConvertEveryBid) {
  const auto e = generate_nexmark(kOptions);
  for (int q : {0, 1}) {
    const auto out =
        testing::run_sample_on<std::string, Bid>(nexmark_topology(q), inputs(e), nexmark_output(q));
    std::vector<Bid> got;
    for (const auto& r : out) got.push_back(r.value);
    auto want = q == 0 ? e.bids : nexmark_q1(e);
    auto order = [](const Bid& a, const Bid& b) {
      return std::tie(a.date_time, a.auction, a.bidder, a.price) <
             std::tie(b.date_time, b.auction, b.bidder, b.price);
    };
    std::sort(got.begin(), got.end(), order);
    std::sort(want.begin(), want.end(), order);
    EXPECT_EQ(got, want) << "q" << q;
  }
}

TEST(NexmarkTest, Q2SelectsTheBidsOfEvery123rdAuction) {
  const auto e = generate_nexmark(kOptions);
  const auto out =
      testing::run_sample_on<std::string, Q2Row>(nexmark_topology(2), inputs(e), nexmark_output(2));
  const std::vector<Q2Row> got = sorted_values(out);
  EXPECT_EQ(got, nexmark_q2(e));
}

TEST(NexmarkTest, Q3FindsLocalSellersOfCategory10) {
  const auto e = generate_nexmark(kOptions);
  const auto out =
      testing::run_sample_on<std::string, Q3Row>(nexmark_topology(3), inputs(e), nexmark_output(3));
  const std::vector<Q3Row> got = sorted_values(out);
  EXPECT_EQ(got, nexmark_q3(e));
}

TEST(NexmarkTest, Q4AveragesTheClosingPricePerCategory) {
  const auto e = generate_nexmark(kOptions);
  const auto out = testing::run_sample_on<std::string, CategoryPrices>(
      nexmark_topology(4), inputs_all_closed(e), nexmark_output(4));
  std::map<int64_t, CategoryPrices> got;
  for (const auto& r : out) got[std::stoll(r.key)] = r.value;
  const auto want = nexmark_q4(e);
  EXPECT_EQ(want.size(), 5u);  // every category has closed auctions
  EXPECT_TRUE(got == want);
  for (const auto& [category, prices] : got) {
    EXPECT_EQ(prices.auctions, want.at(category).auctions) << "category " << category;
  }
}

// An auction that arrives after stream time has passed its expiry (behind a later auction on
// its partition) still closes: closing scans from where the last close stopped, and such an
// auction must move that point back.
TEST(NexmarkTest, Q4ClosesAnAuctionThatArrivesAlreadyExpired) {
  // Three auction ids on one partition, so that one task sees them all in this order.
  std::vector<int64_t> ids;
  for (int64_t id = 1; ids.size() < 3; ++id) {
    if (kafka_partition_for_key(std::to_string(id), 4) == 0) ids.push_back(id);
  }
  const int64_t early = ids[0], far = ids[1], late = ids[2];
  auto auction = [](int64_t id, int64_t at, int64_t expires) {
    Auction a{.id = id, .reserve = 10, .date_time = at, .expires = expires, .category = 1};
    return Event{std::to_string(id), nlohmann::json(a).dump(), Timestamp(at)};
  };
  auto bid = [](int64_t auction, int64_t price, int64_t at) {
    Bid b{.auction = auction, .bidder = 1, .price = price, .date_time = at};
    return Event{std::to_string(auction), nlohmann::json(b).dump(), Timestamp(at)};
  };
  const std::vector<Event> auctions = {
      auction(early, 1000, 5000), auction(far, 11'000, 1'000'000),
      auction(late, 2000, 3000),  // processed after the close at 11 s: already expired
  };
  const std::vector<Event> bids = {
      bid(early, 100, 1500),  // early's winning bid
      bid(far, 5, 10'000),    // stream time 10 s: early closes
      bid(far, 5, 11'500),    // (after far, before late: late comes next, at 2 s)
      bid(late, 200, 2500),   // late's winning bid, valid in late's own time
      bid(far, 5, 13'000),    // stream time 13 s: late closes, from behind the last close
  };
  const auto out = testing::run_sample_on<std::string, CategoryPrices>(
      nexmark_topology(4), {{kPersonTopic, {}}, {kAuctionTopic, auctions}, {kBidTopic, bids}},
      nexmark_output(4));
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().key, "1");
  EXPECT_EQ(out.back().value, (CategoryPrices{.sum = 300, .auctions = 2}));
}

TEST(NexmarkTest, Q5FindsTheHottestAuctionOfEachSlidingWindow) {
  const auto e = generate_nexmark(kOptions);
  const auto out = testing::run_sample_on<std::string, AuctionCount>(
      nexmark_topology(5), inputs_all_windows_closed(e), nexmark_output(5));
  std::map<int64_t, AuctionCount> got;
  for (const auto& r : out) got[std::stoll(r.key)] = r.value;
  const auto want = nexmark_q5(e);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

// Closes from different tasks reach a seller's aggregate in no fixed order, and it keeps the
// last 10 by closing order (expiry, then id) whatever order they arrive in. So each update is
// checked against the closes emitted for its seller up to it, with the oracle's prices; every
// close is emitted once; and each seller's last update, having seen them all, is the oracle's.
TEST(NexmarkTest, Q6AveragesTheLast10ClosingPricesOfEachSeller) {
  // 500 s of event time: most auctions (open 10 to 110 s) close while the stream runs.
  const auto e = generate_nexmark({.seed = 12, .events = 50'000, .events_per_second = 100});
  const auto out = testing::run_sample_on<std::string, SellerAverage>(
      nexmark_topology(6), inputs_all_closed(e), nexmark_output(6));
  std::map<int64_t, std::vector<SellerAverage>> got;
  for (const auto& r : out) got[std::stoll(r.key)].push_back(r.value);
  const auto want = nexmark_q6(e);
  std::map<int64_t, int64_t> expires;
  for (const Auction& a : e.auctions) expires[a.id] = a.expires;
  EXPECT_EQ(got.size(), want.size());
  size_t sliding = 0;  // sellers with more closes than the average keeps
  for (const auto& [seller, updates] : want) {
    const auto& emitted = got[seller];
    ASSERT_EQ(emitted.size(), updates.size()) << "seller " << seller;
    if (updates.size() > kNexmarkQ6Auctions) ++sliding;
    std::map<int64_t, int64_t> price;  // auction -> winning price
    for (const SellerAverage& u : updates) price[u.auction] = u.price;
    std::set<std::pair<int64_t, int64_t>> closed;  // (expiry, auction) emitted so far
    for (const SellerAverage& u : emitted) {
      ASSERT_TRUE(price.contains(u.auction)) << "seller " << seller << " auction " << u.auction;
      EXPECT_EQ(u.price, price[u.auction]) << "auction " << u.auction;
      EXPECT_TRUE(closed.insert({expires[u.auction], u.auction}).second) << "auction " << u.auction;
      int64_t sum = 0, n = 0;
      for (auto it = closed.rbegin(); it != closed.rend() && n < 10; ++it, ++n) {
        sum += price[it->second];
      }
      EXPECT_EQ(u.average, std::llround(static_cast<double>(sum) / static_cast<double>(n)))
          << "seller " << seller << " after auction " << u.auction;
      EXPECT_EQ(u.auctions, n) << "seller " << seller << " after auction " << u.auction;
    }
    EXPECT_EQ(emitted.back().average, updates.back().average) << "seller " << seller;
  }
  EXPECT_GT(sliding, 0u);
}

TEST(NexmarkTest, Q7FindsTheHighestBidOfEachWindow) {
  const auto e = generate_nexmark(kOptions);
  const auto out = testing::run_sample_on<operators::Windowed<std::string>, Bid>(
      nexmark_topology(7), inputs(e), nexmark_output(7));
  std::map<int64_t, int64_t> got;
  for (const auto& r : out) got[r.key.window.start.value()] = r.value.price;
  EXPECT_EQ(got, nexmark_q7(e));
}

TEST(NexmarkTest, Q8FindsNewSellersOncePerWindow) {
  const auto e = generate_nexmark(kOptions);
  const auto out =
      testing::run_sample_on<std::string, Q8Row>(nexmark_topology(8), inputs(e), nexmark_output(8));
  const std::vector<Q8Row> got = sorted_values(out);
  const auto want = nexmark_q8(e);
  EXPECT_GT(want.size(), 50u);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

std::vector<std::pair<std::string, std::vector<Event>>> single_stream(const NexmarkEvents& e) {
  std::vector<Event> stream;
  for (const NexmarkEvent& ev : nexmark_stream(e)) {
    sluice::Bytes value;
    operators::Serde<NexmarkEvent>::serialize(ev, value);
    stream.push_back({nexmark_key(ev), value, Timestamp(nexmark_time(ev))});
  }
  EXPECT_EQ(stream.size(), e.people.size() + e.auctions.size() + e.bids.size());
  return {{kEventTopic, stream}};
}

TEST(NexmarkTest, Q3AndQ8OverTheSingleStreamOfEveryEventFindTheSameRows) {
  const auto e = generate_nexmark(kOptions);
  {
    const auto out = testing::run_sample_on<std::string, Q3Row>(
        nexmark_one_stream_topology(3), single_stream(e), nexmark_output(3));
    const std::vector<Q3Row> got = sorted_values(out);
    const auto want = nexmark_q3(e);
    EXPECT_GT(want.size(), 5u);
    EXPECT_TRUE(got == want) << got.size() << " q3 rows, want " << want.size();
  }
  {
    const auto out = testing::run_sample_on<std::string, Q8Row>(
        nexmark_one_stream_topology(8), single_stream(e), nexmark_output(8));
    const std::vector<Q8Row> got = sorted_values(out);
    const auto want = nexmark_q8(e);
    EXPECT_GT(want.size(), 50u);
    EXPECT_TRUE(got == want) << got.size() << " q8 rows, want " << want.size();
  }
  EXPECT_FALSE(nexmark_one_stream_topology(5).ok());
}

TEST(NexmarkTest, QueriesNotBuiltSaySo) {
  for (int q : {-1, 9}) {
    auto t = nexmark_topology(q);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find("not built"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::samples

// Sample 5, Nexmark: an online auction's people, auctions and bids, and the benchmark's
// queries over them.
//
// The generator follows the published proportions — of every 50 events 1 is a new person, 3
// are new auctions and 46 are bids — with sellers and bidders drawn mostly from recent people
// and bids mostly on recent ("hot") auctions, prices in cents, and event times at a fixed rate.
// Each kind has its topic (JSON values): people keyed by id, auctions by id, bids by auction.
//
// Queries built — all of q0 to q8, each a topology and an oracle:
//   q0  pass-through: every bid, unchanged
//   q1  currency conversion: every bid with its price in euros (cents * 908 / 1000)
//   q2  selection: (auction, price) of the bids on auctions whose id is divisible by 123
//   q3  local item suggestion: auctions of category 10 whose seller lives in OR, ID or CA,
//       with the seller's name, city and state (auctions joined to the people table)
//   q5  hot items: per 10-second window sliding by 2 seconds, the auction with the most bids
//       (ties to the lower id): bids counted per auction and window, each window's final count
//       emitted when it closes (as Nexmark's windowed aggregation does), then the counts
//       re-keyed by window and reduced to the highest
//   q7  highest bid: per 10-second tumbling window, the highest bid
//   q8  new sellers: people who opened an auction in the 10-second tumbling window they joined
//       in, once per person and window (a window join: people and auctions by seller in one
//       tumbling-window aggregate, emitted when it first holds both)
//   q3 and q8 are also built over Nexmark's single stream of every event
//   (nexmark_one_stream_topology), as Flink and Feldera run them
//   q4  average closing price per category: a processor keeps each open auction with its best
//       valid bid (in the auction's time, at least the reserve) and, on stream-time punctuation,
//       closes the expired ones in expiry order, forwarding their winning price by category;
//       sums and counts per category give the average
//   q6  average selling price by seller: the same closing processor, its winning prices
//       re-keyed by seller; per seller an aggregate keeps the last 10 auctions closed (by
//       expiry, then id) and every close emits their average
//
// Thread safety: values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/base/result.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/topology.h"

namespace sluice::samples {

struct Person {
  int64_t id = 0;
  std::string name;
  std::string email_address;
  std::string credit_card;
  std::string city;
  std::string state;
  int64_t date_time = 0;
  friend bool operator==(const Person&, const Person&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Person, id, name, email_address, credit_card, city, state,
                                   date_time)
SLUICE_JSON_FIELDS(Person, id, name, email_address, credit_card, city, state, date_time)

struct Auction {
  int64_t id = 0;
  std::string item_name;
  int64_t initial_bid = 0;  // cents
  int64_t reserve = 0;
  int64_t date_time = 0;
  int64_t expires = 0;
  int64_t seller = 0;  // a person's id
  int64_t category = 0;
  friend bool operator==(const Auction&, const Auction&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Auction, id, item_name, initial_bid, reserve, date_time, expires,
                                   seller, category)
SLUICE_JSON_FIELDS(Auction, id, item_name, initial_bid, reserve, date_time, expires, seller,
                   category)

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;  // cents (q1: euro cents)
  std::string channel;
  int64_t date_time = 0;
  friend bool operator==(const Bid&, const Bid&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Bid, auction, bidder, price, channel, date_time)
SLUICE_JSON_FIELDS(Bid, auction, bidder, price, channel, date_time)

struct NexmarkOptions {
  uint64_t seed = 1;
  int64_t events = 1'000'000;
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t events_per_second = 10'000;    // of event time
  // false: bids are generated (the other events are the same) but not kept, for queries that
  // read only people and auctions (8% of the events) measured over many events.
  bool keep_bids = true;
};

// All three kinds, in event order.
struct NexmarkEvents {
  std::vector<Person> people;
  std::vector<Auction> auctions;
  std::vector<Bid> bids;
};
NexmarkEvents generate_nexmark(const NexmarkOptions& options);

inline constexpr const char* kPersonTopic = "nexmark-person";
inline constexpr const char* kAuctionTopic = "nexmark-auction";
inline constexpr const char* kBidTopic = "nexmark-bid";
inline constexpr int64_t kNexmarkWindowMs = 10'000;
inline constexpr int64_t kNexmarkSlideMs = 2'000;        // q5
inline constexpr int64_t kNexmarkGraceMs = 10 * 60'000;  // generous: see page_views.h
// q5 emits each window once, when it closes: after the 4 seconds the Nexmark Flink queries allow
// for disorder (`WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`).
inline constexpr int64_t kNexmarkQ5GraceMs = 4'000;
inline constexpr size_t kNexmarkQ6Auctions = 10;  // q6 averages a seller's last 10

// Output topics: "nexmark-q<n>".
std::string nexmark_output(int query);

// One event of Nexmark's single stream, as its Flink and Feldera runs read it: one of the three
// is set. The topic kEventTopic holds every event in event order, keyed as on the per-kind
// topics; a query over it keeps the kinds it reads, and every event counts.
struct NexmarkEvent {
  std::optional<Person> person;
  std::optional<Auction> auction;
  std::optional<Bid> bid;
};
SLUICE_JSON_FIELDS(NexmarkEvent, person, auction, bid)
inline constexpr const char* kEventTopic = "nexmark-events";
// All of `events` in event order (at equal times people, then auctions, then bids), its key and
// its time.
std::vector<NexmarkEvent> nexmark_stream(const NexmarkEvents& events);
std::string nexmark_key(const NexmarkEvent& event);
int64_t nexmark_time(const NexmarkEvent& event);
// q3 and q8 over the single stream (writing nexmark_output(q)): the comparison with runs that
// read one stream of every event. Other queries: kInvalidArgument.
Result<operators::Topology> nexmark_one_stream_topology(int query);
// The queries built, by number.
const std::vector<int>& nexmark_queries();
Result<operators::Topology> nexmark_topology(int query);

// q1's value, q2's and q3's rows, q7's key (the window start).
struct Q2Row {
  int64_t auction = 0;
  int64_t price = 0;
  friend auto operator<=>(const Q2Row&, const Q2Row&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Q2Row, auction, price)
SLUICE_JSON_FIELDS(Q2Row, auction, price)
struct Q3Row {
  std::string name, city, state;
  int64_t auction = 0;
  friend auto operator<=>(const Q3Row&, const Q3Row&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Q3Row, name, city, state, auction)
SLUICE_JSON_FIELDS(Q3Row, name, city, state, auction)

// q4's value: the winning prices of a category's closed auctions so far.
struct CategoryPrices {
  int64_t sum = 0;
  int64_t auctions = 0;
  friend bool operator==(const CategoryPrices&, const CategoryPrices&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CategoryPrices, sum, auctions)
SLUICE_JSON_FIELDS(CategoryPrices, sum, auctions)

// q6's value, one per closed auction with a winning bid: the average winning price of the
// seller's last kNexmarkQ6Auctions closed auctions (fewer until it has closed that many), where
// "last" means by expiry, then auction id — whatever order the closes arrive in.
struct SellerAverage {
  int64_t auction = 0;   // the auction whose close this is
  int64_t price = 0;     // its winning price, cents
  int64_t average = 0;   // cents, to the nearest (halves up, as Beam's Nexmark)
  int64_t auctions = 0;  // how many the average is over, 1 to kNexmarkQ6Auctions
  friend bool operator==(const SellerAverage&, const SellerAverage&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SellerAverage, auction, price, average, auctions)
SLUICE_JSON_FIELDS(SellerAverage, auction, price, average, auctions)

// q8's rows.
struct Q8Row {
  int64_t id = 0;
  std::string name;
  int64_t window_start = 0;
  friend auto operator<=>(const Q8Row&, const Q8Row&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Q8Row, id, name, window_start)
SLUICE_JSON_FIELDS(Q8Row, id, name, window_start)

// q5's value: an auction and its bids in one window.
struct AuctionCount {
  int64_t auction = 0;
  int64_t bids = 0;
  friend auto operator<=>(const AuctionCount&, const AuctionCount&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AuctionCount, auction, bids)
SLUICE_JSON_FIELDS(AuctionCount, auction, bids)
// The hotter of two: more bids, then the lower auction id.
AuctionCount hotter(const AuctionCount& a, const AuctionCount& b);

// The oracles: q0 and q1 the bids (q1 converted), q2 and q3 their rows sorted, q5 the hottest
// auction per window start, q7 the highest price per window start.
std::vector<Bid> nexmark_q1(const NexmarkEvents& events);
std::vector<Q2Row> nexmark_q2(const NexmarkEvents& events);
std::vector<Q3Row> nexmark_q3(const NexmarkEvents& events);
std::map<int64_t, AuctionCount> nexmark_q5(const NexmarkEvents& events);
std::map<int64_t, int64_t> nexmark_q7(const NexmarkEvents& events);
std::vector<Q8Row> nexmark_q8(const NexmarkEvents& events);
// q4: per category, the winning prices of every auction with a valid bid (all auctions closed).
std::map<int64_t, CategoryPrices> nexmark_q4(const NexmarkEvents& events);
// q6: per seller, what the query emits for each of its auctions with a valid bid, in closing
// order (expiry, then id), all auctions closed.
std::map<int64_t, std::vector<SellerAverage>> nexmark_q6(const NexmarkEvents& events);

}  // namespace sluice::samples

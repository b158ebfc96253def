#include "sluice/samples/nexmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>

#include "sluice/dsl/topology_builder.h"
#include "sluice/operators/binary_fields.h"

namespace sluice::samples {

namespace {

constexpr const char* kStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr const char* kCities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                   "Portland", "Bend",        "Seattle",       "Kent",
                                   "Cheyenne", "Redmond"};
constexpr const char* kFirstNames[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                       "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
constexpr const char* kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                      "Walton", "Smith",  "Jones",   "Noris"};
constexpr const char* kChannels[] = {"Google", "Facebook", "Baidu", "Apple"};
constexpr int64_t kFirstId = 1000;
constexpr int64_t kFirstCategory = 10;
constexpr int kCategories = 5;
constexpr int kHotRatio = 2;  // 1 in kHotRatio + 1 picks from the few most recent ("hot") ones

}  // namespace

NexmarkEvents generate_nexmark(const NexmarkOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto pick = [&](auto& array) { return array[rng() % std::size(array)]; };
  NexmarkEvents out;
  int64_t next_person = kFirstId, next_auction = kFirstId;
  // A recent id: mostly among the last few, sometimes among the last thousand.
  auto recent = [&](int64_t next) {
    const int64_t span = rng() % (kHotRatio + 1) != 0 ? 4 : 1000;
    return std::max<int64_t>(kFirstId, next - 1 - static_cast<int64_t>(rng() % span));
  };
  // A recent person who joined before `t`: a join on the person sees them (one who joined in
  // the same millisecond could come either way).
  auto recent_person = [&](int64_t t) {
    int64_t id = recent(next_person);
    while (id > kFirstId && out.people[static_cast<size_t>(id - kFirstId)].date_time >= t) --id;
    return id;
  };
  for (int64_t i = 0; i < o.events; ++i) {
    const int64_t t = o.start_ms + i * 1000 / o.events_per_second;
    const int64_t slot = i % 50;
    if (slot == 0 || next_person == kFirstId) {
      const int64_t id = next_person++;
      out.people.push_back({.id = id,
                            .name = std::string(pick(kFirstNames)) + " " + pick(kLastNames),
                            .email_address = "p" + std::to_string(id) + "@example.com",
                            .credit_card = std::to_string(1000 + rng() % 9000) + " " +
                                           std::to_string(1000 + rng() % 9000),
                            .city = pick(kCities),
                            .state = pick(kStates),
                            .date_time = t});
    } else if (slot <= 3 || next_auction == kFirstId) {
      const int64_t id = next_auction++;
      const int64_t initial = 100 + static_cast<int64_t>(rng() % 10'000);
      out.auctions.push_back(
          {.id = id,
           .item_name = "item-" + std::to_string(id),
           .initial_bid = initial,
           .reserve = initial + static_cast<int64_t>(rng() % 10'000),
           .date_time = t,
           .expires = t + 10'000 + static_cast<int64_t>(rng() % 100'000),
           .seller = recent_person(t),
           .category = kFirstCategory + static_cast<int64_t>(rng() % kCategories)});
    } else {
      Bid bid{.auction = recent(next_auction),
              .bidder = recent_person(t),
              .price = 100 + static_cast<int64_t>(rng() % 100'000),
              .channel = pick(kChannels),
              .date_time = t};
      if (o.keep_bids) out.bids.push_back(std::move(bid));
    }
  }
  return out;
}

namespace {

// q4 and q6: an open auction and the best valid bid so far (-1: none). Binary (the auction
// too, from its member table): the closing processor reads it back for every bid.
struct OpenAuction {
  Auction auction;
  int64_t best = -1;
};
SLUICE_BINARY_FIELDS(OpenAuction, auction, best)

// A bid where only the job reads it back (q7's repartition topic and window store).
struct BinaryBid {
  Bid bid;
};
SLUICE_BINARY_FIELDS(BinaryBid, bid)

// q3's sellers: people of these states.
bool local_state(const std::string& state) {
  return state == "OR" || state == "ID" || state == "CA";
}

// q8's input, people and auctions alike, keyed by person (an auction by its seller). Binary:
// only the job reads it back (from the repartition topic), as it reads Q8Window from its store.
struct Q8Side {
  bool person = false;
  std::string name;  // of a person
};
SLUICE_BINARY_FIELDS(Q8Side, person, name)

// q8's aggregate per person and tumbling window: the person (once seen), how many of their
// auctions, and whether this update made the first match.
struct Q8Window {
  bool person = false;
  std::string name;
  int64_t auctions = 0;
  bool matched_now = false;
};
SLUICE_BINARY_FIELDS(Q8Window, person, name, auctions, matched_now)

// What the closing processor reads: an auction or a bid, both keyed by auction id.
struct AuctionOrBid {
  std::optional<Auction> auction;
  std::optional<Bid> bid;
};

// What it forwards: an auction that closed with a valid bid, and that bid's price.
struct WinningBid {
  Auction auction;
  int64_t price = 0;
};

bool valid_bid(const Auction& a, const Bid& b) {
  return b.date_time >= a.date_time && b.date_time <= a.expires && b.price >= a.reserve;
}

// Keeps open auctions with their best valid bid in `store`; every second of stream time, closes
// those that expired, in expiry order (then id), and forwards the ones that had a valid bid.
//
// The open auctions are also listed by closing time — (expiry, id) in big-endian bytes, so the
// store's byte order is closing order — so that closing reads just the expired ones.
class WinningBids : public dsl::Processor<std::string, AuctionOrBid, std::string, WinningBid> {
 public:
  WinningBids(std::string store, std::string by_expiry)
      : store_(std::move(store)), by_expiry_store_(std::move(by_expiry)) {}

  Status init(dsl::ProcessorContext<std::string, WinningBid>& ctx) override {
    ctx_ = &ctx;
    SLUICE_ASSIGN_OR_RETURN(open_, (ctx.key_value_store<std::string, OpenAuction>(store_)));
    SLUICE_ASSIGN_OR_RETURN(by_expiry_,
                            (ctx.key_value_store<std::string, std::string>(by_expiry_store_)));
    ctx.schedule(dsl::PunctuationType::kStreamTime, 1000, [this](Timestamp t) { return close(t); });
    return Status();
  }

  Status process(operators::Record<std::string, AuctionOrBid> r) override {
    if (r.value.auction) {
      const Auction& a = *r.value.auction;
      std::string closing = closing_key(a.expires, a.id);
      if (scanned_from_ && closing < *scanned_from_) scanned_from_ = closing;  // already due
      SLUICE_RETURN_IF_ERROR(by_expiry_.put(closing, r.key));
      return open_.put(r.key, OpenAuction{a, -1});
    }
    SLUICE_ASSIGN_OR_RETURN(auto open, open_.get(r.key));
    if (!open || !valid_bid(open->auction, *r.value.bid) || r.value.bid->price <= open->best) {
      return Status();
    }
    open->best = r.value.bid->price;
    return open_.put(r.key, *open);
  }

 private:
  static std::string closing_key(int64_t expires, int64_t id) {
    std::string k;
    append_be<int64_t>(k, expires);
    append_be<int64_t>(k, id);
    return k;
  }

  // Closes the auctions that expired by `now`, in closing order (q6's "last 10" wants it).
  Status close(Timestamp now) {
    // From where the last close stopped: what it closed is removed, and a scan from the start
    // would step over the removals (RocksDB tombstones) of every close so far.
    const std::string until = closing_key(now.value() + 1, 0);
    SLUICE_ASSIGN_OR_RETURN(auto expired, by_expiry_.range(scanned_from_, until));
    scanned_from_ = until;
    for (auto& [closing, id] : expired) {
      SLUICE_RETURN_IF_ERROR(by_expiry_.remove(closing));
      SLUICE_ASSIGN_OR_RETURN(auto open, open_.get(id));
      if (!open) continue;
      SLUICE_RETURN_IF_ERROR(open_.remove(id));
      if (open->best < 0) continue;
      SLUICE_RETURN_IF_ERROR(
          ctx_->forward({std::move(id), {std::move(open->auction), open->best}, now}));
    }
    return Status();
  }

  std::string store_, by_expiry_store_;
  // Every closing key below this was closed (nullopt after a start: scan from the beginning).
  std::optional<std::string> scanned_from_;
  dsl::ProcessorContext<std::string, WinningBid>* ctx_ = nullptr;
  operators::KeyValueStoreView<std::string, OpenAuction> open_{nullptr};
  operators::KeyValueStoreView<std::string, std::string> by_expiry_{nullptr};
};

// q4 and q6: the auctions that closed with a valid bid, keyed by id, each forwarded when stream
// time passes its expiry (stamped with that stream time). `store` holds the open ones, and
// `store`-by-expiry lists them by closing time.
dsl::KStream<std::string, WinningBid> winning_bids(dsl::TopologyBuilder& b,
                                                   const std::string& store) {
  const std::string by_expiry = store + "-by-expiry";
  b.add_state_store({.name = store});
  b.add_state_store({.name = by_expiry});
  auto auctions = b.stream<std::string, Auction>(kAuctionTopic).map_values([](const Auction& a) {
    return AuctionOrBid{.auction = a};
  });
  return b.stream<std::string, Bid>(kBidTopic)
      .map_values([](const Bid& bid) { return AuctionOrBid{.bid = bid}; })
      .merge(auctions)
      .process<std::string, WinningBid>(
          [store, by_expiry] { return std::make_unique<WinningBids>(store, by_expiry); },
          {store, by_expiry})
      .named("winning-bids");
}

// q6: a closed auction as the seller's aggregate keeps it, ordered by closing (expiry, then id).
struct ClosedAuction {
  int64_t expires = 0;
  int64_t auction = 0;
  int64_t price = 0;
  friend auto operator<=>(const ClosedAuction&, const ClosedAuction&) = default;
};
SLUICE_BINARY_FIELDS(ClosedAuction, expires, auction, price)

// q6's aggregate: a seller's last kNexmarkQ6Auctions closed auctions, in closing order (closes
// from different tasks may arrive out of that order), and the one added last.
struct SellerPrices {
  std::vector<ClosedAuction> last;
  ClosedAuction added;

  void add(const ClosedAuction& c) {
    last.insert(std::upper_bound(last.begin(), last.end(), c), c);
    if (last.size() > kNexmarkQ6Auctions) last.erase(last.begin());
    added = c;
  }
  SellerAverage average() const {
    int64_t sum = 0;
    for (const ClosedAuction& c : last) sum += c.price;
    const auto n = static_cast<int64_t>(last.size());
    return {.auction = added.auction,
            .price = added.price,
            .average = n == 0 ? 0 : (2 * sum + n) / (2 * n),  // rounded, halves up
            .auctions = n};
  }
};
SLUICE_BINARY_FIELDS(SellerPrices, last, added)

// q3 from people keyed by id and auctions. The people of OR, ID and CA only (the predicate
// pushed below the join, as SQL engines do): a table of the latest record of each, 6% of the
// people. Nexmark's people never change, so no one leaves the table.
void q3_local_items(dsl::KStream<std::string, Person> people,
                    dsl::KStream<std::string, Auction> auctions, const std::string& out) {
  auto sellers =
      people.filter([](const std::string&, const Person& p) { return local_state(p.state); })
          .named("local-people")
          .group_by_key()
          .reduce([](const Person&, const Person& latest) { return latest; }, "nexmark-q3-sellers");
  auctions.filter([](const std::string&, const Auction& a) { return a.category == 10; })
      .named("category-10")
      .select_key([](const std::string&, const Auction& a) { return std::to_string(a.seller); })
      .named("by-seller")
      .join(
          sellers,
          [](const Auction& a, const Person& p) {
            return Q3Row{p.name, p.city, p.state, a.id};
          },
          "auction-seller")
      .to(out);
}

// q8 from its two sides, merged and keyed by person: a join of people and auctions on the same
// tumbling window, run as Flink runs a window join. Both sides go into one windowed aggregate per
// person and window, which emits the row when it first holds the person and an auction: point
// reads and writes of that one store per record, where an interval join seeks a range of the
// other side's store.
void q8_window_join(dsl::KStream<std::string, Q8Side> sides, const std::string& out) {
  using std::chrono::milliseconds;
  sides.group_by_key()
      .windowed_by(dsl::TumblingWindows::of(milliseconds(kNexmarkWindowMs))
                       .grace(milliseconds(kNexmarkGraceMs)))
      .aggregate([] { return Q8Window{}; },
                 [](const std::string&, const Q8Side& side, Q8Window w) {
                   const bool matched = w.person && w.auctions > 0;
                   if (side.person) {
                     w.person = true;
                     w.name = side.name;
                   } else {
                     ++w.auctions;
                   }
                   w.matched_now = !matched && w.person && w.auctions > 0;
                   return w;
                 },
                 dsl::Materialized("nexmark-q8-windows"))
      .to_stream()
      .filter(
          [](const operators::Windowed<std::string>&, const Q8Window& w) { return w.matched_now; })
      .named("first-match")
      .map([](const operators::Windowed<std::string>& w, const Q8Window& m) {
        return std::pair(w.key + "@" + std::to_string(w.window.start.value()),
                         Q8Row{std::stoll(w.key), m.name, w.window.start.value()});
      })
      .named("by-person-window")
      .to(out);
}

}  // namespace

std::string nexmark_output(int query) { return "nexmark-q" + std::to_string(query); }

std::string nexmark_key(const NexmarkEvent& e) {
  if (e.person) return std::to_string(e.person->id);
  if (e.auction) return std::to_string(e.auction->id);
  return e.bid ? std::to_string(e.bid->auction) : std::string();
}

int64_t nexmark_time(const NexmarkEvent& e) {
  if (e.person) return e.person->date_time;
  if (e.auction) return e.auction->date_time;
  return e.bid ? e.bid->date_time : 0;
}

std::vector<NexmarkEvent> nexmark_stream(const NexmarkEvents& events) {
  std::vector<NexmarkEvent> out;
  out.reserve(events.people.size() + events.auctions.size() + events.bids.size());
  for (const Person& p : events.people) out.push_back({.person = p});
  for (const Auction& a : events.auctions) out.push_back({.auction = a});
  for (const Bid& b : events.bids) out.push_back({.bid = b});
  std::stable_sort(out.begin(), out.end(), [](const NexmarkEvent& a, const NexmarkEvent& b) {
    return nexmark_time(a) < nexmark_time(b);
  });
  return out;
}

Result<operators::Topology> nexmark_one_stream_topology(int query) {
  if (query != 3 && query != 8) {
    return invalid_argument("Nexmark query " + std::to_string(query) +
                            " is not built over the single stream (built: 3, 8)");
  }
  dsl::TopologyBuilder b;
  auto events = b.stream<std::string, NexmarkEvent>(kEventTopic);
  // People are keyed by id on the stream, as on their own topic.
  auto people =
      events.filter([](const std::string&, const NexmarkEvent& e) { return e.person.has_value(); })
          .named("people");
  auto auctions =
      events.filter([](const std::string&, const NexmarkEvent& e) { return e.auction.has_value(); })
          .named("auctions");
  if (query == 3) {
    q3_local_items(
        people.map_values([](NexmarkEvent e) { return std::move(*e.person); }).named("person"),
        auctions.map_values([](NexmarkEvent e) { return std::move(*e.auction); }).named("auction"),
        nexmark_output(3));
    return b.build();
  }
  auto person_side =
      people.map_values([](const NexmarkEvent& e) {
              return Q8Side{true, e.person->name};
            })
          .named("person-side");
  auto sellers = auctions
                     .map([](const std::string&, const NexmarkEvent& e) {
                       return std::pair(std::to_string(e.auction->seller), Q8Side{});
                     })
                     .named("by-seller")
                     .repartition();
  q8_window_join(person_side.merge(sellers), nexmark_output(8));
  return b.build();
}

const std::vector<int>& nexmark_queries() {
  static const std::vector<int> queries = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  return queries;
}

Result<operators::Topology> nexmark_topology(int query) {
  using std::chrono::milliseconds;
  dsl::TopologyBuilder b;
  const std::string out = nexmark_output(query);
  switch (query) {
    case 0:
      b.stream<std::string, Bid>(kBidTopic).to(out);
      break;
    case 1:
      b.stream<std::string, Bid>(kBidTopic)
          .map_values([](Bid bid) {
            bid.price = bid.price * 908 / 1000;
            return bid;
          })
          .named("dollars-to-euros")
          .to(out);
      break;
    case 2:
      b.stream<std::string, Bid>(kBidTopic)
          .filter([](const std::string&, const Bid& bid) { return bid.auction % 123 == 0; })
          .named("auction-mod-123")
          .map_values([](const Bid& bid) {
            return Q2Row{bid.auction, bid.price};
          })
          .to(out);
      break;
    case 3:
      q3_local_items(b.stream<std::string, Person>(kPersonTopic),
                     b.stream<std::string, Auction>(kAuctionTopic), out);
      break;
    case 4:
      winning_bids(b, "nexmark-q4-open")
          .map([](const std::string&, const WinningBid& w) {
            return std::pair(std::to_string(w.auction.category), w.price);
          })
          .named("by-category")
          .group_by_key()
          .aggregate([] { return CategoryPrices{}; },
                     [](const std::string&, int64_t price, CategoryPrices s) {
                       s.sum += price;
                       ++s.auctions;
                       return s;
                     },
                     "nexmark-q4-prices")
          .to_stream()
          .to(out);
      break;
    case 5:
      b.stream<std::string, Bid>(kBidTopic)
          .group_by_key()
          .windowed_by(dsl::HoppingWindows::of(milliseconds(kNexmarkWindowMs))
                           .advance_by(milliseconds(kNexmarkSlideMs))
                           .grace(milliseconds(kNexmarkQ5GraceMs)))
          .emit(dsl::EmitStrategy::kOnWindowClose)
          .count("nexmark-q5-bids")
          .to_stream()
          .map([](const operators::Windowed<std::string>& w, int64_t bids) {
            return std::pair(std::to_string(w.window.start.value()),
                             AuctionCount{std::stoll(w.key), bids});
          })
          .named("by-window")
          .group_by_key()
          .reduce([](const AuctionCount& a, const AuctionCount& b) { return hotter(a, b); },
                  "nexmark-q5-hottest")
          .to_stream()
          .to(out);
      break;
    case 6:
      winning_bids(b, "nexmark-q6-open")
          .map([](const std::string&, const WinningBid& w) {
            return std::pair(std::to_string(w.auction.seller),
                             ClosedAuction{w.auction.expires, w.auction.id, w.price});
          })
          .named("by-seller")
          .group_by_key()
          .aggregate([] { return SellerPrices{}; },
                     [](const std::string&, const ClosedAuction& c, SellerPrices s) {
                       s.add(c);
                       return s;
                     },
                     "nexmark-q6-prices")
          .to_stream()
          .map_values([](const SellerPrices& s) { return s.average(); })
          .named("average")
          .to(out);
      break;
    case 7:
      // Through the repartition topic and the window store in binary; JSON again at the output.
      b.stream<std::string, Bid>(kBidTopic)
          .map([](const std::string&, const Bid& bid) {
            return std::pair(std::string("all"), BinaryBid{bid});
          })
          .named("one-key")
          .group_by_key()
          .windowed_by(dsl::TumblingWindows::of(milliseconds(kNexmarkWindowMs))
                           .grace(milliseconds(kNexmarkGraceMs)))
          .reduce([](const BinaryBid& a,
                     const BinaryBid& b) { return b.bid.price > a.bid.price ? b : a; },
                  "nexmark-q7-highest")
          .to_stream()
          .map_values([](BinaryBid b) { return std::move(b.bid); })
          .named("as-json")
          .to(out);
      break;
    case 8: {
      // People are keyed by id already: only the auctions, re-keyed by seller, are repartitioned.
      auto people = b.stream<std::string, Person>(kPersonTopic)
                        .map_values([](const Person& p) {
                          return Q8Side{true, p.name};
                        })
                        .named("person-side");
      auto sellers = b.stream<std::string, Auction>(kAuctionTopic)
                         .map([](const std::string&, const Auction& a) {
                           return std::pair(std::to_string(a.seller), Q8Side{});
                         })
                         .named("by-seller")
                         .repartition();
      q8_window_join(people.merge(sellers), out);
      break;
    }
    default: {
      std::string built;
      for (int q : nexmark_queries()) built += (built.empty() ? "" : ", ") + std::to_string(q);
      return invalid_argument("Nexmark query " + std::to_string(query) +
                              " is not built (built: " + built + ")");
    }
  }
  return b.build();
}

std::vector<Bid> nexmark_q1(const NexmarkEvents& e) {
  std::vector<Bid> out = e.bids;
  for (Bid& b : out) b.price = b.price * 908 / 1000;
  return out;
}

std::vector<Q2Row> nexmark_q2(const NexmarkEvents& e) {
  std::vector<Q2Row> out;
  for (const Bid& b : e.bids) {
    if (b.auction % 123 == 0) out.push_back({b.auction, b.price});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Q3Row> nexmark_q3(const NexmarkEvents& e) {
  std::unordered_map<int64_t, const Person*> people;
  for (const Person& p : e.people) people[p.id] = &p;
  std::vector<Q3Row> out;
  for (const Auction& a : e.auctions) {
    if (a.category != 10) continue;
    auto it = people.find(a.seller);
    if (it == people.end()) continue;
    const Person& p = *it->second;
    if (p.state == "OR" || p.state == "ID" || p.state == "CA") {
      out.push_back({p.name, p.city, p.state, a.id});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

AuctionCount hotter(const AuctionCount& a, const AuctionCount& b) {
  if (a.bids != b.bids) return a.bids > b.bids ? a : b;
  return a.auction <= b.auction ? a : b;
}

std::map<int64_t, AuctionCount> nexmark_q5(const NexmarkEvents& e) {
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;  // (window start, auction) -> bids
  for (const Bid& b : e.bids) {
    const int64_t last = b.date_time / kNexmarkSlideMs * kNexmarkSlideMs;
    for (int64_t start = last; start > b.date_time - kNexmarkWindowMs && start >= 0;
         start -= kNexmarkSlideMs) {
      ++counts[{start, b.auction}];
    }
  }
  std::map<int64_t, AuctionCount> out;
  for (const auto& [key, n] : counts) {
    AuctionCount c{key.second, n};
    auto [it, inserted] = out.try_emplace(key.first, c);
    if (!inserted) it->second = hotter(it->second, c);
  }
  return out;
}

namespace {

// q4's and q6's oracles: every auction with a valid bid, and its highest valid price.
std::vector<std::pair<const Auction*, int64_t>> winning_prices(const NexmarkEvents& e) {
  std::unordered_map<int64_t, std::pair<const Auction*, int64_t>> best;  // id -> (auction, price)
  for (const Auction& a : e.auctions) best[a.id] = {&a, -1};
  for (const Bid& b : e.bids) {
    auto it = best.find(b.auction);
    if (it == best.end() || !valid_bid(*it->second.first, b)) continue;
    it->second.second = std::max(it->second.second, b.price);
  }
  std::vector<std::pair<const Auction*, int64_t>> out;
  for (const auto& [id, ab] : best) {
    if (ab.second >= 0) out.push_back(ab);
  }
  return out;
}

}  // namespace

std::map<int64_t, CategoryPrices> nexmark_q4(const NexmarkEvents& e) {
  std::map<int64_t, CategoryPrices> out;
  for (const auto& [auction, price] : winning_prices(e)) {
    CategoryPrices& c = out[auction->category];
    c.sum += price;
    ++c.auctions;
  }
  return out;
}

std::map<int64_t, std::vector<SellerAverage>> nexmark_q6(const NexmarkEvents& e) {
  auto won = winning_prices(e);
  std::sort(won.begin(), won.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first->expires, a.first->id) < std::pair(b.first->expires, b.first->id);
  });
  std::map<int64_t, std::vector<int64_t>> prices;  // seller -> winning prices, in closing order
  std::map<int64_t, std::vector<SellerAverage>> out;
  for (const auto& [auction, price] : won) {
    std::vector<int64_t>& p = prices[auction->seller];
    p.push_back(price);
    const size_t n = std::min(p.size(), kNexmarkQ6Auctions);
    int64_t sum = 0;
    for (size_t i = p.size() - n; i < p.size(); ++i) sum += p[i];
    out[auction->seller].push_back(
        {.auction = auction->id,
         .price = price,
         .average = std::llround(static_cast<double>(sum) / static_cast<double>(n)),
         .auctions = static_cast<int64_t>(n)});
  }
  return out;
}

std::vector<Q8Row> nexmark_q8(const NexmarkEvents& e) {
  auto window_of = [](int64_t t) { return t / kNexmarkWindowMs * kNexmarkWindowMs; };
  std::set<std::pair<int64_t, int64_t>> opened;  // (seller, window)
  for (const Auction& a : e.auctions) opened.insert({a.seller, window_of(a.date_time)});
  std::vector<Q8Row> out;
  for (const Person& p : e.people) {
    if (opened.contains({p.id, window_of(p.date_time)})) {
      out.push_back({p.id, p.name, window_of(p.date_time)});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<int64_t, int64_t> nexmark_q7(const NexmarkEvents& e) {
  std::map<int64_t, int64_t> out;
  for (const Bid& b : e.bids) {
    int64_t& best = out[b.date_time / kNexmarkWindowMs * kNexmarkWindowMs];
    best = std::max(best, b.price);
  }
  return out;
}

}  // namespace sluice::samples

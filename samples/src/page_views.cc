#include "sluice/samples/page_views.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "sluice/dsl/topology_builder.h"

namespace sluice::samples {
namespace {

const char* const kAgents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
};
const char* const kBots[] = {
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
};
const char* const kReferrers[] = {"", "https://www.google.com/", "https://news.ycombinator.com/",
                                  "https://t.co/", "https://www.reddit.com/"};

// The most popular pages have names; the long tail is products.
std::string page_name(int rank) {
  static const char* const kNamed[] = {"/",     "/products", "/pricing", "/docs",
                                       "/blog", "/about",    "/careers", "/contact"};
  if (rank < static_cast<int>(std::size(kNamed))) return kNamed[rank];
  return "/products/" + std::to_string(rank);
}

}  // namespace

PageViewGenerator::PageViewGenerator(PageViewOptions options)
    : options_(options), state_(options.seed * 0x9E3779B97F4A7C15ull + 1) {
  // Zipf with exponent 1: page k (from 1) is viewed in proportion to 1/k.
  double sum = 0;
  for (int k = 1; k <= options_.pages; ++k) {
    sum += 1.0 / k;
    cumulative_.push_back(sum);
  }
  for (double& c : cumulative_) c /= sum;
}

// splitmix64: fast, and the same everywhere.
uint64_t PageViewGenerator::random() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

PageView PageViewGenerator::next() {
  const int64_t i = next_++;
  const double u = static_cast<double>(random() >> 11) / 9007199254740992.0;
  const auto page =
      std::lower_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
  PageView v;
  v.user = "user-" + std::to_string(random() % static_cast<uint64_t>(options_.users));
  v.page = page_name(static_cast<int>(page));
  v.referrer = kReferrers[random() % std::size(kReferrers)];
  const bool bot = static_cast<double>(random() % 10'000) < options_.bot_share * 10'000;
  v.user_agent = bot ? kBots[random() % std::size(kBots)] : kAgents[random() % std::size(kAgents)];
  const int64_t disorder =
      options_.max_disorder_ms > 0
          ? static_cast<int64_t>(random() % static_cast<uint64_t>(options_.max_disorder_ms))
          : 0;
  // Shifted by the largest disorder, so that no event is dated before start_ms.
  v.timestamp = options_.start_ms + options_.max_disorder_ms +
                i * 1000 / options_.events_per_second - disorder;
  return v;
}

bool is_bot(const PageView& v) { return v.user_agent.find("bot") != std::string::npos; }

Result<operators::Topology> page_views_topology() {
  using namespace std::chrono_literals;
  dsl::TopologyBuilder b;
  b.stream<std::string, PageView>(kPageViewsTopic)
      .filter_not([](const std::string&, const PageView& v) { return is_bot(v); })
      .named("drop-bots")
      .select_key([](const std::string&, const PageView& v) { return v.page; })
      .named("by-page")
      .group_by_key()
      .windowed_by(dsl::TumblingWindows::of(1min).grace(std::chrono::milliseconds(kGraceMs)))
      .count(kViewsPerPageStore)
      .to_stream()
      .to(kViewsPerPageTopic);
  return b.build();
}

ViewsPerPage count_views(const std::vector<PageView>& events) {
  ViewsPerPage out;
  for (const PageView& v : events) {
    if (is_bot(v)) continue;
    ++out[{v.timestamp / kWindowMs * kWindowMs, v.page}];
  }
  return out;
}

std::vector<std::pair<int64_t, std::vector<std::pair<std::string, int64_t>>>> top_pages(
    const ViewsPerPage& counts, size_t n) {
  std::map<int64_t, std::vector<std::pair<std::string, int64_t>>> by_window;
  for (const auto& [k, c] : counts) by_window[k.first].emplace_back(k.second, c);
  std::vector<std::pair<int64_t, std::vector<std::pair<std::string, int64_t>>>> out;
  for (auto& [window, pages] : by_window) {
    std::sort(pages.begin(), pages.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (pages.size() > n) pages.resize(n);
    out.emplace_back(window, std::move(pages));
  }
  return out;
}

}  // namespace sluice::samples

#include "sluice/samples/catalog.h"

#include "sluice/samples/ad_clicks.h"
#include "sluice/samples/host_metrics.h"
#include "sluice/samples/nexmark.h"
#include "sluice/samples/page_views.h"
#include "sluice/samples/sessions.h"
#include "sluice/samples/yahoo.h"

namespace sluice::samples {

namespace {

Result<int32_t> partitions(const dsl::JobConfig& config) {
  SLUICE_ASSIGN_OR_RETURN(int64_t n, config.get_int("partitions", 4));
  if (n < 1 || n > 1024) {
    return invalid_argument("config partitions=" + std::to_string(n) + " must be 1 to 1024");
  }
  return static_cast<int32_t>(n);
}

Status check_keys(const dsl::JobConfig& config) {
  for (const auto& [key, value] : config.values()) {
    if (key != "partitions") {
      return invalid_argument("unknown config key '" + key + "' (this sample takes partitions)");
    }
  }
  return Status();
}

}  // namespace

Result<dsl::JobDefinition> page_views_job(const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, page_views_topology());
  return dsl::JobDefinition{.topology = std::move(topology),
                            .topics = {{kPageViewsTopic, n}, {kViewsPerPageTopic, n}}};
}

Result<dsl::JobDefinition> sessions_job(const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, sessions_topology());
  return dsl::JobDefinition{.topology = std::move(topology),
                            .topics = {{kActivityTopic, n}, {kSessionsTopic, n}}};
}

Result<dsl::JobDefinition> ad_clicks_job(const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, ad_clicks_topology());
  return dsl::JobDefinition{
      .topology = std::move(topology),
      .topics = {{kImpressionsTopic, n}, {kClicksTopic, n}, {kCampaignCtrTopic, n}}};
}

Result<dsl::JobDefinition> yahoo_job(const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, yahoo_topology());
  return dsl::JobDefinition{
      .topology = std::move(topology),
      .topics = {{kYahooEventsTopic, n}, {kYahooCampaignsTopic, 1}, {kYahooCountsTopic, n}}};
}

Result<dsl::JobDefinition> host_alerts_job(const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, host_alerts_topology());
  return dsl::JobDefinition{.topology = std::move(topology),
                            .topics = {{kHostMetricsTopic, n}, {kAlertsTopic, n}}};
}

Result<dsl::JobDefinition> nexmark_job(int query, const dsl::JobConfig& config) {
  SLUICE_RETURN_IF_ERROR(check_keys(config));
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(config));
  SLUICE_ASSIGN_OR_RETURN(auto topology, nexmark_topology(query));
  return dsl::JobDefinition{
      .topology = std::move(topology),
      .topics = {
          {kPersonTopic, n}, {kAuctionTopic, n}, {kBidTopic, n}, {nexmark_output(query), n}}};
}

template <int Query>
Result<dsl::JobDefinition> nexmark_query_job(const dsl::JobConfig& config) {
  return nexmark_job(Query, config);
}

const std::vector<SampleJob>& sample_jobs() {
  static const std::vector<SampleJob> jobs = {
      {"page-views",
       "views per page per 1-minute tumbling window, bots filtered out (page-views -> "
       "page-views-per-minute)",
       &page_views_job},
      {"sessions",
       "user sessions with a 30-minute inactivity gap: length and events per session (activity "
       "-> user-sessions)",
       &sessions_job},
      {"ad-clicks",
       "clicks joined to their impression within 10 minutes, click-through rate per campaign "
       "per 5 minutes (ad-impressions, ad-clicks -> campaign-ctr)",
       &ad_clicks_job},
      {"yahoo",
       "the Yahoo Streaming Benchmark: ad views joined to campaigns (a global table), counted "
       "per campaign per 10 seconds (ysb-events, ysb-ad-campaigns -> ysb-campaign-counts)",
       &yahoo_job},
      {"host-alerts",
       "1-minute hopping averages of host metrics, an alert after 3 windows over the threshold "
       "in a row (host-metrics -> host-alerts)",
       &host_alerts_job},
      {"nexmark-q0", "Nexmark q0: every bid, passed through", &nexmark_query_job<0>},
      {"nexmark-q1", "Nexmark q1: bids with prices in euros", &nexmark_query_job<1>},
      {"nexmark-q2", "Nexmark q2: bids on every 123rd auction", &nexmark_query_job<2>},
      {"nexmark-q3", "Nexmark q3: local sellers of category 10", &nexmark_query_job<3>},
      {"nexmark-q4", "Nexmark q4: the average closing price per category", &nexmark_query_job<4>},
      {"nexmark-q5", "Nexmark q5: the auction with the most bids per sliding window",
       &nexmark_query_job<5>},
      {"nexmark-q6", "Nexmark q6: the average selling price of each seller's last 10 auctions",
       &nexmark_query_job<6>},
      {"nexmark-q7", "Nexmark q7: the highest bid per 10 seconds", &nexmark_query_job<7>},
      {"nexmark-q8", "Nexmark q8: people who opened an auction in the window they joined",
       &nexmark_query_job<8>},
  };
  return jobs;
}

const SampleJob* find_sample(std::string_view name) {
  for (const SampleJob& job : sample_jobs()) {
    if (job.name == name) return &job;
  }
  return nullptr;
}

}  // namespace sluice::samples

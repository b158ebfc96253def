// `make demo`: the page-view sample end to end on the embedded log (sluice/samples/demo.h).
// Generates page views, runs the job (drop bots, re-key by page, count per 1-minute window) on
// the runtime with exactly-once commits, checks its output against an independent count of the
// same events, and prints the top pages of each minute and the throughput.
#include <CLI/CLI.hpp>

#include "sluice/samples/demo.h"

int main(int argc, char** argv) {
  CLI::App app{
      "The page-view sample on Sluice's embedded log: views per page per minute, bots "
      "filtered out, top pages of each minute. (`sluice demo sessions` runs the other sample.)"};
  sluice::samples::DemoOptions options;
  options.events = 3'000'000;
  app.add_option("--events", options.events, "Page views to generate")->capture_default_str();
  app.add_option("--seed", options.seed, "Generator seed")->capture_default_str();
  app.add_option("--threads", options.threads, "Stream threads")->capture_default_str();
  app.add_option("--top", options.top, "Pages shown per minute")->capture_default_str();
  app.add_option("--data-dir", options.data_dir,
                 "Where the log and state go (default: a temporary directory, removed at the end)");
  app.add_flag("--keep", options.keep, "Keep the temporary directory");
  CLI11_PARSE(app, argc, argv);
  return sluice::samples::run_demo(options);
}

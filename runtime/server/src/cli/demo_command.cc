// `sluice demo [name]`: a sample end to end on an embedded log, no server needed.
#include "cli/cli_common.h"
#include "sluice/samples/demo.h"

namespace sluice::cli {

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<samples::DemoOptions>();
  std::string names;
  for (const auto& n : samples::demo_names()) names += (names.empty() ? "" : ", ") + n;
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run a sample job end to end on an embedded log (no server): generate its events, run\n"
      "the job exactly-once, check the output against an independent oracle, print a summary.\n"
      "Samples: " +
          names + ". `sluice job submit --sample NAME` runs one in a server.");
  cmd->add_option("name", options->sample, "Sample to run")->capture_default_str();
  cmd->add_option("--events", options->events, "Events to generate (default: the sample's)");
  cmd->add_option("--seed", options->seed, "Generator seed")->capture_default_str();
  cmd->add_option("--threads", options->threads, "Stream threads")->capture_default_str();
  cmd->add_option("--top", options->top, "Rows shown per window")->capture_default_str();
  cmd->add_option("--data-dir", options->data_dir,
                  "Where the log and state go (default: a temporary directory, removed after)");
  cmd->add_flag("--keep", options->keep, "Keep the temporary directory");
  cmd->callback([options] { exit_code() = samples::run_demo(*options); });
}

}  // namespace sluice::cli

// sluice: the one binary. `sluice serve` runs the server; every other subcommand is a client
// of it over gRPC. See `sluice --help` and `sluice <command> --help`.
#include <CLI/CLI.hpp>

#include "cli/cli_common.h"
#include "sluice/base/allocator.h"

int main(int argc, char** argv) {
  sluice::tune_allocator_for_large_buffers();
  CLI::App app{
      "Sluice: a stream processing runtime with its own durable, partitioned log.\n"
      "Run a server with `sluice serve`; the other commands talk to it (default 127.0.0.1:7070)."};
  app.name("sluice");
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  sluice::cli::add_serve_command(app);
  sluice::cli::add_topic_command(app);
  sluice::cli::add_produce_command(app);
  sluice::cli::add_consume_command(app);
  sluice::cli::add_group_command(app);
  sluice::cli::add_job_command(app);
  sluice::cli::add_demo_command(app);
  sluice::cli::add_bench_command(app);
  sluice::cli::add_run_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return sluice::cli::exit_code();
}

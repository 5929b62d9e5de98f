// `vitq merge-stats A.json B.json ... -o ALL.json`: combine the statistics of calibration shards.
#include <iostream>

#include "calib/stats_merge.h"
#include "vitq/commands.h"
#include "vitq/paths.h"

namespace vitq::cli {
namespace {

struct Options {
  std::vector<std::string> inputs;
  std::string output;
};

Status runMergeStats(const Options& o) {
  std::vector<NamedPath> inputs;
  for (const std::string& path : o.inputs) inputs.push_back({"one of the inputs", path});
  VITQ_RETURN_IF_ERROR(checkOutputs(inputs, {{"-o", o.output}}));
  std::vector<CalibrationStats> parts;
  for (const std::string& path : o.inputs) {
    VITQ_ASSIGN_OR_RETURN(CalibrationStats part, readStatsFile(path));
    parts.push_back(std::move(part));
  }
  VITQ_ASSIGN_OR_RETURN(CalibrationStats merged, mergeStats(parts, o.inputs));
  VITQ_RETURN_IF_ERROR(writeStatsFile(merged, o.output));
  std::cout << "vitq merge-stats: " << parts.size() << " files, " << merged.shards.size() << " of "
            << merged.shards.front().count << " shards, " << merged.samples() << " samples -> " << o.output << "\n";
  return Status::ok();
}

}  // namespace

void addMergeStatsCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("merge-stats", "Merge the statistics files of calibration shards");
  cmd->add_option("inputs", o->inputs, "Statistics files written by vitq calibrate --shard")->required();
  cmd->add_option("-o,--output", o->output, "Merged statistics file to write")->required();
  cmd->callback([o, &action] {
    action = [o]() { return runMergeStats(*o); };
  });
}

}  // namespace vitq::cli

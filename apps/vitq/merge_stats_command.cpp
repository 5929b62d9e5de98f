// `vitq merge-stats A.json B.json ... -o ALL.json`: combine the statistics of calibration shards.
#include <iostream>

#include "calib/stats_merge.h"
#include "vitq/commands.h"
#include "onnx_io/atomic_file.h"

namespace vitq::cli {
namespace {

struct Options {
  std::vector<std::string> inputs;
  std::string output;
};

Status runMergeStats(const Options& o) {
  VITQ_RETURN_IF_ERROR(checkDestinationFolder(o.output));
  std::vector<CalibrationStats> parts;
  for (const std::string& path : o.inputs) {
    std::error_code ec;
    if (std::filesystem::exists(o.output, ec) && std::filesystem::equivalent(path, o.output, ec)) {
      return invalidArgument("output '" + o.output + "' is one of the inputs; vitq never overwrites its input");
    }
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

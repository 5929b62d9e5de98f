// `vitq merge-stats A.json B.json ... -o ALL.json`: combine the statistics of calibration shards.
// An input may also be a folder (its *.json files) or a quoted glob, as a job array's shards land.
#include <glob.h>

#include <algorithm>
#include <filesystem>
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

bool hasGlobCharacters(const std::string& text) { return text.find_first_of("*?[") != std::string::npos; }

// The files one argument names: itself, a folder's *.json files (the output left out, so a rerun
// into the same folder does not merge its last result), or what a glob matches; sorted by name.
StatusOr<std::vector<std::string>> expandInput(const std::string& arg, const std::string& output) {
  namespace fs = std::filesystem;
  const auto is_output = [&output](const fs::path& path) {
    std::error_code ignored;  // an output that does not exist yet is no input
    return fs::equivalent(path, output, ignored);
  };
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(arg, ec)) {
    for (const auto& entry : fs::directory_iterator(arg, ec)) {
      if (entry.path().extension() == ".json" && !is_output(entry.path())) {
        files.push_back(entry.path().string());
      }
    }
    if (ec) return invalidArgument("merge-stats: cannot list the folder '" + arg + "': " + ec.message());
    if (files.empty()) return invalidArgument("merge-stats: the folder '" + arg + "' holds no .json statistics files");
  } else if (!fs::exists(arg, ec) && hasGlobCharacters(arg)) {
    glob_t matched{};
    const int rc = glob(arg.c_str(), 0, nullptr, &matched);
    for (size_t i = 0; rc == 0 && i < matched.gl_pathc; ++i) {
      if (!is_output(matched.gl_pathv[i])) files.emplace_back(matched.gl_pathv[i]);
    }
    globfree(&matched);
    if (files.empty()) return invalidArgument("merge-stats: the pattern '" + arg + "' matches no file");
  } else {
    return std::vector<std::string>{arg};
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status runMergeStats(const Options& o) {
  std::vector<std::string> paths;
  for (const std::string& arg : o.inputs) {
    VITQ_ASSIGN_OR_RETURN(std::vector<std::string> files, expandInput(arg, o.output));
    paths.insert(paths.end(), files.begin(), files.end());
  }
  std::vector<NamedPath> inputs;
  for (const std::string& path : paths) inputs.push_back({"one of the inputs", path});
  VITQ_RETURN_IF_ERROR(checkOutputs(inputs, {{"-o", o.output}}));
  std::vector<CalibrationStats> parts;
  for (const std::string& path : paths) {
    VITQ_ASSIGN_OR_RETURN(CalibrationStats part, readStatsFile(path));
    parts.push_back(std::move(part));
  }
  VITQ_ASSIGN_OR_RETURN(CalibrationStats merged, mergeStats(parts, paths));
  VITQ_RETURN_IF_ERROR(writeStatsFile(merged, o.output));
  std::cout << "vitq merge-stats: " << parts.size() << " files, " << merged.shards.size() << " of "
            << merged.shards.front().count << " shards, " << merged.samples() << " samples -> " << o.output << "\n";
  return Status::ok();
}

}  // namespace

void addMergeStatsCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("merge-stats", "Merge the statistics files of calibration shards");
  cmd->add_option("inputs", o->inputs,
                  "Statistics files written by vitq calibrate --shard; a folder (its *.json files) or a quoted "
                  "glob ('stats/shard-*.json') names all it holds")
      ->required();
  cmd->add_option("-o,--output", o->output, "Merged statistics file to write")->required();
  cmd->callback([o, &action] {
    action = [o]() { return runMergeStats(*o); };
  });
}

}  // namespace vitq::cli

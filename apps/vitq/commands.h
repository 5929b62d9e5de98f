// Each subcommand lives in its own file and registers itself on the root app. The parsed
// subcommand leaves its action in `CommandAction`; main runs it and maps the Status to an exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "core/status.h"

namespace vitq::cli {

using CommandAction = std::function<Status()>;

void addConvertCommand(CLI::App& app, CommandAction& action);
void addInspectCommand(CLI::App& app, CommandAction& action);
void addRunCommand(CLI::App& app, CommandAction& action);
void addBenchCommand(CLI::App& app, CommandAction& action);
void addQuantizeCommand(CLI::App& app, CommandAction& action);
void addSensitivityCommand(CLI::App& app, CommandAction& action);
void addReportCommand(CLI::App& app, CommandAction& action);
void addPassesCommand(CLI::App& app, CommandAction& action);
void addCalibrateCommand(CLI::App& app, CommandAction& action);
void addMergeStatsCommand(CLI::App& app, CommandAction& action);

}  // namespace vitq::cli

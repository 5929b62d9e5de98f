// vitq: post-training quantization of ONNX models. Parses global flags, dispatches to the
// subcommand, and turns its Status into an exit code (0 ok, 1 internal, 2 bad input, 3 gate).
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "core/logging.h"
#include "core/progress.h"
#include "ir/memory_limit.h"
#include "onnx_io/atomic_file.h"
#include "vitq/commands.h"
#include "vitq/config_file_check.h"
#include "vitq/exit_codes.h"

int main(int argc, char** argv) {
  using namespace vitq;
  CLI::App app{"vitq: post-training quantization for vision transformers and other ONNX models"};
  app.set_version_flag("--version", std::string("vitq ") + VITQ_VERSION);
  app.require_subcommand(1);
  // Options from a TOML file, one [subcommand] table each (docs/config.md); keys it does not know
  // are errors, so that a typo in a CI recipe fails loudly. Subcommands pass options they do not
  // know up to here, so --config and -q may also follow the subcommand.
  app.set_config("--config", "", "Read options from a TOML file: [quantize] recipe = \"repq-vit\" ... (docs/config.md)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.fallthrough();
  // Added after --config: the error handler below relies on --config being checked before them.
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (repeat for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");

  // Every option's --help line shows its default (subcommands inherit this when they are added).
  app.option_defaults()->always_capture_default();
  cli::CommandAction action;
  cli::addConvertCommand(app, action);
  cli::addInspectCommand(app, action);
  cli::addRunCommand(app, action);
  cli::addBenchCommand(app, action);
  cli::addCalibrateCommand(app, action);
  cli::addMergeStatsCommand(app, action);
  cli::addQuantizeCommand(app, action);
  cli::addSensitivityCommand(app, action);
  cli::addReportCommand(app, action);
  cli::addPassesCommand(app, action);

  // Before CLI11 reads them: it would read a device forever and misread some files silently.
  const cli::FlagLookup is_flag = [&app](const std::string& table, const std::string& key) {
    const CLI::App* scope = table.empty() ? &app : nullptr;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == table) scope = sub;
    }
    const CLI::Option* option = scope ? scope->get_option_no_throw("--" + key) : nullptr;
    return option != nullptr && option->get_expected_min() == 0;
  };
  for (const std::string& file : cli::configFilesInArgs(argc, argv)) {
    const Status checked = cli::checkConfigFile(file, is_flag);
    if (!checked.isOk()) {
      std::fprintf(stderr, "vitq: error: %s\n", checked.message().c_str());
      return cli::exitCodeFor(checked);
    }
    protectInput(file, "the config file");  // no output may replace it
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const CLI::Option* config = app.get_config_ptr();
    const bool file_error = dynamic_cast<const CLI::ConfigError*>(&e) || dynamic_cast<const CLI::FileError*>(&e);
    const bool value_error =
        dynamic_cast<const CLI::ValidationError*>(&e) || dynamic_cast<const CLI::ConversionError*>(&e);
    // CLI11 checks each value of the file as it applies the file, before it checks any option of
    // the command line, and --config is the first of those (only help and version come before it):
    // a value error raised while --config is still unchecked is about a value from the file.
    const bool file_value_error = value_error && config->count() > 0 && !config->get_callback_run();
    const std::string where =
        file_error || file_value_error ? "config file '" + config->as<std::string>() + "': " : "";
    // "vitq nosuch ..." reaches here as "a subcommand is required": name the word it did not know.
    if (app.get_subcommands().empty()) {
      for (const std::string& word : app.remaining()) {
        if (word.empty() || word[0] == '-') continue;
        std::string names;
        for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
          names += (names.empty() ? "" : ", ") + sub->get_name();
        }
        std::fprintf(stderr, "vitq: error: unknown subcommand '%s' (the subcommands: %s)\n", word.c_str(),
                     names.c_str());
        return cli::kExitBadInput;
      }
    }
    std::fprintf(stderr, "vitq: error: %s%s\nRun 'vitq --help' for usage.\n", where.c_str(), e.what());
    return cli::kExitBadInput;
  }

  setProgressAllowed(!quiet);
  setLogLevel(quiet ? spdlog::level::err
              : verbosity >= 2 ? spdlog::level::debug
              : verbosity == 1 ? spdlog::level::info
                               : spdlog::level::warn);
  try {
    const Status status = action ? action() : internalError("no subcommand action");
    if (!status.isOk()) std::fprintf(stderr, "vitq: error: %s\n", status.message().c_str());
    return cli::exitCodeFor(status);
  } catch (const TensorTooLarge& e) {  // a size the model or data asked for, outside a kernel
    std::fprintf(stderr, "vitq: error: a tensor %s\n", e.what());
    return cli::kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vitq: error: out of memory\n");
    return cli::kExitInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vitq: internal error: %s\n", e.what());
    return cli::kExitInternal;
  }
}

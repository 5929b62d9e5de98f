// Checks on a --config file made before CLI11 reads it (docs/config.md). CLI11's reader takes any
// path and fills its gaps silently: it reads a device such as /dev/zero forever, lets an array that
// is never closed swallow the keys after it, and keeps the first of two tables (or keys) of the
// same name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace vitq::cli {

/// A TOML file of options is a few KiB; anything near this is not one.
constexpr std::uintmax_t kMaxConfigFileBytes = std::uintmax_t{1} << 20;

/// The files given with --config (both "--config F" and "--config=F"), before or after the
/// subcommand; the arguments after "--" are positional and not looked at.
std::vector<std::string> configFilesInArgs(int argc, const char* const* argv);

/// Whether \p key of \p table ("" for the top level) is a flag: an option that takes no value on
/// the command line.
using FlagLookup = std::function<bool(const std::string& table, const std::string& key)>;

/// Refuses a config file that is not a regular file, is larger than kMaxConfigFileBytes, or that
/// CLI11 would misread: an array not closed before the next key or table, a table or a key in one
/// table given twice, a comment inside a multi-line array or after a table name, a '#' inside a
/// quoted value; and, where \p is_flag says a key is a flag, a value other than true, false or a
/// count (CLI11 converts flag values after the whole command line, where its error could not name
/// the file). A file that cannot be opened passes, for CLI11 to report as it does. Messages start
/// with "config file 'PATH'".
Status checkConfigFile(const std::string& path, const FlagLookup& is_flag = {});

}  // namespace vitq::cli

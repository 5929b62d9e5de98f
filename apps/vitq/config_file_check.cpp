#include "vitq/config_file_check.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/text.h"

namespace vitq::cli {

namespace {

/// A line as quoted in a message: long ones shortened, so that the message stays one line.
std::string shown(const std::string& line) {
  constexpr std::size_t kMaxShown = 60;
  return line.size() <= kMaxShown ? line : line.substr(0, kMaxShown) + "...";
}

Status tooLarge(const std::string& path, std::uintmax_t bytes) {
  // Rounded up, so that a file just over the limit does not read as "1.0 MiB, larger than 1 MiB".
  const double mib = std::ceil(static_cast<double>(bytes) * 10.0 / static_cast<double>(std::uintmax_t{1} << 20)) / 10.0;
  char size[32];
  std::snprintf(size, sizeof size, "%.1f MiB", mib);
  return invalidArgument("config file '" + path + "': " + size + ", larger than the " +
                         std::to_string(kMaxConfigFileBytes >> 20) + " MiB a config file may have");
}

/// Where the quotes of a TOML line leave its '#' and '='.
struct QuoteScan {
  std::size_t comment = std::string::npos;  // the first '#' outside quotes
  std::size_t equals = std::string::npos;   // the first '=' outside quotes
  bool hash_in_quotes = false;              // a '#' inside a quoted string before the comment
};

QuoteScan scanQuotes(const std::string& text) {
  QuoteScan scan;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;  // an escaped character, "\"" included
      } else if (c == quote) {
        quote = 0;
      } else if (c == '#') {
        scan.hash_in_quotes = true;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      scan.comment = i;
      break;
    } else if (c == '=' && scan.equals == std::string::npos) {
      scan.equals = i;
    }
  }
  return scan;
}

/// CLI11's test for a table line: the whole trimmed line in brackets, a trailing comment not allowed.
bool isTableLine(const std::string& line) { return line.size() >= 3 && line.front() == '[' && line.back() == ']'; }

/// "[quantize]" or "[[quantize]]" -> "quantize".
std::string tableName(const std::string& line) {
  std::string name = line.substr(1, line.size() - 2);
  if (name.size() > 1 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  return trimmed(name);
}

/// Whether a line inside an open array starts something else: a table or "key = ..." (an '='
/// inside a quoted element such as "a=b" does not count).
bool startsNewEntry(const std::string& line, const QuoteScan& scan) {
  const std::string code = trimmed(line.substr(0, scan.comment));
  if (isTableLine(code) && code.find_first_of("\"',") == std::string::npos) return true;
  if (scan.equals == std::string::npos) return false;
  const std::string key = trimmed(line.substr(0, scan.equals));
  if (key.empty()) return false;
  if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front()) return true;
  for (const char c : key) {
    const bool bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
    if (!bare) return false;
  }
  return true;
}

/// A flag's value: a TOML boolean, or a count for the flags that count (-v).
bool isFlagValue(std::string value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  if (value == "true" || value == "false") return true;
  return !value.empty() && value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos;
}

/// The scan itself. It follows CLI11's reader (ConfigBase::from_config) where that reader differs
/// from TOML: on a key's line everything from the first '#' is a comment, quotes or not; an array
/// goes on until a line that ends with ']', and the lines on the way are taken whole, comments too.
Status checkConfigText(const std::string& path, const std::string& text, const FlagLookup& is_flag) {
  const std::string file = "config file '" + path + "'";
  std::map<std::string, int> table_lines;
  std::string table;                    // "" before the first table
  std::map<std::string, int> key_lines;  // of the current table
  std::string open_array;                // the key whose array is not closed yet
  int open_array_line = 0;
  std::istringstream lines(text);
  std::string raw;
  for (int number = 1; std::getline(lines, raw); ++number) {
    const std::string line = trimmed(raw);
    const std::string at = file + " line " + std::to_string(number) + ": ";
    if (!open_array.empty()) {
      if (line.empty()) continue;
      const QuoteScan scan = scanQuotes(line);
      if (startsNewEntry(line, scan)) {
        return invalidArgument(file + " line " + std::to_string(open_array_line) + ": the array of '" + open_array +
                               "' is not closed before line " + std::to_string(number) + " ('" + shown(line) + "')");
      }
      if (scan.comment != std::string::npos) {
        return invalidArgument(at + "a comment in the multi-line array of '" + open_array + "' (from line " +
                               std::to_string(open_array_line) +
                               ") would be read as part of its values; put it on a line of its own, before or "
                               "after the array");
      }
      if (line.back() == ']') open_array.clear();
      continue;
    }
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (isTableLine(line)) {
      table = tableName(line);
      const auto [first, inserted] = table_lines.emplace(table, number);
      if (!inserted) {
        return invalidArgument(at + "table [" + table + "] appears twice (first at line " +
                               std::to_string(first->second) + ")");
      }
      key_lines.clear();
      continue;
    }
    if (line.front() == '[') {
      // CLI11 would take "[quantize]  # comment" for a key named after the whole line.
      const std::string code = trimmed(line.substr(0, scanQuotes(line).comment));
      if (isTableLine(code)) {
        return invalidArgument(at + "a comment after the table name " + code +
                               " is not allowed; put it on a line of its own");
      }
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos) continue;  // not a key line: CLI11 reports what it makes of it
    std::string key = trimmed(line.substr(0, equals));
    if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front()) {
      key = key.substr(1, key.size() - 2);
    }
    // CLI11 joins a key repeated on the next line and ignores one repeated further down.
    const auto [first_key, new_key] = key_lines.emplace(key, number);
    if (!new_key) {
      const std::string where = table.empty() ? "the top level" : "[" + table + "]";
      return invalidArgument(at + "key '" + key + "' appears twice in " + where + " (first at line " +
                             std::to_string(first_key->second) + ")");
    }
    const std::string value = line.substr(equals + 1);
    const QuoteScan scan = scanQuotes(value);
    if (scan.hash_in_quotes) {
      return invalidArgument(at + "a '#' inside quotes would start a comment and cut the value ('" + shown(line) +
                             "')");
    }
    const std::string kept = trimmed(value.substr(0, scan.comment));
    if (is_flag) {
      // A dotted key at the top level ("quantize.wbits") belongs to the table before its last dot.
      const std::size_t dot = table.empty() ? key.rfind('.') : std::string::npos;
      const bool flag = dot == std::string::npos ? is_flag(table, key) : is_flag(key.substr(0, dot), key.substr(dot + 1));
      if (flag && !isFlagValue(kept)) {
        return invalidArgument(at + "'" + key + "' is a flag: its value is true or false, not '" + shown(kept) + "'");
      }
    }
    if (kept.size() > 1 && kept.front() == '[' && kept.back() != ']') {
      open_array = key;
      open_array_line = number;
    }
  }
  if (!open_array.empty()) {
    return invalidArgument(file + " line " + std::to_string(open_array_line) + ": the array of '" + open_array +
                           "' is not closed at the end of the file");
  }
  return Status::ok();
}

}  // namespace

std::vector<std::string> configFilesInArgs(int argc, const char* const* argv) {
  const std::string flag = "--config";
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == flag && i + 1 < argc) {
      files.emplace_back(argv[++i]);
    } else if (arg.rfind(flag + "=", 0) == 0) {
      files.push_back(arg.substr(flag.size() + 1));
    }
  }
  return files;
}

Status checkConfigFile(const std::string& path, const FlagLookup& is_flag) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) return Status::ok();  // CLI11 says "F was not readable"
  // Checked before opening: reading a device or a FIFO may never end.
  if (!fs::is_regular_file(status)) return invalidArgument("config file '" + path + "': not a regular file");
  const std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > kMaxConfigFileBytes) return tooLarge(path, size);

  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ok();
  // Bounded even here: a file that grew after the size check, or one that reports size 0 (/proc).
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) return tooLarge(path, text.size());
  return checkConfigText(path, text, is_flag);
}

}  // namespace vitq::cli

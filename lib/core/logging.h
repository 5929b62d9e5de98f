// Named spdlog loggers ("vitq.import", "vitq.exec", ...), all writing to stderr so that stdout
// stays clean for a command's real output (JSON, tables).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace vitq {

/// Returns the logger called \p name, creating it on first use with the global level.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

/// Sets the level of every vitq logger, present and future.
void setLogLevel(spdlog::level::level_enum level);

}  // namespace vitq

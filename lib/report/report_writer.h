// Writes a report in the format its path's extension names (.json, .md, .html), atomically.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/status.h"

namespace vitq {

/// Refuses a path whose extension names no report format (checked before any long work).
Status checkReportPath(const std::string& path);

Status writeReportFile(const nlohmann::json& report, const std::string& path);

}  // namespace vitq

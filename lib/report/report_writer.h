// Writes a report in the format its path's extension names (.json, .md), atomically.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/status.h"

namespace vitq {

Status writeReportFile(const nlohmann::json& report, const std::string& path);

}  // namespace vitq

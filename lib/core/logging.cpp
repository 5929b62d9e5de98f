#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace vitq {
namespace {

std::mutex& registryMutex() {
  static std::mutex m;
  return m;
}

spdlog::level::level_enum& globalLevel() {
  static spdlog::level::level_enum level = spdlog::level::warn;
  return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  std::lock_guard<std::mutex> lock(registryMutex());
  if (auto existing = spdlog::get(name)) return existing;
  auto created = spdlog::stderr_color_mt(name);
  created->set_level(globalLevel());
  created->set_pattern("[%n] %^%l%$: %v");
  return created;
}

void setLogLevel(spdlog::level::level_enum level) {
  std::lock_guard<std::mutex> lock(registryMutex());
  globalLevel() = level;
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

}  // namespace vitq

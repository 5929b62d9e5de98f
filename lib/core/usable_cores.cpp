#include "core/usable_cores.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace vitq {
namespace {

std::optional<std::string> firstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// The process's cgroup v2 path ("0::/kubepods/pod.../ctr" -> that path; "/" inside a namespace).
std::string cgroupV2Path() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

std::optional<int> cgroupQuotaCores() {
  for (const std::string& dir : {"/sys/fs/cgroup" + cgroupV2Path(), std::string("/sys/fs/cgroup")}) {
    if (auto text = firstLine(dir + "/cpu.max")) return coresFromCpuMax(*text);
  }
  auto quota = firstLine("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  auto period = firstLine("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (!quota || !period) return std::nullopt;
  try {
    return coresFromCfsQuota(std::stoll(*quota), std::stoll(*period));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int affinityCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

std::optional<int> coresFromCfsQuota(long long quota_us, long long period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  return static_cast<int>(std::max(1LL, (quota_us + period_us - 1) / period_us));
}

std::optional<int> coresFromCpuMax(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  long long period = 100000;
  if (!(in >> quota) || quota == "max") return std::nullopt;
  in >> period;
  try {
    size_t used = 0;
    const long long q = std::stoll(quota, &used);
    if (used != quota.size()) return std::nullopt;
    return coresFromCfsQuota(q, period);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int usableCores() {
  int cores = affinityCores();
  if (auto quota = cgroupQuotaCores()) cores = std::min(cores, *quota);
  return std::max(1, cores);
}

}  // namespace vitq

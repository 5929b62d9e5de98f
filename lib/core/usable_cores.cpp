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

// The process's cgroup path in the hierarchy whose controller list contains \p controller
// ("" for cgroup v2's unified hierarchy, line "0::/path"): "/" inside a namespace.
std::string cgroupPath(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool match = controller.empty() ? controllers.empty()
                                          : ("," + controllers + ",").find("," + controller + ",") != std::string::npos;
    if (match) return line.substr(second + 1);
  }
  return "/";
}

// The smallest quota on the way from the process's cgroup up to the root: a limit set on a parent
// (a systemd slice, the outer container of a nested one) binds the children too.
std::optional<int> cgroupQuotaCores() {
  std::optional<int> least;
  const auto take = [&least](std::optional<int> cores) {
    if (cores && (!least || *cores < *least)) least = cores;
  };
  const auto parents = [](std::string path, const auto& visit) {
    while (true) {
      visit(path);
      if (path.empty() || path == "/") return;
      path = path.substr(0, path.find_last_of('/'));
    }
  };
  parents(cgroupPath(""), [&](const std::string& path) {
    if (auto text = firstLine("/sys/fs/cgroup" + path + "/cpu.max")) take(coresFromCpuMax(*text));
  });
  parents(cgroupPath("cpu"), [&](const std::string& path) {
    for (const std::string root : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
      auto quota = firstLine(root + path + "/cpu.cfs_quota_us");
      auto period = firstLine(root + path + "/cpu.cfs_period_us");
      if (!quota || !period) continue;
      try {
        take(coresFromCfsQuota(std::stoll(*quota), std::stoll(*period)));
      } catch (const std::exception&) {
      }
      break;
    }
  });
  return least;
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
  // Read once per process: every subcommand's --threads asks at start-up.
  static const int cores = [] {
    int n = affinityCores();
    if (auto quota = cgroupQuotaCores()) n = std::min(n, *quota);
    return std::max(1, n);
  }();
  return cores;
}

}  // namespace vitq

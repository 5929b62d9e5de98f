// How many cores this process may run on: what `--threads` defaults to. Counts the CPUs of the
// affinity mask (taskset, a container's cpuset, Slurm's binding) and caps them by a CPU quota of
// the process's cgroup (what Kubernetes' and Docker's CPU limits set), since more threads than the
// quota only wait their turn.
#pragma once

#include <optional>
#include <string>

namespace vitq {

/// At least 1; read once per process.
int usableCores();

/// The cores a cgroup v2 `cpu.max` text allows ("150000 100000" -> 2, rounded up); none for "max".
std::optional<int> coresFromCpuMax(const std::string& text);

/// The same for cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (a quota of -1 is no limit).
std::optional<int> coresFromCfsQuota(long long quota_us, long long period_us);

}  // namespace vitq

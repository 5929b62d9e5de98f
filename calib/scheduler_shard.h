// `vitq calibrate --shard auto`: which slice of the calibration samples this process takes, read
// from the batch engine that started it, so a job array needs no glue script. A Slurm job array
// gives SLURM_ARRAY_TASK_ID/MIN/MAX[/STEP/COUNT]; a Kubernetes Indexed Job gives
// JOB_COMPLETION_INDEX, and its completion count comes from --shard-count or VITQ_SHARD_COUNT
// (Kubernetes does not export it).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "core/status.h"

namespace vitq {

struct SchedulerShard {
  size_t index = 0, count = 1;
  std::string source;  // e.g. "Slurm array task 3 (SLURM_ARRAY_TASK_ID=3, MIN=0, MAX=7)"
};

/// Looks up one environment variable; none when it is not set.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process's own environment.
EnvironmentLookup processEnvironment();

/// The shard of this task. \p count_flag is --shard-count: required by a Kubernetes Indexed Job
/// (unless VITQ_SHARD_COUNT is set), checked against a Slurm array's size. Fails, naming the
/// variables, where neither engine's index is set, both are, a value is not a number, or the
/// array's task ids are not one evenly spaced range (--array=0,3,7 has no shard order).
StatusOr<SchedulerShard> shardFromScheduler(const EnvironmentLookup& env, std::optional<size_t> count_flag);

}  // namespace vitq

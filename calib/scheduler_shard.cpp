#include "calib/scheduler_shard.h"

#include <cstdlib>

namespace vitq {
namespace {

constexpr size_t kMaxShards = 1000000;  // as for --shard I/N

// A non-negative integer from the variable \p name, or none when it is not set.
StatusOr<std::optional<size_t>> number(const EnvironmentLookup& env, const std::string& name) {
  const std::optional<std::string> text = env(name);
  if (!text) return std::optional<size_t>();
  // Digits only (stoull would take blanks, a sign and wrap "-1"); at most 9 of them.
  const bool digits = !text->empty() && text->find_first_not_of("0123456789") == std::string::npos;
  if (!digits || text->size() > 9) {
    return invalidArgument("--shard auto: " + name + "='" + *text + "' is not a whole number from 0 to 999999999");
  }
  const unsigned long long value = std::stoull(*text);
  return std::optional<size_t>(static_cast<size_t>(value));
}

StatusOr<size_t> required(const EnvironmentLookup& env, const std::string& name, const std::string& why) {
  VITQ_ASSIGN_OR_RETURN(std::optional<size_t> value, number(env, name));
  if (!value) return invalidArgument("--shard auto: " + name + " is not set, though " + why);
  return *value;
}

StatusOr<SchedulerShard> slurmShard(const EnvironmentLookup& env, std::optional<size_t> count_flag) {
  const std::string why = "SLURM_ARRAY_TASK_ID is (Slurm sets both in every array task)";
  VITQ_ASSIGN_OR_RETURN(std::optional<size_t> id_set, number(env, "SLURM_ARRAY_TASK_ID"));
  const size_t id = id_set.value_or(0);  // set: the caller saw it
  VITQ_ASSIGN_OR_RETURN(size_t min, required(env, "SLURM_ARRAY_TASK_MIN", why));
  VITQ_ASSIGN_OR_RETURN(size_t max, required(env, "SLURM_ARRAY_TASK_MAX", why));
  VITQ_ASSIGN_OR_RETURN(std::optional<size_t> step_set, number(env, "SLURM_ARRAY_TASK_STEP"));
  VITQ_ASSIGN_OR_RETURN(std::optional<size_t> count_set, number(env, "SLURM_ARRAY_TASK_COUNT"));
  const size_t step = step_set.value_or(1);
  const std::string ids = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) + ", MIN=" + std::to_string(min) +
                          ", MAX=" + std::to_string(max) + (step_set ? ", STEP=" + std::to_string(step) : "") +
                          (count_set ? ", COUNT=" + std::to_string(*count_set) : "");
  const size_t range = max >= min && step > 0 ? (max - min) / step + 1 : 0;
  if (range == 0 || id < min || id > max || (id - min) % step != 0 || (count_set && *count_set != range)) {
    return invalidArgument("--shard auto: the Slurm job array's task ids are not one evenly spaced range (" + ids +
                           "); submit it as --array=0-N or --array=A-B:STEP, or give --shard I/N");
  }
  if (range > kMaxShards) {
    return invalidArgument("--shard auto: the Slurm job array has more than " + std::to_string(kMaxShards) + " tasks (" +
                           ids + ")");
  }
  if (count_flag && *count_flag != range) {
    return invalidArgument("--shard-count " + std::to_string(*count_flag) + " disagrees with the Slurm job array's " +
                           std::to_string(range) + " tasks (" + ids + ")");
  }
  return SchedulerShard{(id - min) / step, range, "Slurm array task " + std::to_string(id) + " (" + ids + ")"};
}

StatusOr<SchedulerShard> kubernetesShard(const EnvironmentLookup& env, std::optional<size_t> count_flag) {
  VITQ_ASSIGN_OR_RETURN(std::optional<size_t> index_set, number(env, "JOB_COMPLETION_INDEX"));
  const size_t index = index_set.value_or(0);  // set: the caller saw it
  VITQ_ASSIGN_OR_RETURN(const std::optional<size_t> env_count, number(env, "VITQ_SHARD_COUNT"));
  if (count_flag && env_count && *count_flag != *env_count) {
    return invalidArgument("--shard-count " + std::to_string(*count_flag) + " disagrees with VITQ_SHARD_COUNT=" +
                           std::to_string(*env_count));
  }
  const std::optional<size_t> count = count_flag ? count_flag : env_count;
  const std::string count_from = count_flag ? "--shard-count" : "VITQ_SHARD_COUNT";
  if (!count) {
    return invalidArgument("--shard auto in a Kubernetes Indexed Job (JOB_COMPLETION_INDEX=" + std::to_string(index) +
                           ") needs the number of completions: give --shard-count N or set VITQ_SHARD_COUNT "
                           "(Kubernetes does not export it)");
  }
  if (*count < 1 || *count > kMaxShards || index >= *count) {
    return invalidArgument("--shard auto: JOB_COMPLETION_INDEX=" + std::to_string(index) + " does not fit " +
                           count_from + "=" + std::to_string(*count) + " (the index must be below the count)");
  }
  return SchedulerShard{index, *count,
                        "Kubernetes completion index " + std::to_string(index) + " of " + std::to_string(*count) + " (" +
                            count_from + ")"};
}

}  // namespace

EnvironmentLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

StatusOr<SchedulerShard> shardFromScheduler(const EnvironmentLookup& env, std::optional<size_t> count_flag) {
  const bool slurm = env("SLURM_ARRAY_TASK_ID").has_value();
  const bool kubernetes = env("JOB_COMPLETION_INDEX").has_value();
  if (slurm && kubernetes) {
    return invalidArgument("--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set; which engine "
                           "started this task is unclear: give --shard I/N");
  }
  if (slurm) return slurmShard(env, count_flag);
  if (kubernetes) return kubernetesShard(env, count_flag);
  return invalidArgument("--shard auto: no batch engine's task index in the environment (SLURM_ARRAY_TASK_ID of a "
                         "Slurm job array, JOB_COMPLETION_INDEX of a Kubernetes Indexed Job); outside one, give "
                         "--shard I/N");
}

}  // namespace vitq

#include <catch2/catch.hpp>

#include <map>

#include "calib/scheduler_shard.h"
#include "core/usable_cores.h"

namespace vitq {
namespace {

EnvironmentLookup environment(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string failure(const StatusOr<SchedulerShard>& shard) { return shard.isOk() ? "" : shard.status().message(); }

TEST_CASE("a Slurm job array gives each task its shard", "[shard]") {
  const auto env = [](const char* id) {
    return environment({{"SLURM_ARRAY_TASK_ID", id}, {"SLURM_ARRAY_TASK_MIN", "3"}, {"SLURM_ARRAY_TASK_MAX", "6"},
                        {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_STEP", "1"}});
  };
  for (size_t i = 0; i < 4; ++i) {
    const auto shard = shardFromScheduler(env(std::to_string(3 + i).c_str()), std::nullopt);
    REQUIRE(shard.isOk());
    CHECK(shard->index == i);
    CHECK(shard->count == 4);
    CHECK_THAT(shard->source, Catch::Contains("Slurm array task " + std::to_string(3 + i)));
  }
  SECTION("a stepped array (--array=0-14:5) counts its tasks, not its ids") {
    const auto shard = shardFromScheduler(environment({{"SLURM_ARRAY_TASK_ID", "10"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                                                       {"SLURM_ARRAY_TASK_MAX", "14"}, {"SLURM_ARRAY_TASK_STEP", "5"}}),
                                          std::nullopt);
    REQUIRE(shard.isOk());
    CHECK(shard->index == 2);
    CHECK(shard->count == 3);
  }
  SECTION("--shard-count must agree") {
    CHECK(shardFromScheduler(env("4"), 4)->index == 1);
    CHECK_THAT(failure(shardFromScheduler(env("4"), 5)), Catch::Contains("--shard-count 5 disagrees with the Slurm job "
                                                                         "array's 4 tasks"));
  }
}

TEST_CASE("arrays with no shard order and bad values are refused, naming the variables", "[shard]") {
  // --array=0,3,7: three tasks, ids not evenly spaced.
  CHECK_THAT(failure(shardFromScheduler(environment({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                                                     {"SLURM_ARRAY_TASK_MAX", "7"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}),
                                        std::nullopt)),
             Catch::Contains("not one evenly spaced range (SLURM_ARRAY_TASK_ID=3, MIN=0, MAX=7, COUNT=3)"));
  CHECK_THAT(failure(shardFromScheduler(environment({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"}}),
                                        std::nullopt)),
             Catch::Contains("SLURM_ARRAY_TASK_MAX is not set"));
  for (const char* bad : {"-1", "+2", " 2", "2x", "", "1000000000"}) {
    CHECK_THAT(failure(shardFromScheduler(environment({{"SLURM_ARRAY_TASK_ID", bad}}), std::nullopt)),
               Catch::Contains("SLURM_ARRAY_TASK_ID='" + std::string(bad) + "' is not a whole number from 0 to 999999999"));
  }
  CHECK_THAT(failure(shardFromScheduler(environment({}), std::nullopt)),
             Catch::Contains("no batch engine's task index in the environment"));
  CHECK_THAT(failure(shardFromScheduler(environment({{"SLURM_ARRAY_TASK_ID", "0"}, {"JOB_COMPLETION_INDEX", "0"}}),
                                        std::nullopt)),
             Catch::Contains("both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set"));
}

TEST_CASE("a Kubernetes Indexed Job takes its count from --shard-count or VITQ_SHARD_COUNT", "[shard]") {
  CHECK_THAT(failure(shardFromScheduler(environment({{"JOB_COMPLETION_INDEX", "2"}}), std::nullopt)),
             Catch::Contains("needs the number of completions: give --shard-count N or set VITQ_SHARD_COUNT"));
  const auto flagged = shardFromScheduler(environment({{"JOB_COMPLETION_INDEX", "2"}}), 3);
  REQUIRE(flagged.isOk());
  CHECK((flagged->index == 2 && flagged->count == 3));
  const auto from_env =
      shardFromScheduler(environment({{"JOB_COMPLETION_INDEX", "0"}, {"VITQ_SHARD_COUNT", "8"}}), std::nullopt);
  REQUIRE(from_env.isOk());
  CHECK((from_env->index == 0 && from_env->count == 8));
  CHECK_THAT(failure(shardFromScheduler(environment({{"JOB_COMPLETION_INDEX", "3"}}), 3)),
             Catch::Contains("JOB_COMPLETION_INDEX=3 does not fit --shard-count=3"));
  CHECK_THAT(failure(shardFromScheduler(environment({{"JOB_COMPLETION_INDEX", "1"}, {"VITQ_SHARD_COUNT", "4"}}), 3)),
             Catch::Contains("--shard-count 3 disagrees with VITQ_SHARD_COUNT=4"));
}

TEST_CASE("a cgroup CPU quota caps the default thread count", "[shard]") {
  CHECK_FALSE(coresFromCpuMax("max 100000").has_value());
  CHECK(coresFromCpuMax("200000 100000") == 2);
  CHECK(coresFromCpuMax("150000 100000") == 2);  // 1.5 CPUs: two threads, each busy part of the time
  CHECK(coresFromCpuMax("50000 100000") == 1);
  CHECK_FALSE(coresFromCpuMax("garbage").has_value());
  CHECK_FALSE(coresFromCfsQuota(-1, 100000).has_value());
  CHECK(coresFromCfsQuota(400000, 100000) == 4);
  CHECK(usableCores() >= 1);
}

}  // namespace
}  // namespace vitq

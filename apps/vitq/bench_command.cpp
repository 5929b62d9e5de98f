// `vitq bench MODEL`: latency and throughput of vitq's executor, with warm-up, reporting medians.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "onnx_io/importer.h"
#include "passes/canonicalize/widen_float16.h"
#include "vitq/commands.h"
#include "vitq/feeds.h"
#include "vitq/option_checks.h"

namespace vitq::cli {

void addBenchCommand(CLI::App& app, CommandAction& action) {
  struct Options {
    std::string model;
    std::vector<std::string> inputs;
    std::vector<std::string> shapes;
    int threads = 1;
    int warmup = 3;
    int runs = 20;
    uint64_t seed = 0;
    bool json = false;
    bool profile = false;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("bench", "Time vitq's executor on a model (median of several runs)");
  cmd->add_option("model", opts->model, "ONNX model")->required();
  cmd->add_option("--input", opts->inputs, "NAME=FILE.npy")->allow_extra_args(false);
  cmd->add_option("--shape", opts->shapes, "NAME=d0,d1,... for random inputs")->allow_extra_args(false);
  addThreadsOption(cmd, opts->threads, "Threads for the kernels");
  cmd->add_option("--warmup", opts->warmup, "Untimed runs first (default 3)")->check(CLI::Range(0, 1000));
  cmd->add_option("--runs", opts->runs, "Timed runs (default 20)")->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", opts->seed, "Seed for random inputs")->check(wholeNumber(0));
  cmd->add_flag("--json", opts->json, "Print JSON");
  cmd->add_flag("--profile", opts->profile, "Also print the time spent per op type");
  cmd->callback([opts, &action] {
    action = [opts]() -> Status {
      ImportOptions import;
      import.inline_functions = true;  // model-local functions run as their bodies
      VITQ_ASSIGN_OR_RETURN(Model model, loadModel(opts->model, import));
      widenFloat16(*model.graph);  // a float16 model runs in float32 between casts at its interface
      VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {opts->threads, opts->profile}));
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, loadFeeds(exec, opts->inputs));
      VITQ_RETURN_IF_ERROR(addRandomFeeds(exec, opts->shapes, opts->seed, feeds));
      for (int i = 0; i < opts->warmup; ++i) VITQ_RETURN_IF_ERROR(exec.run(feeds).status());
      exec.resetProfile();  // warm-up runs include one-time JIT and allocation costs
      std::vector<double> ms;
      for (int i = 0; i < opts->runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        VITQ_RETURN_IF_ERROR(exec.run(feeds).status());
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      const double median = ms[ms.size() / 2];
      const int64_t batch = feeds.empty() || feeds.begin()->second.rank() == 0 ? 1 : feeds.begin()->second.dim(0);
      nlohmann::json j{{"model", opts->model}, {"threads", opts->threads}, {"runs", opts->runs},
                       {"median_ms", median}, {"min_ms", ms.front()}, {"p90_ms", ms[ms.size() * 9 / 10]},
                       {"samples_per_s", 1000.0 * static_cast<double>(batch) / median}};
      if (opts->profile) {
        nlohmann::json by_op = nlohmann::json::array();
        for (const auto& [op, total] : exec.profileByOp()) {
          by_op.push_back({{"op", op}, {"ms_per_run", total / opts->runs}});
        }
        j["profile"] = by_op;
        nlohmann::json by_node = nlohmann::json::array();
        for (const auto& [node, total] : exec.profileByNode()) {
          if (by_node.size() == 10) break;
          by_node.push_back({{"node", node}, {"ms_per_run", total / opts->runs}});
        }
        j["slowest_nodes"] = by_node;
      }
      if (opts->json) {
        std::cout << j.dump(2) << "\n";
      } else {
        std::printf("%s: median %.3f ms, min %.3f ms, p90 %.3f ms over %d runs, %d threads, %.1f samples/s\n",
                    opts->model.c_str(), median, ms.front(), ms[ms.size() * 9 / 10], opts->runs, opts->threads,
                    j["samples_per_s"].get<double>());
        if (opts->profile) {
          for (const auto& row : j["profile"]) {
            std::printf("  %-24s %9.3f ms/run\n", row["op"].get<std::string>().c_str(), row["ms_per_run"].get<double>());
          }
          std::printf("slowest nodes:\n");
          for (const auto& row : j["slowest_nodes"]) {
            std::printf("  %-40s %9.3f ms/run\n", row["node"].get<std::string>().c_str(), row["ms_per_run"].get<double>());
          }
        }
      }
      return Status::ok();
    };
  });
}

}  // namespace vitq::cli

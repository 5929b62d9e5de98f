// `vitq calibrate MODEL --data DATA -o STATS.json [--shard I/N]`: observe the activations a
// quantization would quantize and save their statistics (min/max and histograms) with the model's
// fingerprint; shards of one split run anywhere and `vitq merge-stats` combines them.
#include <iostream>

#include "calib/scheduler_shard.h"
#include "calib/stats_file.h"
#include "core/logging.h"
#include "onnx_io/model_fingerprint.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/quantize_pipeline.h"
#include "vitq/commands.h"
#include "vitq/option_checks.h"
#include "vitq/paths.h"
#include "api/quantization_inputs.h"

namespace vitq::cli {
namespace {

struct Options {
  std::string model, data, output, shard = "0/1", preprocess;
  std::vector<std::string> exclude;
  size_t calib_samples = 0, holdout = 0, shard_count = 0;
  int bins = 2048, threads = 1;
};

StatusOr<StatsShard> parseShard(const std::string& text) {
  const std::string why = "--shard '" + text + "': expected I/N with 0 <= I < N, e.g. 0/4";
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return invalidArgument(why);
  StatsShard s;
  try {
    size_t used_i = 0, used_n = 0;
    const long long i = std::stoll(text.substr(0, slash), &used_i);
    const long long n = std::stoll(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1 || i < 0 || n < 1 || i >= n || n > 1000000) {
      return invalidArgument(why);
    }
    s.index = static_cast<size_t>(i);
    s.count = static_cast<size_t>(n);
  } catch (const std::exception&) {
    return invalidArgument(why);
  }
  return s;
}

// --shard I/N, or --shard auto: the index and count a Slurm job array or a Kubernetes Indexed Job
// gives this task (the text says which).
StatusOr<StatsShard> chosenShard(const Options& o, std::string& source) {
  const std::optional<size_t> count_flag = o.shard_count > 0 ? std::optional<size_t>(o.shard_count) : std::nullopt;
  if (o.shard != "auto") {
    if (count_flag) return invalidArgument("--shard-count goes with --shard auto (--shard " + o.shard + " names its count)");
    return parseShard(o.shard);
  }
  VITQ_ASSIGN_OR_RETURN(SchedulerShard given, shardFromScheduler(processEnvironment(), count_flag));
  source = ", from the " + given.source;
  StatsShard shard;
  shard.index = given.index;
  shard.count = given.count;
  return shard;
}

Status runCalibrate(const Options& o) {
  std::string source;
  VITQ_ASSIGN_OR_RETURN(StatsShard shard, chosenShard(o, source));
  VITQ_RETURN_IF_ERROR(checkOutputs({{"the input model", o.model}, {"--data", o.data}}, {{"-o", o.output}}));
  VITQ_ASSIGN_OR_RETURN(QuantizationInputs in,
                        loadQuantizationInputs(o.model, o.data, {o.calib_samples, 0, o.holdout}, o.threads, o.preprocess));
  VITQ_RETURN_IF_ERROR(checkNodePatterns({in.original.graph.get(), in.working.graph.get()}, o.exclude, "--exclude"));
  // Contiguous, near-equal slices: shard i of N takes samples [i*n/N, (i+1)*n/N).
  const size_t n = in.calib->size();
  shard.first_sample = shard.index * n / shard.count;
  shard.samples = (shard.index + 1) * n / shard.count - shard.first_sample;
  if (shard.samples == 0) {
    return invalidArgument("--shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + source +
                           ", gets no samples: '" + o.data + "' gives " + std::to_string(n) + " calibration samples");
  }
  DatasetSlice part(*in.calib, shard.first_sample, shard.samples);
  PipelineOptions po;
  po.quant.exclude = o.exclude;
  po.threads = o.threads;
  VITQ_ASSIGN_OR_RETURN(CalibrationResult observed, collectActivationStats(in.working, part, po, o.bins));
  CalibrationStats stats;
  VITQ_ASSIGN_OR_RETURN(stats.fingerprint, modelFingerprint(in.original));
  stats.model = o.model;
  stats.bins = o.bins;
  stats.shards = {shard};
  stats.values = std::move(observed.stats);
  VITQ_RETURN_IF_ERROR(writeStatsFile(stats, o.output));
  std::cout << "vitq calibrate: " << stats.values.size() << " activations of " << o.model << " on samples "
            << shard.first_sample << ".." << shard.first_sample + shard.samples - 1 << " (shard " << shard.index
            << " of " << shard.count << source << ") -> " << o.output << "\n";
  return Status::ok();
}

}  // namespace

void addCalibrateCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("calibrate", "Observe activations on calibration data and save their statistics");
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data, "Calibration data (as for vitq quantize)")->required();
  cmd->add_option("--preprocess", o->preprocess, "How images in --data become the input (docs/cli.md, Image data)");
  cmd->add_option("-o,--output", o->output, "Statistics file to write (JSON, docs/stats-format.md)")->required();
  cmd->add_option("--shard", o->shard,
                  "I/N: only the I-th of N contiguous slices of the samples; auto: I and N from a Slurm job array "
                  "(SLURM_ARRAY_TASK_*) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX; docs/scale-out.md)");
  cmd->add_option("--shard-count", o->shard_count,
                  "With --shard auto in a Kubernetes Indexed Job: the number of completions (or VITQ_SHARD_COUNT); "
                  "in a Slurm array, checked against its size")
      ->check(wholeNumber(1));
  cmd->add_option("--calib-samples", o->calib_samples, "Use only the first N samples")->check(wholeNumber(1));
  cmd->add_option("--holdout", o->holdout, "Leave out the last N samples (kept for evaluation)")->check(wholeNumber(0));
  cmd->add_option("--exclude", o->exclude, "Nodes quantize will keep float: a node-name glob or an op type (repeatable)")->allow_extra_args(false);
  cmd->add_option("--bins", o->bins, "Histogram bins per activation (default 2048)")->check(CLI::Range(16, 65536));
  addThreadsOption(cmd, o->threads);
  cmd->callback([o, &action] {
    action = [o]() { return runCalibrate(*o); };
  });
}

}  // namespace vitq::cli

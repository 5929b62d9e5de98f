// `vitq run MODEL --input name=file.npy ... [--output-dir DIR]`: run a model with vitq's executor.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "calib/npy_io.h"
#include "onnx_io/atomic_file.h"
#include "onnx_io/importer.h"
#include "passes/canonicalize/widen_float16.h"
#include "vitq/commands.h"
#include "vitq/feeds.h"
#include "vitq/option_checks.h"

namespace vitq::cli {
namespace {

std::string fileNameFor(const std::string& value_name) {
  std::string out;
  for (char c : value_name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return out + ".npy";
}

// Before running: the output folder exists, and no two outputs map to one file name ("a/b" and
// "a_b" both become a_b.npy) - one would silently replace the other.
Status checkOutputFiles(const Graph& graph, const std::string& output_dir) {
  if (output_dir.empty()) return Status::ok();
  std::error_code ec;
  if (!std::filesystem::exists(output_dir, ec)) return notFound("output folder '" + output_dir + "' does not exist");
  if (!std::filesystem::is_directory(output_dir, ec)) {
    return invalidArgument("--output-dir '" + output_dir + "' is not a folder");
  }
  std::map<std::string, std::string> owner;
  for (const Value* out : graph.outputs()) {
    const std::string file = fileNameFor(out->name());
    const auto [it, fresh] = owner.emplace(file, out->name());
    if (!fresh) {
      return invalidArgument("outputs '" + it->second + "' and '" + out->name() + "' would both be written to '" +
                             file + "' in '" + output_dir + "'");
    }
    VITQ_RETURN_IF_ERROR(checkDestination(std::filesystem::path(output_dir) / file));
  }
  return Status::ok();
}

void printSummary(const std::string& name, const Tensor& t) {
  std::printf("%s  %s%s", name.c_str(), dataTypeName(t.dtype()), shapeToString(t.shape()).c_str());
  if (t.dtype() == DataType::kFloat && t.numel() > 0) {
    const float* p = t.data<float>();
    double lo = p[0], hi = p[0], sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      lo = std::min<double>(lo, p[i]);
      hi = std::max<double>(hi, p[i]);
      sum += p[i];
    }
    std::printf("  min %.6g max %.6g mean %.6g", lo, hi, sum / static_cast<double>(t.numel()));
  }
  std::printf("\n");
}

}  // namespace

void addRunCommand(CLI::App& app, CommandAction& action) {
  struct Options {
    std::string model;
    std::vector<std::string> inputs;
    std::vector<std::string> shapes;
    std::string output_dir;
    int threads = 1;
    uint64_t seed = 0;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Run a model with vitq's executor and save its outputs as .npy");
  cmd->add_option("model", opts->model, "ONNX model")->required();
  cmd->add_option("--input", opts->inputs, "NAME=FILE.npy (NAME optional for single-input models)")->allow_extra_args(false);
  cmd->add_option("--shape", opts->shapes, "NAME=d0,d1,... for seeded random inputs where no --input is given")->allow_extra_args(false);
  cmd->add_option("--output-dir", opts->output_dir, "Write each output to DIR/<output name>.npy");
  addThreadsOption(cmd, opts->threads, "Threads for the kernels");
  cmd->add_option("--seed", opts->seed, "Seed for random inputs")->check(wholeNumber(0));
  cmd->callback([opts, &action] {
    action = [opts]() -> Status {
      ImportOptions import;
      import.inline_functions = true;  // model-local functions run as their bodies
      VITQ_ASSIGN_OR_RETURN(Model model, loadModel(opts->model, import));
      widenFloat16(*model.graph);  // a float16 model runs in float32 between casts at its interface
      VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {opts->threads}));
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, loadFeeds(exec, opts->inputs));
      VITQ_RETURN_IF_ERROR(addRandomFeeds(exec, opts->shapes, opts->seed, feeds));
      // After the feeds are read: an output that would replace one of them is refused now.
      VITQ_RETURN_IF_ERROR(checkOutputFiles(*model.graph, opts->output_dir));
      VITQ_ASSIGN_OR_RETURN(TensorMap outputs, exec.run(feeds));
      for (const Value* out : model.graph->outputs()) {
        const Tensor& t = outputs.at(out->name());
        printSummary(out->name(), t);
        if (!opts->output_dir.empty()) {
          VITQ_RETURN_IF_ERROR(writeNpy(t, std::filesystem::path(opts->output_dir) / fileNameFor(out->name())));
        }
      }
      return Status::ok();
    };
  });
}

}  // namespace vitq::cli

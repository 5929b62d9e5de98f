// `vitq run MODEL --input name=file.npy ... [--output-dir DIR]`: run a model with vitq's executor.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "calib/npy_io.h"
#include "onnx_io/importer.h"
#include "vitq/commands.h"
#include "vitq/feeds.h"

namespace vitq::cli {
namespace {

std::string fileNameFor(const std::string& value_name) {
  std::string out;
  for (char c : value_name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return out + ".npy";
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
  cmd->add_option("--input", opts->inputs, "NAME=FILE.npy (NAME optional for single-input models)");
  cmd->add_option("--shape", opts->shapes, "NAME=d0,d1,... for seeded random inputs where no --input is given");
  cmd->add_option("--output-dir", opts->output_dir, "Write each output to DIR/<output name>.npy");
  cmd->add_option("--threads", opts->threads, "Threads for the kernels")->check(CLI::Range(1, 256));
  cmd->add_option("--seed", opts->seed, "Seed for random inputs");
  cmd->callback([opts, &action] {
    action = [opts]() -> Status {
      ImportOptions import;
      import.inline_functions = true;  // model-local functions run as their bodies
      VITQ_ASSIGN_OR_RETURN(Model model, loadModel(opts->model, import));
      VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {opts->threads}));
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, loadFeeds(exec, opts->inputs));
      VITQ_RETURN_IF_ERROR(addRandomFeeds(exec, opts->shapes, opts->seed, feeds));
      VITQ_ASSIGN_OR_RETURN(TensorMap outputs, exec.run(feeds));
      std::error_code ec;
      if (!opts->output_dir.empty() && !std::filesystem::is_directory(opts->output_dir, ec)) {
        return notFound("output folder '" + opts->output_dir + "' does not exist");
      }
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

// `vitq inspect MODEL [--json] [--nodes] [--print-ir]`: what is in a model, and what vitq sees in it.
#include <cstdio>
#include <iostream>

#include "ir/printer.h"
#include "onnx_io/importer.h"
#include "report/model_summary.h"
#include "vitq/commands.h"

namespace vitq::cli {

void addInspectCommand(CLI::App& app, CommandAction& action) {
  struct Options {
    std::string model;
    bool json = false;
    bool print_ir = false;
    bool nodes = false;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("inspect", "Show a model's interface, parameters, ops and transformer structures");
  cmd->add_option("model", opts->model, "ONNX model")->required();
  cmd->add_flag("--json", opts->json, "Print JSON instead of text");
  cmd->add_flag("--print-ir", opts->print_ir, "Also print the graph as vitq holds it");
  cmd->add_flag("--nodes", opts->nodes, "List the quantizable nodes: name (as --exclude and --layer-bits take it), op, "
                                        "input and weight shapes, the value reports judge it by (--json always has them)");
  cmd->callback([opts, &action] {
    action = [opts]() -> Status {
      ImportReport report;
      VITQ_ASSIGN_OR_RETURN(Model model, loadModel(opts->model, {}, &report));
      const ModelSummary summary = summarizeModel(model, report, opts->model);
      if (opts->json) {
        std::cout << summary.json.dump(2) << "\n";
      } else {
        std::cout << summaryToText(summary, opts->nodes);
      }
      if (opts->print_ir) printGraph(*model.graph, opts->json ? std::cerr : std::cout);
      return Status::ok();
    };
  });
}

}  // namespace vitq::cli

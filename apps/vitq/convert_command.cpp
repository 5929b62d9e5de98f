// `vitq convert IN -o OUT`: import and export with no change but Constant lifting; the simplest
// round trip a user can run to check that vitq reads a model faithfully.
#include <map>

#include "core/logging.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "vitq/commands.h"
#include "vitq/paths.h"

namespace vitq::cli {

void addConvertCommand(CLI::App& app, CommandAction& action) {
  struct Options {
    std::string input;
    std::string output;
    bool keep_constants = false;
    ExternalData external = ExternalData::kAuto;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("convert", "Read a model and write it back (Constant nodes become initializers)");
  cmd->add_option("input", opts->input, "Input ONNX model")->required();
  cmd->add_option("-o,--output", opts->output, "Output ONNX model")->required();
  cmd->add_flag("--keep-constants", opts->keep_constants, "Leave Constant nodes as they are");
  const std::map<std::string, ExternalData> external_names{
      {"auto", ExternalData::kAuto}, {"always", ExternalData::kAlways}, {"never", ExternalData::kNever}};
  cmd->add_option("--external-data", opts->external,
                  "Write initializers to OUTPUT.data: auto (past 1.8 GB), always, never")
      ->transform(CLI::CheckedTransformer(external_names, CLI::ignore_case));
  cmd->callback([opts, &action] {
    action = [opts]() -> Status {
      VITQ_RETURN_IF_ERROR(checkOutputPath(opts->input, opts->output));
      ImportOptions import;
      import.lift_constants = !opts->keep_constants;
      import.infer_shapes = false;  // a round trip writes back only what the file declared
      ImportReport report;
      VITQ_ASSIGN_OR_RETURN(Model model, loadModel(opts->input, import, &report));
      SaveOptions save;
      save.external_data = opts->external;
      VITQ_RETURN_IF_ERROR(saveModel(model, opts->output, save));
      logger("vitq")->info("wrote {} ({} nodes, {} Constant nodes lifted)", opts->output,
                           model.graph->numNodes(), report.lifted_constants);
      return Status::ok();
    };
  });
}

}  // namespace vitq::cli

// `vitq passes`: the recipes with their pipelines, and the passes of `vitq quantize` in the order they
// run with the options each step takes.
#include <iostream>

#include "passes/ptq/recipes.h"
#include "vitq/commands.h"

namespace vitq::cli {

void addPassesCommand(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("passes", "List the recipes and the passes of vitq quantize");
  cmd->callback([&action] {
    action = [] {
      std::cout << "Recipes (--recipe NAME, each also as NAME+noisy), with the pipeline each runs:\n";
      for (const auto& name : recipeNames()) {
        std::cout << "  " << name << ": " << recipeSummary(name) << "\n    " << *recipePipeline(name) << "\n";
      }
      std::cout << "\nPasses of vitq quantize, in order (--pipeline names the steps among them, with {options}):\n";
      int i = 0;
      for (const auto& [name, what] : pipelinePasses()) std::cout << "  " << ++i << ". " << name << ": " << what << "\n";
      return Status::ok();
    };
  });
}

}  // namespace vitq::cli

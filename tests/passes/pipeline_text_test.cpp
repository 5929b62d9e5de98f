// Pipelines as text: every recipe's text turns on exactly its steps and reads back from the report's
// text to the same options; malformed texts are refused naming the step or option at fault.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/recipes.h"

using namespace vitq;

namespace {

std::vector<std::string> enabledSteps(const PipelineOptions& o) {
  std::vector<std::string> names;
  for (const QuantStep* s : quantSteps()) {
    if (s->enabled(o)) names.push_back(s->name());
  }
  return names;
}

std::string errorOf(const std::string& text) {
  PipelineOptions o;
  const Status st = applyPipelineText(text, o);
  return st.isOk() ? "" : st.message();
}

}  // namespace

TEST_CASE("every recipe's pipeline text reads back from the text the report writes", "[passes][pipeline]") {
  for (const std::string& base : recipeNames()) {
    for (const std::string& name : {base, base + "+noisy"}) {
      INFO(name);
      PipelineOptions from_recipe;
      REQUIRE(applyRecipe(name, from_recipe).isOk());
      const std::vector<std::string> ran = enabledSteps(from_recipe);
      const std::string written = pipelineText(ran, from_recipe);
      CHECK(written == *recipePipeline(name));  // recipes are written in the report's own form
      PipelineOptions reread;
      REQUIRE(applyPipelineText(written, reread).isOk());
      CHECK(enabledSteps(reread) == ran);
      CHECK(pipelineText(ran, reread) == written);
    }
  }
}

TEST_CASE("a recipe's text sets what the recipe means", "[passes][pipeline]") {
  PipelineOptions o;
  REQUIRE(applyRecipe("repquant", o).isOk());
  CHECK(o.ln_reparam);
  CHECK(o.dual_clip);
  CHECK(o.inputs_8bit);
  CHECK(o.log_softmax);
  CHECK(o.activation_range == RangeMethod::kMse);
  CHECK(o.weight_mse);
  CHECK(o.reconstruct == Reconstruction::kSequential);
  CHECK_FALSE(o.noisy_bias);
  PipelineOptions custom;
  REQUIRE(applyPipelineText(" smooth-quant{alpha=0.8}, plan {placement=inputs}, calibrate{range=percentile, "
                            "percentile=99.9}, materialize-qdq{int4}",
                            custom)
              .isOk());
  CHECK(*custom.smooth_alpha == 0.8);
  CHECK_FALSE(custom.quant.quantize_outputs);
  CHECK(custom.activation_range == RangeMethod::kPercentile);
  CHECK(custom.percentile == 99.9);
  CHECK(custom.four_bit_types);
  CHECK(pipelineText(enabledSteps(custom), custom) ==
        "smooth-quant{alpha=0.8}, plan{placement=inputs}, calibrate{range=percentile, percentile=99.9}, "
        "materialize-qdq{int4}");
}

TEST_CASE("malformed pipeline texts are refused naming the step or option", "[passes][pipeline]") {
  CHECK(errorOf("plan, calibrate, materialise-qdq").rfind("unknown step 'materialise-qdq' (steps: smooth-quant, ", 0) == 0);
  CHECK(errorOf("calibrate, plan, materialize-qdq").rfind("step 'plan' runs before 'calibrate'", 0) == 0);
  CHECK(errorOf("plan, plan, calibrate, materialize-qdq") == "step 'plan' is named twice");
  CHECK(errorOf("plan, calibrate") ==
        "the pipeline writes no model: end it with materialize-qdq (QDQ) or integer-lowering");
  CHECK(errorOf("calibrate, materialize-qdq") == "step 'plan' runs in every pipeline: name it");
  CHECK(errorOf("plan, calibrate, materialize-qdq, integer-lowering").rfind("step 'materialize-qdq' does not run", 0) == 0);
  CHECK(errorOf("plan, calibrate{range=median}, materialize-qdq") ==
        "step 'calibrate': option 'range' takes minmax|mean-minmax|percentile|entropy|mse (got 'median')");
  CHECK(errorOf("plan, calibrate{ranges=mse}, materialize-qdq").rfind("step 'calibrate' has no option 'ranges' (it takes range=", 0) == 0);
  CHECK(errorOf("plan, log-softmax{base=2}, calibrate, materialize-qdq") ==
        "step 'log-softmax' has no option 'base' (it takes none)");
  CHECK(errorOf("plan, calibrate, materialize-qdq{int4=yes}") ==
        "option 'int4' of step 'materialize-qdq' is a switch and takes no value");
  CHECK(errorOf("plan, calibrate{range}, materialize-qdq") ==
        "option 'range' of step 'calibrate' takes a value: range=minmax|mean-minmax|percentile|entropy|mse");
  CHECK(errorOf("smooth-quant{alpha=1.5}, plan, calibrate, materialize-qdq") ==
        "step 'smooth-quant': option 'alpha' takes a number from 0 to 1 (got '1.5')");
  CHECK(errorOf("plan, calibrate, sequential-reconstruction{block-layers=2.5}, materialize-qdq") ==
        "step 'sequential-reconstruction': option 'block-layers' takes a whole number from 1 to 1000 (got '2.5')");
  CHECK(errorOf("plan, calibrate{range=mse, percentile=99.9}, materialize-qdq") ==
        "step 'calibrate': option 'percentile' is read with range=percentile only");
  CHECK(errorOf("plan{inputs-8bit, calibrate, materialize-qdq") == "step 'plan': '{' is not closed");
  CHECK(errorOf("plan,, calibrate, materialize-qdq") == "a step name is missing (steps are separated by commas)");
  CHECK(errorOf("") == "a step name is missing (steps are separated by commas)");
}

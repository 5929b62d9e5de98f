#include "vitq/quantize_report_sections.h"

#include <algorithm>

#include "passes/ptq/pipeline_text.h"

namespace vitq::cli {

void addQuantizeSections(nlohmann::json& report, const QuantizeFlags& o, const PipelineOptions& po,
                         const PipelineReport& pr, size_t calibration_samples) {
  const QuantPlanSummary& plan = pr.plan;
  const MaterializeStats& ms = pr.materialized;
  report["recipe"] = {{"name", recipeName(o)}, {"weight_bits", o.wbits}, {"activation_bits", o.abits},
                      {"calibration_samples", pr.calibration_samples}, {"pipeline", pipelineText(pr.pipeline, po)}};
  if (po.activation_range == RangeMethod::kPercentile) report["recipe"]["percentile"] = po.percentile;
  if (o.recipe == "i-vit") report["recipe"]["ranges"] = o.ranges.empty() ? "minmax" : o.ranges;
  if (!o.stats.empty()) report["recipe"]["statistics"] = o.stats;
  if (po.ln_reparam) {
    nlohmann::json ln = {{"reference_scale", po.median_scale ? "median" : "mean"}};
    if (po.dual_clip) {
      nlohmann::json sites = nlohmann::json::array();
      for (const auto& d : pr.dual_clipped) {
        sites.push_back({{"activation", d.activation}, {"loss_before", d.loss_before}, {"loss_after", d.loss_after},
                         {"clipped_channels", d.clipped_channels}});
      }
      ln["dual_clip"] = sites;
    }
    report["recipe"]["ln_reparam"] = ln;
  }
  report["recipe"]["log_softmax"] = po.log_softmax;
  report["recipe"]["reduce_range"] = o.reduce_range;
  report["recipe"]["int4"] = po.four_bit_types;
  report["recipe"]["activations"] = po.quant.activation_symmetric ? "symmetric" : "asymmetric";
  report["recipe"]["placement"] = po.quant.quantize_outputs ? "integer" : "inputs";
  report["recipe"]["depthwise_inputs"] = po.quant.depthwise_channel_inputs ? "per-channel" : "per-tensor";
  if (po.bias_correction) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& b : pr.bias_corrected) {
      layers.push_back({{"layer", b.layer}, {"max_shift", b.max_shift}, {"mean_shift", b.mean_shift}});
    }
    report["recipe"]["bias_correction"] = layers;
  }
  if (po.smooth_alpha) {
    nlohmann::json smoothed = nlohmann::json::array();
    for (const auto& s : pr.smoothed) {
      smoothed.push_back({{"activation", s.input}, {"consumers", s.consumers}, {"min_scale", s.min_scale},
                          {"max_scale", s.max_scale}});
    }
    report["recipe"]["smooth_quant"] = {{"alpha", *po.smooth_alpha}, {"smoothed", smoothed}};
  }
  if (po.noisy_bias) {
    report["recipe"]["noisy_bias"] = {{"seed", o.noise_seed}, {"distribution", o.noise_dist},
                                      {"amplitude_steps", o.noise_steps}, {"layers", o.noise_layers}};
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& site : pr.noisy_bias) {
      sites.push_back({{"activation", site.activation}, {"consumers", site.consumers},
                       {"amplitude", site.amplitude}, {"shift", site.shift}, {"sqnr_before_db", site.sqnr_before_db},
                       {"sqnr_after_db", site.sqnr_after_db}});
    }
    report["noisy_bias"] = sites;
  }
  if (po.reconstruct != Reconstruction::kNone) {
    const char* scope = po.reconstruct == Reconstruction::kBridges ? "bridges" : "all";
    report["recipe"]["reconstruction"] = {{"scope", scope}, {"iterations", o.recon_iters},
                                          {"samples", std::min(o.recon_samples, calibration_samples)},
                                          {"batch", o.recon_batch}, {"learning_rate", o.recon_lr}, {"seed", o.seed},
                                          {"block_layers", o.recon_block_layers}, {"drop", o.recon_drop},
                                          {"activation_scales", o.recon_act_scales}};
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : pr.reconstructed) {
      blocks.push_back({{"block", b.name}, {"output", b.output}, {"weights", b.weights}, {"elements", b.elements},
                        {"codes_changed", b.flipped}, {"loss_before", b.loss_before}, {"loss_after", b.loss_after},
                        {"kept_nearest", b.kept_nearest}, {"activation_scales", b.activation_scales.size()},
                        {"seconds", b.seconds}});
    }
    report["reconstruction"] = blocks;
  }
  report["quantization"] = {{"compute_nodes", plan.compute_nodes}, {"quantized_nodes", plan.quantized_nodes},
                            {"kept_float", plan.excluded}, {"quantize_nodes", ms.quantize_nodes},
                            {"per_channel_activations", ms.per_channel_activations},
                            {"weights", ms.weights}, {"biases", ms.biases},
                            {"four_bit_tensors", ms.four_bit_tensors},
                            {"reparameterized_layernorms", pr.reparameterized},
                            {"layernorms_too_few_rows", pr.reparam_few_rows},
                            {"log_softmax_quantizers", ms.log_quantizers}, {"float_biases", ms.float_biases}};
}

}  // namespace vitq::cli

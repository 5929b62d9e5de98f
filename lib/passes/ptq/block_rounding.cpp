#include "passes/ptq/block_rounding.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "core/logging.h"
#include "exec/kernel_registry.h"
#include "quant/math/adaround.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"

namespace vitq {
namespace {

struct LearnedWeight {
  Value* value;
  std::unique_ptr<AdaRoundWeight> rounding;
  std::unique_ptr<Adam> adam;
};

enum class Rounding { kSoft, kLearned, kNearest };

ValueTensors weightTensors(const std::vector<LearnedWeight>& weights, Rounding mode) {
  ValueTensors out;
  for (const auto& w : weights) {
    out[w.value] = mode == Rounding::kSoft      ? w.rounding->soft()
                   : mode == Rounding::kLearned ? w.rounding->hard()
                                                : w.rounding->nearest();
  }
  return out;
}

// Elements whose rounded value differs between two roundings of the same weight.
int64_t flippedCodes(const Tensor& a, const Tensor& b) {
  int64_t count = 0;
  for (int64_t i = 0; i < a.numel(); ++i) count += a.data<float>()[i] != b.data<float>()[i] ? 1 : 0;
  return count;
}

// Deterministic integer in [0, n) from the generator (no std::distribution: fixed across libraries).
size_t drawIndex(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

// QDrop's mix: each element of \p quantized takes \p raw's value with probability p.
void dropQuantization(Tensor& quantized, const Tensor& raw, float p, std::mt19937_64& rng) {
  if (quantized.dtype() != DataType::kFloat || p <= 0) return;
  // Compared with the generator's top 53 bits, so that p = 1 drops every element.
  const uint64_t threshold = static_cast<uint64_t>(static_cast<double>(std::min(p, 1.0f)) * 9007199254740992.0);
  float* q = quantized.data<float>();
  const float* r = raw.data<float>();
  for (int64_t i = 0; i < quantized.numel(); ++i) {
    if ((rng() >> 11) < threshold) q[i] = r[i];
  }
}

// dL/ds of a uniform quantizer x^ = s (clamp(round(x / s) + z, qmin, qmax) - z) with the rounding
// straight through (LSQ): round(x / s) - x / s inside the grid, qmin - z or qmax - z at its ends.
// Elements QDrop left unquantized (x^ == x) contribute nothing.
double scaleGradient(const TensorQuant& q, const Tensor& raw, const Tensor& quantized, const Tensor& grad) {
  const float s = q.params.scale[0];
  const auto z = static_cast<float>(q.params.zero_point[0]);
  const auto qmin = static_cast<float>(q.spec.qmin()), qmax = static_cast<float>(q.spec.qmax());
  const float* x = raw.data<float>();
  const float* xq = quantized.data<float>();
  const float* g = grad.data<float>();
  double sum = 0;
  for (int64_t e = 0; e < raw.numel(); ++e) {
    if (xq[e] == x[e]) continue;
    const float u = x[e] / s, r = std::nearbyint(u);
    const float d = r + z < qmin ? qmin - z : r + z > qmax ? qmax - z : r - u;
    sum += static_cast<double>(g[e]) * d;
  }
  return sum;
}

std::string label(const ReconstructionBlock& b, size_t position, size_t count) {
  return "block " + std::to_string(position + 1) + "/" + std::to_string(count) + " '" + b.name + "'";
}

}  // namespace

bool learnableWeight(const Value* v, const TensorQuant* q) {
  return q && q->role == QuantRoleOfValue::kWeight && v->isConstant() && q->spec.scheme == QuantScheme::kUniform &&
         v->initializer().dtype() == DataType::kFloat;
}

Tensor fakeQuantActivation(const Tensor& t, const TensorQuant& q) {
  if (t.dtype() != DataType::kFloat) return t;
  if (q.spec.scheme == QuantScheme::kLogSqrt2) {
    Tensor out(DataType::kFloat, t.shape());
    const float* src = t.data<float>();
    float* dst = out.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] = logSqrt2FakeQuant(src[i], q.params.scale.at(0), q.spec.bits);
    return out;
  }
  return fakeQuantizeTensor(t, q.params, q.spec);
}

const TensorQuant* BlockSamples::activationQuant(const Value* v) const {
  if (!quantize_activations_) return nullptr;
  if (auto it = overrides_.find(v); it != overrides_.end()) return &it->second;
  const TensorQuant* q = table_.find(v);
  return q && q->role == QuantRoleOfValue::kActivation && !q->params.scale.empty() ? q : nullptr;
}

void BlockSamples::overrideScale(const Value* v, float scale) {
  auto it = overrides_.find(v);
  if (it == overrides_.end()) it = overrides_.emplace(v, *table_.find(v)).first;
  it->second.params.scale = {scale};
}

void BlockSamples::addSample(const ValueTensors& recorded, Tensor target) {
  ValueTensors in, raw;
  for (const Value* v : block_.inputs) {
    const Tensor& t = recorded.at(v);
    const TensorQuant* q = activationQuant(v);
    in[v] = q ? fakeQuantActivation(t, *q) : t;
    if (q) raw[v] = t;
  }
  inputs_.push_back(std::move(in));
  raw_inputs_.push_back(std::move(raw));
  targets_.push_back(std::move(target));
}

StatusOr<ValueTensors> BlockSamples::forward(size_t i, const ValueTensors& weights, std::mt19937_64* drop,
                                             float drop_probability, Tensor* raw_output,
                                             ValueTensors* raw_overridden) const {
  ValueTensors tensors = inputs_.at(i);
  if (drop) {
    for (const auto& [v, raw] : raw_inputs_.at(i)) {
      Tensor mixed = tensors.at(v).clone();
      dropQuantization(mixed, raw, drop_probability, *drop);
      tensors[v] = std::move(mixed);
    }
  }
  for (const auto& [v, t] : weights) tensors[v] = t;
  for (const Node* node : block_.nodes) {
    const KernelFn* kernel = KernelRegistry::instance().find(node->domain(), node->opType());
    if (!kernel) return unsupported("node " + node->describe() + ": op " + node->opType() + " has no kernel");
    KernelContext ctx{*node, opset_, 1, {}, {}};
    for (const Value* v : node->inputs()) {
      const Tensor* t = nullptr;
      if (v) {
        auto it = tensors.find(v);
        t = it != tensors.end() ? &it->second : v->isInitializer() ? &v->initializer() : nullptr;
        if (!t) return invalidArgument("node " + node->describe() + ": no tensor for its input '" + v->name() + "'");
      }
      ctx.inputs.push_back(t);
    }
    ctx.outputs.resize(node->numOutputs());
    VITQ_RETURN_IF_ERROR((*kernel)(ctx));
    for (size_t k = 0; k < node->numOutputs(); ++k) {
      const Value* o = node->output(k);
      if (!o) continue;
      const TensorQuant* q = activationQuant(o);
      if (raw_output && o == block_.output) *raw_output = ctx.outputs[k];
      if (raw_overridden && overrides_.count(o)) (*raw_overridden)[o] = ctx.outputs[k];
      if (!q) {
        tensors[o] = std::move(ctx.outputs[k]);
        continue;
      }
      Tensor quantized = fakeQuantActivation(ctx.outputs[k], *q);
      if (drop) dropQuantization(quantized, ctx.outputs[k], drop_probability, *drop);
      tensors[o] = std::move(quantized);
    }
  }
  return tensors;
}

StatusOr<double> BlockSamples::loss(const ValueTensors& weights, int threads, size_t begin, size_t end) const {
  end = std::min(end, samples());
  // Per-sample sums added in order: the same value for any thread count.
  std::vector<double> sum_of(samples(), 0.0);
  std::vector<Status> status_of(samples(), Status::ok());
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, threads)) if (threads > 1)
  for (size_t i = begin; i < end; ++i) {
    StatusOr<ValueTensors> t = forward(i, weights);
    if (!t.isOk()) {
      status_of[i] = t.status();
      continue;
    }
    const Tensor& y = t->at(block_.output);
    const float* a = y.data<float>();
    const float* b = targets_[i].data<float>();
    for (int64_t k = 0; k < y.numel(); ++k) sum_of[i] += static_cast<double>(a[k] - b[k]) * (a[k] - b[k]);
  }
  double sum = 0;
  int64_t count = 0;
  for (size_t i = begin; i < end; ++i) {
    VITQ_RETURN_IF_ERROR(status_of[i]);
    sum += sum_of[i];
    count += targets_[i].numel();
  }
  return count ? sum / static_cast<double>(count) : 0.0;
}

StatusOr<BlockReconstructionReport> learnBlockRounding(Graph& graph, int64_t opset, const QuantTable& table,
                                                       const ReconstructionBlock& block, BlockSamples& samples,
                                                       const ReconstructionOptions& o, size_t position, size_t count,
                                                       std::unordered_set<const Value*>& done) {
  auto log = logger("vitq.reconstruct");
  const auto start = std::chrono::steady_clock::now();
  BlockReconstructionReport report;
  report.name = block.name;
  report.output = block.output->name();
  std::vector<LearnedWeight> weights;
  for (const Node* node : block.nodes) {
    for (const Value* v : node->inputs()) {
      const TensorQuant* q = v ? table.find(v) : nullptr;
      if (!v || !learnableWeight(v, q) || q->params.scale.empty() || done.count(v)) continue;
      done.insert(v);
      LearnedWeight w{graph.mutableValue(v), std::make_unique<AdaRoundWeight>(v->initializer(), q->params, q->spec),
                      nullptr};
      w.adam = std::make_unique<Adam>(static_cast<size_t>(w.rounding->numel()), o.learning_rate);
      report.weights.push_back(v->name());
      report.elements += w.rounding->numel();
      weights.push_back(std::move(w));
    }
  }
  if (weights.empty()) {
    log->info("{}: no quantized weights, skipped", label(block, position, count));
    return report;
  }
  // The last `held` samples are never drawn: they judge the checkpoints.
  const size_t n = samples.samples();
  const auto want = static_cast<size_t>(static_cast<double>(n) * std::clamp(o.holdout, 0.0f, 0.5f));
  const size_t held = want >= 1 && n - want >= 1 ? want : 0, fit = n - held;
  report.heldout_samples = held;
  const ValueTensors nearest = weightTensors(weights, Rounding::kNearest);
  VITQ_ASSIGN_OR_RETURN(report.loss_before, samples.loss(nearest, o.threads, 0, fit));
  if (held) {
    VITQ_ASSIGN_OR_RETURN(report.heldout_loss_before, samples.loss(nearest, o.threads, fit, n));
  }

  std::vector<const Value*> wrt;
  for (const auto& w : weights) wrt.push_back(w.value);
  // LSQ: the per-tensor uniform activations the block produces, their scales as log(s).
  std::vector<const Value*> scaled;
  std::vector<float> log_scale;
  if (o.learn_activation_scales) {
    for (const Node* node : block.nodes) {
      for (const Value* v : node->outputs()) {
        const TensorQuant* q = v ? samples.activationQuant(v) : nullptr;
        if (!q || q->spec.scheme != QuantScheme::kUniform || q->params.perChannel() || q->params.scale.size() != 1 ||
            !(q->params.scale[0] > 0)) {
          continue;
        }
        scaled.push_back(v);
        log_scale.push_back(std::log(q->params.scale[0]));
        wrt.push_back(v);
      }
    }
  }
  Adam scale_adam(log_scale.size(), o.scale_learning_rate);
  std::vector<float> grad_log_scale(log_scale.size());
  std::mt19937_64 rng(o.seed + 0x9E3779B97F4A7C15ull * (position + 1));
  std::mt19937_64 drop_rng(o.seed ^ (0xD1B54A32D192ED03ull * (position + 1)));
  RoundingSchedule schedule;
  schedule.total = o.iterations;
  schedule.warmup = o.warmup;
  const int batch = std::max(1, o.batch);
  // The reconstruction term is the squared error relative to nearest rounding's (1 at the start),
  // so that lambda weighs the rounding regularizer the same way whatever the block's scale.
  const double rec_scale =
      report.loss_before > 0 ? 1.0 / (report.loss_before * static_cast<double>(samples.target(0).numel())) : 1.0;
  std::vector<float> grad_v;
  // The rounding (and learned scales) at the checkpoint that did best on the held-out samples.
  struct Checkpoint {
    int step;
    double heldout;
    ValueTensors weights;
    std::vector<float> log_scale;
  };
  std::optional<Checkpoint> best;
  for (int t = 0; t < o.iterations; ++t) {
    const ValueTensors soft = weightTensors(weights, Rounding::kSoft);
    std::vector<Tensor> grad_w;
    for (const auto& w : weights) grad_w.emplace_back(DataType::kFloat, w.value->initializer().shape());
    // The batch's samples run in parallel (--threads), each with its own QDrop stream drawn in
    // order, and their gradients are summed in order: the same bytes for any thread count.
    std::vector<size_t> picks(static_cast<size_t>(batch));
    std::vector<uint64_t> drop_seeds(picks.size());
    for (size_t k = 0; k < picks.size(); ++k) {
      picks[k] = drawIndex(rng, fit);
      drop_seeds[k] = drop_rng();
    }
    for (size_t j = 0; j < scaled.size(); ++j) samples.overrideScale(scaled[j], std::exp(log_scale[j]));
    std::vector<double> rec_of(picks.size(), 0.0);
    std::vector<ValueTensors> grads_of(picks.size());
    std::vector<std::vector<double>> scale_grad_of(picks.size(), std::vector<double>(scaled.size(), 0.0));
    std::vector<Status> status_of(picks.size(), Status::ok());
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, o.threads)) if (o.threads > 1 && batch > 1)
    for (size_t k = 0; k < picks.size(); ++k) {
      status_of[k] = [&]() -> Status {
        std::mt19937_64 drop(drop_seeds[k]);
        ValueTensors raw;
        VITQ_ASSIGN_OR_RETURN(ValueTensors fwd, samples.forward(picks[k], soft, o.drop_probability > 0 ? &drop : nullptr,
                                                                o.drop_probability, nullptr, &raw));
        const Tensor& y = fwd.at(block.output);
        const Tensor& target = samples.target(picks[k]);
        // Per-sample sum of squared output errors, averaged over the batch (BRECQ's form), scaled.
        Tensor g(DataType::kFloat, y.shape());
        for (int64_t e = 0; e < y.numel(); ++e) {
          const float d = y.data<float>()[e] - target.data<float>()[e];
          rec_of[k] += rec_scale * d * d / batch;
          g.data<float>()[e] = static_cast<float>(2.0 * rec_scale * d / batch);
        }
        VITQ_ASSIGN_OR_RETURN(grads_of[k], blockGradients(graph, block.nodes, fwd, {{block.output, g}}, wrt, opset));
        for (size_t j = 0; j < scaled.size(); ++j) {
          scale_grad_of[k][j] = scaleGradient(*samples.activationQuant(scaled[j]), raw.at(scaled[j]),
                                              fwd.at(scaled[j]), grads_of[k].at(scaled[j]));
        }
        return Status::ok();
      }();
    }
    double rec = 0;
    std::fill(grad_log_scale.begin(), grad_log_scale.end(), 0.0f);
    for (size_t k = 0; k < picks.size(); ++k) {
      VITQ_RETURN_IF_ERROR(status_of[k]);
      rec += rec_of[k];
      for (size_t j = 0; j < scaled.size(); ++j) {
        grad_log_scale[j] += static_cast<float>(scale_grad_of[k][j] * std::exp(log_scale[j]));  // d/dlog s = s d/ds
      }
      for (size_t w = 0; w < weights.size(); ++w) {
        const Tensor& gw = grads_of[k].at(weights[w].value);
        float* dst = grad_w[w].data<float>();
        for (int64_t e = 0; e < gw.numel(); ++e) dst[e] += gw.data<float>()[e];
      }
    }
    const float lambda = schedule.regularized(t) ? o.lambda : 0.0f;
    double reg = 0;
    for (size_t w = 0; w < weights.size(); ++w) {
      reg += weights[w].rounding->gradient(grad_w[w], lambda, schedule.beta(t), grad_v);
      weights[w].adam->step(weights[w].rounding->v(), grad_v);
    }
    if (!scaled.empty()) scale_adam.step(log_scale, grad_log_scale);
    const bool quarter = o.iterations >= 4 && (t + 1) % (o.iterations / 4) == 0;
    if (quarter) {
      log->debug("{} step {}/{}: reconstruction {:.6g}, rounding regularizer {:.6g}", label(block, position, count),
                 t + 1, o.iterations, rec, reg);
    }
    if (held && (quarter || t + 1 == o.iterations)) {
      for (size_t j = 0; j < scaled.size(); ++j) samples.overrideScale(scaled[j], std::exp(log_scale[j]));
      ValueTensors hard = weightTensors(weights, Rounding::kLearned);
      VITQ_ASSIGN_OR_RETURN(double heldout, samples.loss(hard, o.threads, fit, n));
      if (!best || heldout < best->heldout) best = Checkpoint{t + 1, heldout, std::move(hard), log_scale};
    }
  }
  if (!best) {  // no held-out samples (or no steps): the rounding as the steps left it
    ValueTensors hard = weightTensors(weights, Rounding::kLearned);
    double heldout = 0;
    if (held) {
      VITQ_ASSIGN_OR_RETURN(heldout, samples.loss(hard, o.threads, fit, n));
    }
    best = Checkpoint{o.iterations, heldout, std::move(hard), log_scale};
  }
  for (size_t j = 0; j < scaled.size(); ++j) samples.overrideScale(scaled[j], std::exp(best->log_scale[j]));
  VITQ_ASSIGN_OR_RETURN(report.loss_after, samples.loss(best->weights, o.threads, 0, fit));
  // Kept where it beats nearest rounding on the samples that judge it: the held-out ones if any.
  const bool better = held ? best->heldout < report.heldout_loss_before : report.loss_after < report.loss_before;
  ValueTensors hard;
  if (!better) {
    report.kept_nearest = true;
    report.loss_after = report.loss_before;
    report.heldout_loss_after = report.heldout_loss_before;
    hard = nearest;
    samples.clearOverrides();
  } else {
    hard = std::move(best->weights);
    report.kept_step = best->step;
    report.heldout_loss_after = best->heldout;
    for (const auto& w : weights) {
      report.flipped += best->step == o.iterations ? w.rounding->flipped()
                                                   : flippedCodes(hard.at(w.value), nearest.at(w.value));
    }
    for (size_t j = 0; j < scaled.size(); ++j) report.activation_scales.emplace_back(scaled[j], std::exp(best->log_scale[j]));
  }
  for (auto& w : weights) {
    const Tensor& rounded = hard.at(w.value);
    report.weight_sqnr_db.emplace_back(w.value->name(), differenceError(w.value->initializer(), rounded).sqnrDb());
    graph.setInitializer(w.value, rounded);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string heldout =
      held ? fmt::format(", held-out {:.6g} -> {:.6g} (step {})", report.heldout_loss_before, report.heldout_loss_after,
                         report.kept_step)
           : "";
  log->info("{}: {} weights ({} elements), output MSE {:.6g} -> {:.6g}{}{}, {} codes changed, {:.1f} s",
            label(block, position, count), weights.size(), report.elements, report.loss_before, report.loss_after,
            heldout, report.kept_nearest ? " (nearest kept)" : "", report.flipped, report.seconds);
  return report;
}

}  // namespace vitq

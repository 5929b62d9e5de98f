#include "passes/ptq/block_reconstruction.h"

#include <chrono>
#include <memory>
#include <random>
#include <unordered_set>

#include "autodiff/block_gradients.h"
#include "core/logging.h"
#include "exec/kernel_registry.h"
#include "exec/thread_scope.h"
#include "pattern/bridge_blocks.h"
#include "quant/math/adaround.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"

namespace vitq {
namespace {

std::string label(const Node* n) { return n->name().empty() ? n->output(0)->name() : n->name(); }

// x^ of an activation quantizer (uniform per-tensor, or log-sqrt2).
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

// One block prepared for optimization: its quantizers and the cached tensors.
class BlockProblem {
 public:
  BlockProblem(const ReconstructionBlock& block, const QuantTable& table, int64_t opset, bool quantize_activations)
      : block_(block), table_(table), opset_(opset), quantize_activations_(quantize_activations) {}

  const TensorQuant* activationQuant(const Value* v) const {
    if (!quantize_activations_) return nullptr;
    const TensorQuant* q = table_.find(v);
    return q && q->role == QuantRoleOfValue::kActivation && !q->params.scale.empty() ? q : nullptr;
  }

  // The block's inputs as the quantized model sees them (fake-quantized where quantized).
  void addSample(const ValueTensors& recorded, Tensor target) {
    ValueTensors in;
    for (const Value* v : block_.inputs) {
      const Tensor& t = recorded.at(v);
      const TensorQuant* q = activationQuant(v);
      in[v] = q ? fakeQuantActivation(t, *q) : t;
    }
    inputs_.push_back(std::move(in));
    targets_.push_back(std::move(target));
  }
  size_t samples() const { return targets_.size(); }

  // Runs the block on sample \p i with \p weights replacing their initializers; every quantized
  // activation is replaced by its fake-quantized value as soon as it is produced, so the gradient
  // passes through the quantizer unchanged (straight-through estimator).
  StatusOr<ValueTensors> forward(size_t i, const ValueTensors& weights) const {
    ValueTensors tensors = inputs_.at(i);
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
        tensors[o] = q ? fakeQuantActivation(ctx.outputs[k], *q) : std::move(ctx.outputs[k]);
      }
    }
    return tensors;
  }

  // Mean squared error of the block output over all cached samples.
  StatusOr<double> loss(const ValueTensors& weights) const {
    double sum = 0;
    int64_t count = 0;
    for (size_t i = 0; i < samples(); ++i) {
      VITQ_ASSIGN_OR_RETURN(ValueTensors t, forward(i, weights));
      const Tensor& y = t.at(block_.output);
      const float* a = y.data<float>();
      const float* b = targets_[i].data<float>();
      for (int64_t k = 0; k < y.numel(); ++k) sum += static_cast<double>(a[k] - b[k]) * (a[k] - b[k]);
      count += y.numel();
    }
    return count ? sum / static_cast<double>(count) : 0.0;
  }

  const Tensor& target(size_t i) const { return targets_.at(i); }

 private:
  const ReconstructionBlock& block_;
  const QuantTable& table_;
  int64_t opset_;
  bool quantize_activations_;
  std::vector<ValueTensors> inputs_;
  std::vector<Tensor> targets_;
};

struct LearnedWeight {
  Value* value;
  std::unique_ptr<AdaRoundWeight> rounding;
  std::unique_ptr<Adam> adam;
};

ValueTensors weightTensors(const std::vector<LearnedWeight>& weights, int mode) {  // 0 soft, 1 hard, 2 nearest
  ValueTensors out;
  for (const auto& w : weights) {
    out[w.value] = mode == 0 ? w.rounding->soft() : mode == 1 ? w.rounding->hard() : w.rounding->nearest();
  }
  return out;
}

// Deterministic integer in [0, n) from the generator (no std::distribution: fixed across libraries).
size_t drawIndex(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

}  // namespace

std::vector<ReconstructionBlock> bridgeReconstructionBlocks(const Graph& graph) {
  std::vector<ReconstructionBlock> out;
  for (const BridgeBlock& b : findBridgeBlocks(graph)) {
    ReconstructionBlock r;
    const bool forward = b.bridge.direction == BridgeMatch::Direction::kConvToTransformer;
    r.name = std::string(bridgeDirectionName(b.bridge.direction)) + ": " +
             label(forward ? b.bridge.conv : b.bridge.token_op) + " .. " + b.output->name();
    r.nodes.assign(b.nodes.begin(), b.nodes.end());
    r.inputs = b.inputs;
    r.output = b.output;
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<std::vector<BlockReconstructionReport>> reconstructBlocks(Model& model, const QuantTable& table,
                                                                   const Dataset& calib,
                                                                   const std::vector<ReconstructionBlock>& blocks,
                                                                   const ReconstructionOptions& o) {
  auto log = logger("vitq.reconstruct");
  std::vector<BlockReconstructionReport> reports;
  if (blocks.empty()) return reports;
  Graph& graph = *model.graph;
  const int64_t opset = model.opsetVersion("");
  const size_t n = std::min(o.samples, calib.size());
  if (n == 0) return invalidArgument("block reconstruction needs calibration samples");

  // Float block inputs and outputs, recorded during whole-model runs on the first n samples.
  std::vector<const Node*> all_nodes;
  for (const auto& b : blocks) all_nodes.insert(all_nodes.end(), b.nodes.begin(), b.nodes.end());
  std::vector<BlockProblem> problems;
  for (const auto& b : blocks) {
    if (!b.output) return invalidArgument("block '" + b.name + "' has no output");
    problems.emplace_back(b, table, opset, o.quantize_activations);
  }
  {
    VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(graph, opset, {o.threads}));
    for (size_t i = 0; i < n; ++i) {
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, calib.sample(i));
      BlockRecorder recorder(all_nodes);
      VITQ_RETURN_IF_ERROR(exec.run(feeds, &recorder).status());
      for (size_t b = 0; b < blocks.size(); ++b) {
        auto it = recorder.tensors().find(blocks[b].output);
        if (it == recorder.tensors().end()) return internalError("block '" + blocks[b].name + "': output not recorded");
        problems[b].addSample(recorder.tensors(), it->second);
      }
    }
  }

  // The block tensors are small and the optimization sequential: one thread for oneDNN and the kernels.
  const OmpThreadScope single_thread(1);
  std::unordered_set<const Value*> done;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const auto start = std::chrono::steady_clock::now();
    const ReconstructionBlock& block = blocks[b];
    BlockProblem& problem = problems[b];
    BlockReconstructionReport report;
    report.name = block.name;
    report.output = block.output->name();
    std::vector<LearnedWeight> weights;
    for (const Node* node : block.nodes) {
      for (const Value* v : node->inputs()) {
        const TensorQuant* q = v ? table.find(v) : nullptr;
        if (!q || q->role != QuantRoleOfValue::kWeight || q->params.scale.empty() || !v->isConstant() || done.count(v) ||
            q->spec.scheme != QuantScheme::kUniform || v->initializer().dtype() != DataType::kFloat) {
          continue;
        }
        done.insert(v);
        LearnedWeight w{const_cast<Value*>(v), std::make_unique<AdaRoundWeight>(v->initializer(), q->params, q->spec),
                        nullptr};
        w.adam = std::make_unique<Adam>(static_cast<size_t>(w.rounding->numel()), o.learning_rate);
        report.weights.push_back(v->name());
        report.elements += w.rounding->numel();
        weights.push_back(std::move(w));
      }
    }
    if (weights.empty()) {
      log->info("block {}/{} '{}': no quantized weights, skipped", b + 1, blocks.size(), block.name);
      continue;
    }
    VITQ_ASSIGN_OR_RETURN(report.loss_before, problem.loss(weightTensors(weights, 2)));

    std::vector<const Value*> wrt;
    for (const auto& w : weights) wrt.push_back(w.value);
    std::mt19937_64 rng(o.seed + 0x9E3779B97F4A7C15ull * (b + 1));
    RoundingSchedule schedule;
    schedule.total = o.iterations;
    schedule.warmup = o.warmup;
    const int batch = std::max(1, o.batch);
    // The reconstruction term is the squared error relative to nearest rounding's (1 at the start),
    // so that lambda weighs the rounding regularizer the same way whatever the block's scale.
    const double rec_scale =
        report.loss_before > 0 ? 1.0 / (report.loss_before * static_cast<double>(problem.target(0).numel())) : 1.0;
    std::vector<float> grad_v;
    double last_rec = 0, last_reg = 0;
    for (int t = 0; t < o.iterations; ++t) {
      const ValueTensors soft = weightTensors(weights, 0);
      std::vector<Tensor> grad_w;
      for (const auto& w : weights) grad_w.emplace_back(DataType::kFloat, w.value->initializer().shape());
      double rec = 0;
      for (int k = 0; k < batch; ++k) {
        const size_t i = drawIndex(rng, problem.samples());
        VITQ_ASSIGN_OR_RETURN(ValueTensors fwd, problem.forward(i, soft));
        const Tensor& y = fwd.at(block.output);
        const Tensor& target = problem.target(i);
        // Per-sample sum of squared output errors, averaged over the batch (BRECQ's form), scaled.
        Tensor g(DataType::kFloat, y.shape());
        for (int64_t e = 0; e < y.numel(); ++e) {
          const float d = y.data<float>()[e] - target.data<float>()[e];
          rec += rec_scale * d * d / batch;
          g.data<float>()[e] = static_cast<float>(2.0 * rec_scale * d / batch);
        }
        VITQ_ASSIGN_OR_RETURN(ValueTensors grads, blockGradients(graph, block.nodes, fwd, {{block.output, g}}, wrt, opset));
        for (size_t w = 0; w < weights.size(); ++w) {
          const Tensor& gw = grads.at(weights[w].value);
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
      last_rec = rec;
      last_reg = reg;
      if (o.iterations >= 4 && (t + 1) % (o.iterations / 4) == 0) {
        log->debug("block {}/{} step {}/{}: reconstruction {:.6g}, rounding regularizer {:.6g}", b + 1, blocks.size(),
                   t + 1, o.iterations, last_rec, last_reg);
      }
    }
    ValueTensors hard = weightTensors(weights, 1);
    VITQ_ASSIGN_OR_RETURN(report.loss_after, problem.loss(hard));
    if (!(report.loss_after < report.loss_before)) {
      report.kept_nearest = true;
      report.loss_after = report.loss_before;
      hard = weightTensors(weights, 2);
    } else {
      for (const auto& w : weights) report.flipped += w.rounding->flipped();
    }
    for (auto& w : weights) graph.setInitializer(w.value, hard.at(w.value));
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log->info("block {}/{} '{}': {} weights ({} elements), output MSE {:.6g} -> {:.6g}{}, {} codes changed, {:.1f} s",
              b + 1, blocks.size(), block.name, weights.size(), report.elements, report.loss_before, report.loss_after,
              report.kept_nearest ? " (nearest kept)" : "", report.flipped, report.seconds);
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace vitq

#include "passes/ptq/gptq.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "exec/executor.h"
#include "passes/ptq/input_gram.h"
#include "passes/ptq/quant_step.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

// A 2-D convolution's patches (group 1; explicit or VALID padding): the rows of its im2col.
struct ConvGeometry {
  int64_t channels = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0, pad_bottom = 0,
          pad_right = 0;
};

// One layer GPTQ rounds: its node, its weight and the activation whose X^T X it needs (for a Conv,
// X is the input's patches).
struct GptqLayer {
  const Node* node;
  Value* weight;
  const Value* input;
  bool transposed;  // stored [outputs, inputs] (Gemm transB=1, Conv [M, C, kh, kw]); else [inputs, outputs]
  int64_t inputs, outputs;
  std::optional<ConvGeometry> conv;
  // Key of the X^T X this layer reads: the input value for MatMul/Gemm (shared by q, k, v), the
  // node itself for a Conv (its patches are its own).
  const void* gramKey() const { return conv ? static_cast<const void*>(node) : static_cast<const void*>(input); }
};

// A Conv's patch rows of one sample: at most this many output positions (evenly spaced) each.
constexpr int64_t kMaxPatchesPerSample = 4096;
// Conv layers with longer patches keep nearest rounding (X^T X would take K^2 doubles).
constexpr int64_t kMaxPatchLength = 2304;

void addPatches(InputGram& g, const ConvGeometry& c, const Tensor& t) {
  if (t.rank() != 4 || t.dim(1) != c.channels) return;
  const int64_t n = t.dim(0), h = t.dim(2), w = t.dim(3);
  const int64_t oh = (h + c.pad_top + c.pad_bottom - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const int64_t ow = (w + c.pad_left + c.pad_right - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  if (oh <= 0 || ow <= 0) return;
  const int64_t positions = oh * ow, step = (positions + kMaxPatchesPerSample - 1) / kMaxPatchesPerSample;
  const int64_t used = (positions + step - 1) / step, k = c.channels * c.kh * c.kw;
  const float* x = t.data<float>();
  Eigen::MatrixXf patches(k, used);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t col = 0; col < used; ++col) {
      const int64_t pos = col * step, oy = pos / ow, ox = pos % ow;
      int64_t row = 0;
      for (int64_t ch = 0; ch < c.channels; ++ch) {
        for (int64_t ky = 0; ky < c.kh; ++ky) {
          for (int64_t kx = 0; kx < c.kw; ++kx, ++row) {
            const int64_t iy = oy * c.sh - c.pad_top + ky * c.dh, ix = ox * c.sw - c.pad_left + kx * c.dw;
            patches(row, col) = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * c.channels + ch) * h + iy) * w + ix] : 0.0f;
          }
        }
      }
    }
    g.xtx += (patches * patches.transpose()).cast<double>();
    g.rows += used;
  }
}

// X^T X of every wanted layer input over a model run on the calibration samples.
class GramHooks : public ExecHooks {
 public:
  GramHooks(std::unordered_map<const void*, InputGram>& grams, const std::vector<const GptqLayer*>& layers) : grams_(grams) {
    for (const GptqLayer* l : layers) {
      auto& readers = readers_[l->input];
      const bool seen = std::any_of(readers.begin(), readers.end(), [l](const GptqLayer* r) { return r->gramKey() == l->gramKey(); });
      if (!seen) readers.push_back(l);
    }
  }
  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    for (size_t i = 0; i < node.numOutputs(); ++i) add(node.output(i), outputs[i]);
    return Status::ok();
  }
  void add(const Value* v, const Tensor& t) {
    auto it = readers_.find(v);
    if (it == readers_.end() || t.dtype() != DataType::kFloat) return;
    for (const GptqLayer* l : it->second) {
      InputGram& g = grams_.at(l->gramKey());
      if (l->conv) addPatches(g, *l->conv, t);
      else addGramRows(g, t);
    }
  }

 private:
  std::unordered_map<const void*, InputGram>& grams_;
  std::unordered_map<const Value*, std::vector<const GptqLayer*>> readers_;
};

std::optional<ConvGeometry> convGeometry(const Node& n, const Tensor& w) {
  if (w.rank() != 4 || n.attrs().intOr("group", 1) != 1) return std::nullopt;
  const std::string pad = n.attrs().stringOr("auto_pad", "NOTSET");
  if (pad != "NOTSET" && pad != "VALID") return std::nullopt;
  ConvGeometry c;
  c.channels = w.dim(1);
  c.kh = w.dim(2);
  c.kw = w.dim(3);
  if (c.channels * c.kh * c.kw > kMaxPatchLength) return std::nullopt;
  const std::vector<int64_t> strides = n.attrs().getInts("strides").value_or(std::vector<int64_t>{1, 1});
  const std::vector<int64_t> dilations = n.attrs().getInts("dilations").value_or(std::vector<int64_t>{1, 1});
  const std::vector<int64_t> pads = pad == "VALID" ? std::vector<int64_t>{0, 0, 0, 0} : n.attrs().getInts("pads").value_or(std::vector<int64_t>{0, 0, 0, 0});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4) return std::nullopt;
  c.sh = strides[0];
  c.sw = strides[1];
  c.dh = dilations[0];
  c.dw = dilations[1];
  c.pad_top = pads[0];
  c.pad_left = pads[1];
  c.pad_bottom = pads[2];
  c.pad_right = pads[3];
  return c;
}

std::vector<GptqLayer> findLayers(Graph& g, const QuantTable& table) {
  std::vector<GptqLayer> layers;
  for (const auto& node : g.nodes()) {
    const bool matmul = node->is("MatMul");
    const bool gemm = node->is("Gemm") && node->attrs().intOr("transA", 0) == 0 && node->attrs().floatOr("alpha", 1.0f) == 1.0f;
    const bool conv = node->is("Conv");
    if ((!matmul && !gemm && !conv) || node->numInputs() < 2) continue;
    const Value* w = node->input(1);
    const Value* x = node->input(0);
    const TensorQuant* q = table.find(w);
    if (!q || q->role != QuantRoleOfValue::kWeight || q->spec.scheme != QuantScheme::kUniform || !w->isConstant() ||
        w->uses().size() != 1 || x->isConstant() || x->type().dtype != DataType::kFloat) {
      continue;
    }
    const Tensor& t = w->initializer();
    if (q->params.scale.empty() || t.dtype() != DataType::kFloat) continue;
    if (conv) {
      const std::optional<ConvGeometry> geometry = convGeometry(*node, t);
      if (!geometry) continue;
      layers.push_back({node.get(), g.mutableValue(w), x, true, t.numel() / t.dim(0), t.dim(0), geometry});
      continue;
    }
    if (t.shape().size() != 2) continue;
    const bool transposed = gemm && node->attrs().intOr("transB", 0) != 0;
    const int64_t inputs = transposed ? t.dim(1) : t.dim(0);
    const int64_t outputs = transposed ? t.dim(0) : t.dim(1);
    layers.push_back({node.get(), g.mutableValue(w), x, transposed, inputs, outputs, std::nullopt});
  }
  return layers;
}

// The grid of each element of \p l's weight in [outputs, inputs] order.
WeightGrid gridOf(const GptqLayer& l, const TensorQuant& tq) {
  const Tensor& t = l.weight->initializer();
  WeightGrid grid{Eigen::MatrixXf(l.outputs, l.inputs), Eigen::MatrixXi(l.outputs, l.inputs), tq.spec.qmin(), tq.spec.qmax()};
  const ParamIndexer index(tq.params, t.shape());
  const int64_t cols = t.numel() / t.dim(0);  // a Conv weight [M, C, kh, kw] as [M, C kh kw]
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t a = i / cols, b = i % cols;
    const int64_t r = l.transposed ? a : b, c = l.transposed ? b : a;
    grid.scale(r, c) = tq.params.scale[index(i)];
    grid.zero_point(r, c) = tq.params.zero_point[index(i)];
  }
  return grid;
}

}  // namespace

double WeightGrid::dequantized(int64_t r, int64_t c, double v) const {
  const float s = scale(r, c);
  const int32_t z = zero_point(r, c);
  return dequantizeValue(quantizeValue(static_cast<float>(v), s, z, qmin, qmax), s, z);
}

StatusOr<Eigen::MatrixXd> gptqQuantize(const Eigen::MatrixXd& w_in, const Eigen::MatrixXd& h_in, const WeightGrid& grid,
                                       const GptqOptions& o) {
  const int64_t rows = w_in.rows(), cols = w_in.cols();
  // Column order: as stored, or by decreasing H_ii (ties by index, so the order is deterministic).
  std::vector<int64_t> order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  if (o.act_order) {
    std::stable_sort(order.begin(), order.end(), [&h_in](int64_t a, int64_t b) { return h_in(a, a) > h_in(b, b); });
  }
  Eigen::MatrixXd w(rows, cols), h(cols, cols);
  for (int64_t j = 0; j < cols; ++j) {
    w.col(j) = w_in.col(order[j]);
    for (int64_t i = 0; i < cols; ++i) h(i, j) = h_in(order[i], order[j]);
  }
  // A column no calibration input reaches is rounded to nearest, decoupled from the others.
  for (int64_t i = 0; i < cols; ++i) {
    if (h(i, i) == 0) h(i, i) = 1;
  }
  const double mean_diag = h.diagonal().mean();
  Eigen::MatrixXd u;
  // Each failed factorization retries with ten times the damping (from 1e-4 when damp is 0).
  for (double damp = o.damp; ; damp = std::max(10 * damp, 1e-4)) {
    Eigen::MatrixXd damped = h;
    damped.diagonal().array() += damp * mean_diag;
    Eigen::LLT<Eigen::MatrixXd> llt(damped);
    if (llt.info() == Eigen::Success) {
      Eigen::MatrixXd inverse = llt.solve(Eigen::MatrixXd::Identity(cols, cols));
      inverse = 0.5 * (inverse + inverse.transpose());
      Eigen::LLT<Eigen::MatrixXd> inv_llt(inverse);
      if (inv_llt.info() == Eigen::Success) {
        u = inv_llt.matrixU();
        break;
      }
    }
    if (damp > 1.0) return invalidArgument("the inputs' Gram matrix is not positive definite after damping");
  }
  Eigen::MatrixXd q(rows, cols);
  const int64_t block = std::max(1, o.block_size);
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    const int64_t i2 = std::min(i1 + block, cols), n = i2 - i1;
    Eigen::MatrixXd err(rows, n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = i1 + i;
      const double d = u(c, c);
      for (int64_t r = 0; r < rows; ++r) {
        const double v = grid.dequantized(r, order[c], w(r, c));
        q(r, c) = v;
        err(r, i) = (w(r, c) - v) / d;
      }
      // The rest of this block takes the error now; later blocks all at once below.
      w.block(0, c + 1, rows, i2 - c - 1).noalias() -= err.col(i) * u.block(c, c + 1, 1, i2 - c - 1);
    }
    if (i2 < cols) w.rightCols(cols - i2).noalias() -= err * u.block(i1, i2, n, cols - i2);
  }
  Eigen::MatrixXd out(rows, cols);
  for (int64_t j = 0; j < cols; ++j) out.col(order[j]) = q.col(j);
  return out;
}

namespace {

// Wave of each layer: 0 for a layer whose input no other layer of \p layers reaches, else one more
// than the deepest such layer upstream. A wave's inputs depend only on earlier waves' weights.
std::vector<int> layerWaves(const Graph& g, const std::vector<GptqLayer>& layers) {
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < layers.size(); ++i) index[layers[i].node] = i;
  std::unordered_map<const Value*, int> depth;  // layers upstream of a value, at most
  std::vector<int> waves(layers.size(), 0);
  for (const auto& node : g.nodes()) {
    int in = 0;
    for (const Value* v : node->inputs()) {
      if (auto it = depth.find(v); v && it != depth.end()) in = std::max(in, it->second);
    }
    int out = in;
    if (auto it = index.find(node.get()); it != index.end()) {
      waves[it->second] = in;
      out = in + 1;
    }
    for (const Value* v : node->outputs()) {
      if (v) depth[v] = out;
    }
  }
  return waves;
}

// X^T X of the inputs of \p layers over the first samples of \p calib through \p g as it is now.
StatusOr<std::unordered_map<const void*, InputGram>> collectGrams(const Model& model, const std::vector<const GptqLayer*>& layers,
                                                             const Dataset& calib, const GptqOptions& o) {
  const Graph& g = *model.graph;
  std::unordered_map<const void*, InputGram> grams;
  for (const GptqLayer* l : layers) {
    auto it = grams.try_emplace(l->gramKey(), l->inputs).first;
    if (it->second.width() != l->inputs) {
      return internalError("gptq: layers reading '" + l->input->name() + "' disagree on its width");
    }
  }
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(g, model.opsetVersion(""), {o.threads}));
  GramHooks hooks(grams, layers);
  const size_t n = std::min(o.samples, calib.size());
  for (size_t i = 0; i < n; ++i) {
    VITQ_ASSIGN_OR_RETURN(TensorMap feeds, calib.sample(i));
    for (const auto& [name, t] : feeds) {
      if (const Value* v = g.findValue(name)) hooks.add(v, t);
    }
    VITQ_RETURN_IF_ERROR(exec.run(feeds, &hooks).status());
  }
  return grams;
}

// Rounds one layer's weight (GPTQ, or nearest where GPTQ is not better) and writes it back on the grid.
GptqLayerReport roundLayer(Graph& g, const GptqLayer& l, const InputGram& gram, const QuantTable& table,
                           const GptqOptions& o) {
  const TensorQuant& tq = *table.find(l.weight);
  const Tensor& t = l.weight->initializer();
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t stored_rows = t.dim(0), stored_cols = t.numel() / t.dim(0);  // a Conv weight as [M, C kh kw]
  Eigen::Map<const RowMajor> stored(t.data<float>(), stored_rows, stored_cols);
  const Eigen::MatrixXd w = l.transposed ? Eigen::MatrixXd(stored.cast<double>()) : Eigen::MatrixXd(stored.cast<double>().transpose());
  GptqLayerReport r;
  r.layer = l.node->name();
  r.weight = l.weight->name();
  r.rows = gram.rows;
  // Round to nearest, as materialize-qdq would: the baseline GPTQ must beat.
  const WeightGrid grid = gridOf(l, tq);
  Eigen::MatrixXd nearest(w.rows(), w.cols());
  for (int64_t row = 0; row < w.rows(); ++row) {
    for (int64_t c = 0; c < w.cols(); ++c) nearest(row, c) = grid.dequantized(row, c, w(row, c));
  }
  const double per_row = gram.rows > 0 ? 1.0 / static_cast<double>(gram.rows) : 0.0;
  r.error_nearest = outputError(w - nearest, gram.xtx) * per_row;
  auto chosen = gptqQuantize(w, gram.xtx, grid, o);
  if (chosen.isOk()) r.error_gptq = outputError(w - *chosen, gram.xtx) * per_row;
  r.kept_nearest = !chosen.isOk() || gram.rows == 0 || !(r.error_gptq < r.error_nearest);
  if (r.kept_nearest) r.error_gptq = r.error_nearest;
  // The weight is written on its grid either way, so that later waves see it as the model will.
  const Eigen::MatrixXd& q = r.kept_nearest ? nearest : *chosen;
  Tensor out(DataType::kFloat, t.shape());
  Eigen::Map<RowMajor> written(out.data<float>(), stored_rows, stored_cols);
  if (l.transposed) written = q.cast<float>();
  else written = q.transpose().cast<float>();
  r.weight_sqnr_db = differenceError(t, out).sqnrDb();
  g.setInitializer(l.weight, std::move(out));
  return r;
}

}  // namespace

StatusOr<std::vector<GptqLayerReport>> gptqWeights(Model& model, const QuantTable& table, const Dataset& calib,
                                                   const GptqOptions& o) {
  Graph& g = *model.graph;
  const std::vector<GptqLayer> layers = findLayers(g, table);
  std::vector<GptqLayerReport> reports(layers.size());
  if (layers.empty()) return reports;
  const std::vector<int> waves = o.sequential ? layerWaves(g, layers) : std::vector<int>(layers.size(), 0);
  const int last_wave = *std::max_element(waves.begin(), waves.end());
  auto log = logger("vitq.quantize");
  for (int wave = 0; wave <= last_wave; ++wave) {
    std::vector<const GptqLayer*> now;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (waves[i] == wave) now.push_back(&layers[i]);
    }
    if (now.empty()) continue;
    VITQ_ASSIGN_OR_RETURN(auto grams, collectGrams(model, now, calib, o));
    for (size_t i = 0; i < layers.size(); ++i) {
      if (waves[i] != wave) continue;
      reports[i] = roundLayer(g, layers[i], grams.at(layers[i].gramKey()), table, o);
      log->debug("gptq {} (wave {}): output error {:.4g} -> {:.4g}{}", reports[i].layer, wave, reports[i].error_nearest,
                 reports[i].error_gptq, reports[i].kept_nearest ? " (nearest kept)" : "");
    }
  }
  return reports;
}

namespace {

class GptqStep final : public QuantStep {
 public:
  const char* name() const override { return "gptq"; }
  const char* summary() const override {
    return "--gptq: MatMul/Gemm/Conv weights rounded column by column with the error compensated through the inputs' "
           "Hessian (GPTQ), on the calibrated grid";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().finalRunOnly(); }
  bool enabled(const PipelineOptions& o) const override { return o.gptq; }
  void enable(PipelineOptions& o) const override { o.gptq = true; }
  std::vector<StepOption> options() const override {
    return {numberOption(
                "damp", 0, 1, false, [](const PipelineOptions& o) { return o.gptq_options.damp; },
                [](PipelineOptions& o, double v) { o.gptq_options.damp = v; }, 0.01),
            numberOption(
                "block-size", 1, 4096, true, [](const PipelineOptions& o) { return o.gptq_options.block_size; },
                [](PipelineOptions& o, double v) { o.gptq_options.block_size = static_cast<int>(v); }, 128),
            numberOption(
                "samples", 1, 1e6, true, [](const PipelineOptions& o) { return static_cast<double>(o.gptq_options.samples); },
                [](PipelineOptions& o, double v) { o.gptq_options.samples = static_cast<size_t>(v); }, 128),
            switchOption(
                "act-order", [](const PipelineOptions& o) { return o.gptq_options.act_order; },
                [](PipelineOptions& o) { o.gptq_options.act_order = true; }),
            choiceOption<bool>(
                "inputs", {{"quantized", true}, {"float", false}},
                [](const PipelineOptions& o) { return o.gptq_options.sequential; },
                [](PipelineOptions& o, bool sequential) { o.gptq_options.sequential = sequential; }, true)};
  }
  Status run(QuantContext& ctx) const override {
    const QuantOptions& q = ctx.options.quant;
    if (!q.weights_only && q.activation_bits <= 4) {
      logger("vitq.quantize")->warn("gptq rounds each layer for its unquantized inputs; with {}-bit activations it "
                                    "can lower accuracy (Fashion ViT W4A4 mse: 85.9 % -> 78.3 %, docs/recipes.md): "
                                    "compare with a run without --gptq", q.activation_bits);
    }
    GptqOptions o = ctx.options.gptq_options;
    o.threads = ctx.options.threads;
    VITQ_ASSIGN_OR_RETURN(ctx.report.gptq, gptqWeights(ctx.model, ctx.table, ctx.calib, o));
    int improved = 0;
    for (const auto& r : ctx.report.gptq) improved += r.kept_nearest ? 0 : 1;
    logger("vitq.quantize")->info("gptq: {} of {} layers rounded with error compensation", improved, ctx.report.gptq.size());
    return Status::ok();
  }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.gptq) {
      layers.push_back({{"layer", l.layer}, {"weight", l.weight}, {"rows", l.rows}, {"error_nearest", l.error_nearest},
                        {"error_gptq", l.error_gptq}, {"kept_nearest", l.kept_nearest}});
    }
    const GptqOptions& g = o.gptq_options;
    out["recipe"]["gptq"] = {{"damp", g.damp}, {"block_size", g.block_size}, {"act_order", g.act_order},
                             {"samples", g.samples}, {"inputs", g.sequential ? "quantized" : "float"},
                             {"layers", layers}};
  }
};

}  // namespace

const QuantStep& gptqStep() {
  static const GptqStep step;
  return step;
}

}  // namespace vitq

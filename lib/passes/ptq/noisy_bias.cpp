#include "passes/ptq/noisy_bias.h"

#include <Eigen/Dense>
#include <cmath>
#include <random>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "exec/gemm.h"
#include "exec/thread_scope.h"
#include "passes/ptq/linear_rewrite.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/quant_step.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Consumer {
  Node* node;
  Matrix w;      // float weight as [C_in, C_out]
  Matrix w_hat;  // its quantized-dequantized form
  float alpha;   // Gemm alpha (1 for MatMul)
};

struct Site {
  Value* activation;
  std::vector<Consumer> consumers;
};

bool matchesLayers(const Node& n, const std::vector<std::string>& layers) {
  if (layers.empty()) return true;
  for (const auto& p : layers) {
    if (matchesNodePattern(n, p)) return true;
  }
  return false;
}

// [C_in, C_out] view of a MatMul or Gemm weight.
Matrix asInputMajor(const Node& n, const Tensor& w) {
  const bool trans = n.is("Gemm") && n.attrs().intOr("transB", 0);
  Eigen::Map<const Matrix> m(w.data<float>(), w.dim(0), w.dim(1));
  return trans ? Matrix(m.transpose()) : Matrix(m);
}

std::vector<Site> findSites(Graph& g, const QuantTable& table, const std::vector<std::string>& layers) {
  std::vector<Site> sites;
  for (const Value* cv : table.values()) {
    const TensorQuant& q = *table.find(cv);
    if (q.role != QuantRoleOfValue::kActivation || q.spec.scheme != QuantScheme::kUniform || q.params.perChannel() ||
        !cv->hasUses() || g.isOutput(cv)) {
      continue;
    }
    Site site{g.mutableValue(cv), {}};
    bool ok = true;
    for (const Use& u : cv->uses()) {
      Node* n = u.user;
      if (n->is("Shape") || n->is("Size")) continue;  // reads only the shape
      const Value* w = n->input(1);
      const TensorQuant* wq = table.find(w);
      const bool linear = (n->is("MatMul") || (n->is("Gemm") && !n->attrs().intOr("transA", 0))) && u.index == 0 &&
                          wq && wq->role == QuantRoleOfValue::kWeight && w->initializer().rank() == 2;
      if (!linear || !matchesLayers(*n, layers)) {
        ok = false;
        break;
      }
      const Tensor w_hat = fakeQuantizeTensor(w->initializer(), wq->params, wq->spec);
      site.consumers.push_back({n, asInputMajor(*n, w->initializer()), asInputMajor(*n, w_hat),
                                n->is("Gemm") ? n->attrs().floatOr("alpha", 1.0f) : 1.0f});
    }
    if (ok && !site.consumers.empty()) sites.push_back(std::move(site));
  }
  return sites;
}

// N0, one value per channel, from the seed (a fixed mapping of mt19937_64's output, so the bytes
// do not depend on the standard library's distributions).
std::vector<float> baseNoise(size_t channels, float s, uint64_t seed, bool gaussian) {
  std::mt19937_64 rng(seed);
  auto unit = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };  // (0, 1)
  std::vector<float> n(channels);
  for (auto& v : n) {
    if (gaussian) {
      const double g = std::sqrt(-2.0 * std::log(unit())) * std::cos(2.0 * M_PI * unit());  // Box-Muller
      v = static_cast<float>(s * (2.0 * g - 1.0));
    } else {
      v = static_cast<float>(s * (2.0 * unit() - 1.0));
    }
  }
  return n;
}

// a b through the executor's GEMM (the search runs hundreds of these products).
Matrix product(const Matrix& a, const Matrix& b) {
  Matrix c(a.rows(), b.cols());
  sgemm(false, false, a.rows(), b.cols(), a.cols(), 1.0f, a.data(), a.cols(), b.data(), b.cols(), 0.0f, c.data(),
        c.cols());
  return c;
}

// Sum over consumers of |(Q(X + N) - N) W^ - X W|^2, and the float outputs' energy.
double outputError(const Matrix& x, const std::vector<float>& noise, const TensorQuant& q,
                   const std::vector<Consumer>& consumers, const std::vector<Matrix>& reference) {
  Matrix xq(x.rows(), x.cols());
  const float s = q.params.scale[0];
  const int32_t z = q.params.zero_point[0];
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      const float n = noise.empty() ? 0.0f : noise[static_cast<size_t>(c)];
      xq(r, c) = dequantizeValue(quantizeValue(x(r, c) + n, s, z, q.spec.qmin(), q.spec.qmax()), s, z) - n;
    }
  }
  double err = 0;
  for (size_t k = 0; k < consumers.size(); ++k) err += (product(xq, consumers[k].w_hat) - reference[k]).squaredNorm();
  return err;
}

double sqnrDb(double signal, double noise) { return noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY; }

}  // namespace

Value* insertNoisyBias(Graph& g, Value* x, const std::vector<float>& noise,
                       const std::vector<std::pair<Node*, Tensor>>& weights) {
  const int64_t channels = static_cast<int64_t>(noise.size());
  Value* n = g.addInitializer(g.uniqueName(x->name() + "_noise"), Tensor::fromVector<float>(noise, {channels}));
  Node* before = x->producer() ? g.nodeAfter(x->producer()) : (g.nodes().empty() ? nullptr : g.nodes().front().get());
  Node* add = g.addNode("Add", {x, n}, 1, "", before);
  Value* noisy = add->output(0);
  g.renameValue(noisy, g.uniqueName(x->name() + "_noisy"));
  add->setName(noisy->name());
  noisy->type() = x->type();
  for (const auto& [node, w] : weights) {
    for (size_t i = 0; i < node->numInputs(); ++i) {
      if (node->input(i) == x) g.setInput(node, i, noisy);
    }
    const float alpha = node->is("Gemm") ? node->attrs().floatOr("alpha", 1.0f) : 1.0f;
    const Eigen::Map<const Eigen::RowVectorXf> nv(noise.data(), channels);
    const Eigen::Map<const Matrix> wm(w.data<float>(), w.dim(0), w.dim(1));
    const Eigen::RowVectorXf correction = -alpha * (nv * wm);
    addToLinearBias(g, node, std::vector<float>(correction.data(), correction.data() + correction.size()));
  }
  return noisy;
}

StatusOr<std::vector<NoisyBiasSite>> applyNoisyBias(Model& model, QuantTable& table, const Dataset& calib,
                                                    const NoisyBiasOptions& o) {
  const OmpThreadScope threads(o.threads);
  Graph& g = *model.graph;
  std::vector<Site> sites = findSites(g, table, o.layers);
  std::vector<NoisyBiasSite> results;
  if (sites.empty()) return results;
  std::unordered_set<const Value*> wanted;
  for (const auto& s : sites) wanted.insert(s.activation);
  VITQ_ASSIGN_OR_RETURN(CalibrationResult rows,
                        calibrate(g, model.opsetVersion(""), calib,
                                  [&o](const Value&) { return makeRowSampleObserver(o.rows, o.seed); },
                                  [&wanted](const Value& v) { return wanted.count(&v) > 0; }, {o.threads}));
  for (size_t i = 0; i < sites.size(); ++i) {
    Site& site = sites[i];
    const TensorStats& st = rows.stats.at(site.activation->name());
    const int64_t channels = st.row_width;
    if (channels != site.consumers.front().w.rows() || st.rows.empty()) continue;
    const Matrix x = Eigen::Map<const Matrix>(st.rows.data(), static_cast<Eigen::Index>(st.rows.size()) / channels,
                                              channels);
    std::vector<Matrix> reference;
    double signal = 0;
    for (const auto& c : site.consumers) {
      reference.push_back(product(x, c.w));
      signal += reference.back().squaredNorm();
    }
    TensorQuant& q = *table.find(site.activation);
    // Each activation draws its own N0 from the seed and its position, so adding a layer elsewhere
    // does not change this one's noise.
    const std::vector<float> n0 =
        baseNoise(static_cast<size_t>(channels), q.params.scale[0], o.seed * 1000003ULL + i, o.gaussian);
    const double err0 = outputError(x, {}, q, site.consumers, reference);
    // First a common shift m in (-s, s) (the official "mean search"), then the noise amplitude
    // on top of it: N = m + a N0.
    const float s = q.params.scale[0];
    double best_err = err0, best_m = 0, best_a = 0;
    auto search = [&](double m, double a) {
      std::vector<float> n(n0.size());
      for (size_t c = 0; c < n.size(); ++c) n[c] = static_cast<float>(m + a * n0[c]);
      const double err = outputError(x, n, q, site.consumers, reference);
      if (err < best_err) {
        best_err = err;
        best_m = m;
        best_a = a;
      }
    };
    for (int k = -o.mean_steps / 2 + 1; k < o.mean_steps / 2; ++k) {
      if (k != 0) search(s * 2.0 * k / o.mean_steps, 0.0);
    }
    const double m = best_m;
    for (int k = 1; k < o.amplitude_steps; ++k) search(m, 2.0 * k / o.amplitude_steps);
    NoisyBiasSite r{site.activation->name(), {}, best_a, best_m, sqnrDb(signal, err0), sqnrDb(signal, best_err)};
    for (const auto& c : site.consumers) r.consumers.push_back(c.node->name());
    if (best_a > 0 || best_m != 0) {
      std::vector<float> noise(n0.size());
      for (size_t c = 0; c < n0.size(); ++c) noise[c] = static_cast<float>(best_m + best_a * n0[c]);
      std::vector<std::pair<Node*, Tensor>> weights;
      for (const auto& c : site.consumers) {
        Tensor w(DataType::kFloat, {c.w_hat.rows(), c.w_hat.cols()});
        Eigen::Map<Matrix>(w.data<float>(), c.w_hat.rows(), c.w_hat.cols()) = c.w_hat;
        weights.emplace_back(c.node, std::move(w));
      }
      Value* noisy = insertNoisyBias(g, site.activation, noise, weights);
      table.rekey(site.activation, noisy);
    }
    results.push_back(std::move(r));
  }
  return results;
}

namespace {

class NoisyBiasStep final : public QuantStep {
 public:
  const char* name() const override { return "noisy-bias"; }
  const char* summary() const override {
    return "+noisy: fixed noise before activation quantizers, compensated in the next layer's bias";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().finalRunOnly(); }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    out["recipe"]["noisy_bias"] = {{"seed", o.noisy.seed}, {"distribution", o.noisy.gaussian ? "gaussian" : "uniform"},
                                   {"amplitude_steps", o.noisy.amplitude_steps}, {"layers", o.noisy.layers}};
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& site : r.noisy_bias) {
      sites.push_back({{"activation", site.activation}, {"consumers", site.consumers}, {"amplitude", site.amplitude},
                       {"shift", site.shift}, {"sqnr_before_db", site.sqnr_before_db},
                       {"sqnr_after_db", site.sqnr_after_db}});
    }
    out["noisy_bias"] = sites;
  }
  bool enabled(const PipelineOptions& o) const override { return o.noisy_bias; }
  void enable(PipelineOptions& o) const override { o.noisy_bias = true; }
  Status run(QuantContext& ctx) const override {
    NoisyBiasOptions noisy = ctx.options.noisy;
    noisy.threads = ctx.options.threads;
    VITQ_ASSIGN_OR_RETURN(ctx.report.noisy_bias, applyNoisyBias(ctx.model, ctx.table, ctx.calib, noisy));
    logger("vitq.quantize")->info("noisy bias searched on {} activations", ctx.report.noisy_bias.size());
    return Status::ok();
  }
};

}  // namespace

const QuantStep& noisyBiasStep() {
  static const NoisyBiasStep step;
  return step;
}

}  // namespace vitq

// log-softmax (RepQ-ViT section 2.3): the attention probabilities read only by the context MatMul
// get the log-sqrt2 quantizer instead of a uniform one; the calibrate step then searches its scale
// on a histogram (mseLogSqrt2Scale) and materialize-qdq writes it (log_quant_export.h).
//
//   Softmax -> [uniform q] -> MatMul(., V)   becomes   Softmax -> [log-sqrt2 q] -> MatMul(., V)
#include "core/logging.h"
#include "passes/ptq/quant_step.h"
#include "pattern/transformer_patterns.h"

namespace vitq {
namespace {

// Post-Softmax probabilities read directly by the attention's second MatMul get the log quantizer.
int markLogSoftmax(const Graph& g, QuantTable& table) {
  int marked = 0;
  for (const AttentionMatch& m : findAttention(g)) {
    Value* p = m.softmax->output(0);
    TensorQuant* q = table.find(p);
    if (!q || m.context_matmul->input(0) != p || p->uses().size() != 1) continue;
    q->spec.scheme = QuantScheme::kLogSqrt2;
    q->spec.is_signed = false;
    q->spec.symmetric = false;
    ++marked;
  }
  return marked;
}


class LogSoftmaxStep final : public QuantStep {
 public:
  const char* name() const override { return "log-softmax"; }
  const char* summary() const override { return "repq-vit: log-sqrt2 quantizers on attention probabilities"; }
  StepTraits traits() const override { return {}; }
  bool enabled(const PipelineOptions& o) const override { return o.log_softmax; }
  void enable(PipelineOptions& o) const override { o.log_softmax = true; }
  Status run(QuantContext& ctx) const override {
    ctx.report.log_softmax = markLogSoftmax(*ctx.model.graph, ctx.table);
    return Status::ok();
  }
};

}  // namespace

const QuantStep& logSoftmaxStep() {
  static const LogSoftmaxStep step;
  return step;
}

}  // namespace vitq

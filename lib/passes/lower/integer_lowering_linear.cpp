// I-ViT lowering of the linear ops: the input quantizer, Conv, MatMul, Gemm, residual Add, constant
// scales, and the output dequantizer.
#include "passes/lower/integer_lowering_context.h"

namespace vitq::integer_lowering_detail {

Status Lowering::lowerInput(Value* x, const std::string& prefix) {
  const double s = scaleFor(x, o_.activation_bits);
  const int64_t qmax = qmaxOf(o_.activation_bits);
  Rep rep;
  rep.v = quantizeAtRunTime(x, s, qmax, prefix + x->name());
  rep.scale = {static_cast<float>(s)};  // the float32 scale the graph divides by
  rep.bound = qmax;
  reps_[x] = rep;
  return Status::ok();
}

Status Lowering::lowerConv(Node& n) {
  Value* w = n.input(1);
  if (!w || !w->isConstant() || !hasRep(n.input(0))) return unsupported("node " + n.describe() + ": needs a constant weight");
  if (w->initializer().numel() == 0) {  // no output channel to divide the codes among (a division by zero)
    return unsupported("node " + n.describe() + ": its weight '" + w->name() + "' of shape " +
                       shapeToString(w->initializer().shape()) +
                       " has no elements; --format integer has no integer form for an empty layer");
  }
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  VITQ_ASSIGN_OR_RETURN(UnsignedCodes x, unsignedInput(n.input(0), reps_.at(n.input(0)), hint + "/in"));
  const Tensor& wt = w->initializer();
  const int64_t M = wt.dim(0);
  std::vector<double> sw;
  VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, M, wt.numel() / M, false, sw));
  // ONNX Runtime's ConvInteger is uint8 x uint8: weight codes + 128 with zero point 128; the
  // input's zero point pads.
  Tensor wu(DataType::kUInt8, wt.shape());
  for (int64_t i = 0; i < wt.numel(); ++i) wu.data<uint8_t>()[i] = static_cast<uint8_t>(wq.data<int8_t>()[i] + 128);
  Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_u8"), std::move(wu));
  Value* wzp = g_.addInitializer(g_.uniqueName(hint + "_weight_zero_point"), Tensor::fromVector<uint8_t>({128}, {}));
  Value* acc = node("ConvInteger", {x.v, wv, x.zero_point, wzp}, DataType::kInt32, hint);
  copyAttrs(n, last_);
  Rep r;
  r.axis = 1;
  r.chan_shape = {M, 1, 1};
  for (double s : sw) r.scale.push_back(x.scale * s);
  r.bound = x.bound * qmaxOf(o_.weight_bits) * (wt.numel() / M);
  r.v = acc;
  if (n.input(2)) addBias(r, n.input(2)->initializer(), hint);
  r.acc = true;
  reps_[n.output(0)] = r;
  ++report_->convolutions;
  return Status::ok();
}

Status Lowering::lowerMatMul(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* b = n.input(1);
  if (!hasRep(a)) return unsupported("node " + n.describe() + ": first input has no integer form");
  VITQ_ASSIGN_OR_RETURN(Rep ra, narrowInput(a, reps_.at(a), hint + "/a"));
  Value* a8 = cast(ra.v, DataType::kInt8, hint);
  const int64_t q = qmaxOf(o_.activation_bits);
  Rep r;
  if (b->isConstant() && b->initializer().rank() == 2) {
    const Tensor& wt = b->initializer();
    const int64_t K = wt.dim(0), N = wt.dim(1);
    std::vector<double> sw;
    VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, N, 1, true, sw));
    Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_i8"), std::move(wq));
    r.v = node("MatMulInteger", {a8, wv}, DataType::kInt32, hint);
    for (double s : sw) r.scale.push_back(ra.scale[0] * s);
    r.chan_shape = {N};
    const auto& dims = n.output(0)->type().dims;
    r.axis = dims ? static_cast<int64_t>(dims->size()) - 1 : 2;
    r.bound = q * qmaxOf(o_.weight_bits) * K;
    r.acc = true;
    ++report_->linear;
  } else {
    if (!hasRep(b)) return unsupported("node " + n.describe() + ": second input has no integer form");
    VITQ_ASSIGN_OR_RETURN(Rep rb, narrowInput(b, reps_.at(b), hint + "/b"));
    Value* b8 = cast(rb.v, DataType::kInt8, hint);
    r.v = node("MatMulInteger", {a8, b8}, DataType::kInt32, hint);
    r.scale = {ra.scale[0] * rb.scale[0]};
    int64_t K = 4096;
    const auto& dims = b->type().dims;
    if (dims && dims->size() >= 2 && (*dims)[dims->size() - 2].isKnown()) K = (*dims)[dims->size() - 2].value;
    r.bound = ra.bound * rb.bound * K;
    ++report_->activation_matmuls;
  }
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerGemm(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* w = n.input(1);
  if (!hasRep(a) || !w->isConstant() || n.attrs().intOr("transA", 0) != 0 ||
      n.attrs().floatOr("alpha", 1.0f) != 1.0f || n.attrs().floatOr("beta", 1.0f) != 1.0f) {
    return unsupported("node " + n.describe() + ": only Gemm(x, W const, C const), alpha = beta = 1, no transA");
  }
  VITQ_ASSIGN_OR_RETURN(Rep ra, narrowInput(a, reps_.at(a), hint + "/a"));
  Value* a8 = cast(ra.v, DataType::kInt8, hint);
  const Tensor& wt0 = w->initializer();
  const bool transB = n.attrs().intOr("transB", 0) != 0;
  const int64_t K = transB ? wt0.dim(1) : wt0.dim(0), N = transB ? wt0.dim(0) : wt0.dim(1);
  Tensor wt(DataType::kFloat, {K, N});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) wt.data<float>()[k * N + j] = transB ? wt0.data<float>()[j * K + k] : wt0.data<float>()[k * N + j];
  std::vector<double> sw;
  VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, N, 1, true, sw));
  Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_i8"), std::move(wq));
  Rep r;
  r.v = node("MatMulInteger", {a8, wv}, DataType::kInt32, hint);
  for (double s : sw) r.scale.push_back(ra.scale[0] * s);
  r.chan_shape = {N};
  r.axis = 1;
  r.bound = qmaxOf(o_.activation_bits) * qmaxOf(o_.weight_bits) * K;
  if (n.input(2)) {
    if (!n.input(2)->isConstant()) return unsupported("node " + n.describe() + ": Gemm C must be constant");
    const Tensor& c = n.input(2)->initializer();
    if (c.numel() != N) return unsupported("node " + n.describe() + ": Gemm C must have N elements");
    addBias(r, c, hint);
  }
  r.acc = true;
  reps_[n.output(0)] = r;
  ++report_->linear;
  return Status::ok();
}

Status Lowering::lowerAdd(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* b = n.input(1);
  // Bias of a linear accumulator: add its codes at the accumulator's scales.
  for (int k = 0; k < 2; ++k) {
    Value* x = k == 0 ? a : b;
    Value* c = k == 0 ? b : a;
    if (!hasRep(x) || !c->isConstant() || !reps_.at(x).acc) continue;
    const Rep& rx = reps_.at(x);
    const Tensor& ct = c->initializer();
    const int64_t C = static_cast<int64_t>(rx.scale.size());
    if (ct.dtype() != DataType::kFloat) continue;
    // A scalar (PP-LCNet's learnable affine, HardSwish's + 3) rides on any accumulator; a vector
    // only on one whose channels are its last axis.
    const bool scalar = ct.numel() == 1;
    if (!scalar && (ct.rank() != 1 || rx.axis < 0 || rx.chan_shape.size() != 1 || ct.numel() != C)) continue;
    const Tensor per_channel = scalar ? Tensor::fromVector<float>(std::vector<float>(static_cast<size_t>(C), ct.data<float>()[0]),
                                                                  {C})
                                      : ct;
    Rep r = rx;
    addBias(r, per_channel, hint);
    reps_[n.output(0)] = r;
    return Status::ok();
  }
  // Residual add: each branch to the output's 16-bit scale, summed, clipped.
  const int bits = o_.residual_bits;
  const double s = scaleFor(n.output(0), bits);
  const int64_t qmax = qmaxOf(bits);
  std::vector<Value*> parts;
  for (int k = 0; k < 2; ++k) {
    Value* x = n.input(k);
    if (hasRep(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, requant(reps_.at(x), s, bits, hint + "/branch" + std::to_string(k)));
      parts.push_back(v);
    } else if (isConstantLike(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, constantCodes(x, s, bits, hint + "/const"));
      parts.push_back(v);
    } else {
      return unsupported("node " + n.describe() + ": input '" + x->name() + "' has no integer form");
    }
  }
  Value* sum = node("Add", {parts[0], parts[1]}, DataType::kInt32, hint);
  Rep r;
  r.v = node("Clip", {sum, g_.addInitializer(g_.uniqueName(hint + "_lo"), Tensor::fromVector<int32_t>({static_cast<int32_t>(-qmax)}, {})),
                      g_.addInitializer(g_.uniqueName(hint + "_hi"), Tensor::fromVector<int32_t>({static_cast<int32_t>(qmax)}, {}))},
             DataType::kInt32, hint);
  r.scale = {s};
  r.bound = qmax;
  reps_[n.output(0)] = r;
  ++report_->residual_adds;
  return Status::ok();
}


// Mul or Div by a positive constant scalar (the attention's 1/sqrt(d)): folded into the scale.
Status Lowering::lowerScale(Node& n) {
  if (const Node* sig = siluSigmoid(n)) return lowerSilu(n, *sig);
  if (n.is("Mul") && hasRep(n.input(0)) && hasRep(n.input(1))) return lowerProduct(n);
  Value* x = hasRep(n.input(0)) ? n.input(0) : n.input(1);
  Value* c = x == n.input(0) ? n.input(1) : n.input(0);
  if (!hasRep(x) || !c || !c->isConstant() || c->initializer().numel() != 1 || (n.is("Div") && x != n.input(0))) {
    return unsupported("node " + n.describe() + ": only Mul/Div of integer codes by a constant scalar is lowered");
  }
  const double k = c->initializer().scalarAsDouble();
  if (!(k > 0) || !std::isfinite(k)) return unsupported("node " + n.describe() + ": the constant must be positive");
  Rep r = reps_.at(x);
  for (double& s : r.scale) s = n.is("Mul") ? s * k : s / k;
  reps_[n.output(0)] = r;
  return Status::ok();
}


// codes x scale, in float: per channel where the codes are.
Value* Lowering::dequantize(const Rep& r, const std::string& hint) {
  Value* f = cast(r.v, DataType::kFloat, hint);
  std::vector<float> scale(r.scale.begin(), r.scale.end());
  const std::vector<int64_t> shape = r.perChannel() ? r.chan_shape : std::vector<int64_t>{};
  return node("Mul", {f, g_.addInitializer(g_.uniqueName(hint + "_scale"), Tensor::fromVector<float>(scale, shape))},
              DataType::kFloat, hint);
}

// An op without an integer form, kept in float by choice: its integer inputs are dequantized
// ("float_boundary/" nodes), it runs as it is, and each float output is quantized again with its
// calibrated range, as a graph input is.
Status Lowering::lowerAtFloatBoundary(Node& n) {
  const std::string hint = "float_boundary/" + (n.name().empty() ? n.output(0)->name() : n.name());
  for (size_t i = 0; i < n.numInputs(); ++i) {
    Value* x = n.input(i);
    if (!x || x->type().dtype != DataType::kFloat || isConstantLike(x)) continue;
    if (!hasRep(x)) return unsupported("node " + n.describe() + ": input '" + x->name() + "' has no integer form");
    g_.setInput(&n, i, dequantize(reps_.at(x), hint + "/in" + std::to_string(i)));
  }
  for (Value* out : n.outputs()) {
    if (out && out->type().dtype == DataType::kFloat) VITQ_RETURN_IF_ERROR(lowerInput(out, "float_boundary/"));
  }
  report_->float_ops.push_back(n.describe());
  return Status::ok();
}

Status Lowering::lowerOutput(size_t index) {
  Value* out = g_.outputs()[index];
  if (!hasRep(out)) return Status::ok();  // non-float outputs stay as they are
  const std::string name = out->name();
  Value* y = dequantize(reps_.at(out), "output_dequantizer/" + name);
  y->type() = out->type();
  g_.renameValue(out, g_.uniqueName(name + "_float"));
  g_.setOutput(index, y);
  g_.renameValue(y, name);
  return Status::ok();
}

}  // namespace vitq::integer_lowering_detail

#include "passes/ptq/matmul_nbits_export.h"

#include <optional>

#include "ir/quantized_codes.h"
#include "passes/ptq/contrib_blocks.h"
#include "passes/ptq/linear_rewrite.h"

namespace vitq {
namespace {

constexpr int32_t kSymmetricZero = 8;  // the zero point MatMulNBits assumes when none is given

// A 4-bit weight DequantizeLinear as MatMulNBits reads it: the element (k, n) of the [K, N]
// product operand, its block, and where its scale and zero point are.
struct NBitsWeight {
  const Tensor* codes = nullptr;
  const Tensor* scale = nullptr;
  const Tensor* zero_point = nullptr;  // null: 0
  bool transposed = false;             // codes stored [N, K] (Gemm transB = 1)
  int64_t k = 0, n = 0, block = 0;
  enum { kTensor, kChannel, kBlocked } layout = kTensor;

  int64_t blocks() const { return (k + block - 1) / block; }
  int64_t codeIndex(int64_t row, int64_t col) const { return transposed ? col * k + row : row * n + col; }
  // The DequantizeLinear parameter index of block b of column col.
  int64_t paramIndex(int64_t b, int64_t col) const {
    if (layout == kTensor) return 0;
    if (layout == kChannel) return col;
    return transposed ? col * blocks() + b : b * n + col;
  }
  // Unsigned 4-bit code of element (row, col) and of its zero point: int4 codes are shifted by 8.
  int32_t unsignedCode(int64_t row, int64_t col) const {
    const int32_t c = readCode(codes->dtype(), codes->rawData(), codeIndex(row, col));
    return codes->dtype() == DataType::kInt4 ? c + kSymmetricZero : c;
  }
  int32_t unsignedZero(int64_t b, int64_t col) const {
    const int32_t z = zero_point ? readCode(zero_point->dtype(), zero_point->rawData(), paramIndex(b, col)) : 0;
    return codes->dtype() == DataType::kInt4 ? z + kSymmetricZero : z;
  }
};

int64_t wholeColumnBlock(int64_t k) {
  int64_t b = kMinContribBlock;
  while (b < k) b *= 2;
  return b;
}

// The weight of \p node (MatMul or Gemm reading a DequantizeLinear output as B) in \p out if
// MatMulNBits can compute it; otherwise why not ("" when the node is no 4-bit weight product at all).
std::string readWeight(const Node& node, NBitsWeight& out) {
  NBitsWeight w;
  const bool gemm = node.is("Gemm");
  if ((!node.is("MatMul") && !gemm) || node.numInputs() < 2) return "";
  const Node* dq = node.input(1)->producer();
  if (!dq || !dq->is("DequantizeLinear") || !dq->input(0)->isConstant()) return "";
  const Tensor& codes = dq->input(0)->initializer();
  if (codes.dtype() != DataType::kInt4 && codes.dtype() != DataType::kUInt4) return "";
  if (codes.rank() != 2) return "its weight is not a 2-D matrix";
  if (node.input(1)->uses().size() != 1) return "its dequantized weight has other readers";
  if (gemm && (node.attrs().intOr("transA", 0) != 0 || node.attrs().floatOr("alpha", 1.0f) != 1.0f ||
               (node.numInputs() > 2 && node.input(2) && node.attrs().floatOr("beta", 1.0f) != 1.0f))) {
    return "Gemm with transA, alpha != 1 or beta != 1";
  }
  if (node.input(0)->type().dtype != DataType::kFloat) return "its input is not float32";
  if (!dq->input(1)->isConstant() || (dq->numInputs() > 2 && dq->input(2) && !dq->input(2)->isConstant())) {
    return "its scale or zero point is not constant";
  }
  w.codes = &codes;
  w.scale = &dq->input(1)->initializer();
  w.zero_point = dq->numInputs() > 2 && dq->input(2) ? &dq->input(2)->initializer() : nullptr;
  w.transposed = gemm && node.attrs().intOr("transB", 0) != 0;
  w.k = w.transposed ? codes.dim(1) : codes.dim(0);
  w.n = w.transposed ? codes.dim(0) : codes.dim(1);
  const int64_t input_axis = w.transposed ? 1 : 0;
  const int64_t axis = dq->attrs().intOr("axis", 1), block = dq->attrs().intOr("block_size", 0);
  if (w.scale->dtype() != DataType::kFloat) return "its scale is not float32";
  if (w.scale->numel() == 1) {
    w.layout = NBitsWeight::kTensor;
    w.block = wholeColumnBlock(w.k);
  } else if (block > 0) {
    if (axis != input_axis) return "its blocks do not run along the input dimension";
    if (!isContribBlock(block)) {
      return "block size " + std::to_string(block) + " (MatMulNBits takes powers of two >= 16)";
    }
    w.layout = NBitsWeight::kBlocked;
    w.block = block;
  } else {
    if (axis != 1 - input_axis || w.scale->numel() != w.n) return "its scales are not one per output column";
    w.layout = NBitsWeight::kChannel;
    w.block = wholeColumnBlock(w.k);
  }
  out = w;
  return {};
}

// B, scales and (unless every zero point is 8) zero points in MatMulNBits' layout.
struct NBitsTensors {
  Tensor b, scales;
  std::optional<Tensor> zero_points;
};

NBitsTensors pack(const NBitsWeight& w) {
  const int64_t blocks = w.blocks(), blob = w.block / 2, zero_bytes = (blocks + 1) / 2;
  NBitsTensors t{Tensor(DataType::kUInt8, {w.n, blocks, blob}), Tensor(DataType::kFloat, {w.n * blocks}), std::nullopt};
  Tensor zeros(DataType::kUInt8, {w.n * zero_bytes});
  uint8_t* b = t.b.data<uint8_t>();
  float* scales = t.scales.data<float>();
  bool all_symmetric = true;
  for (int64_t col = 0; col < w.n; ++col) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int32_t zero = w.unsignedZero(blk, col);
      all_symmetric = all_symmetric && zero == kSymmetricZero;
      scales[col * blocks + blk] = w.scale->data<float>()[w.paramIndex(blk, col)];
      writeCode(DataType::kUInt4, zeros.data<uint8_t>() + col * zero_bytes, blk, zero);
      uint8_t* block_bytes = b + (col * blocks + blk) * blob;
      for (int64_t j = 0; j < w.block; ++j) {
        const int64_t row = blk * w.block + j;
        // Past K the codes are never read; they hold the zero point, i.e. weight 0.
        writeCode(DataType::kUInt4, block_bytes, j, row < w.k ? w.unsignedCode(row, col) : zero);
      }
    }
  }
  if (!all_symmetric) t.zero_points = std::move(zeros);
  return t;
}

void rewrite(Graph& g, Node* node, const NBitsWeight& w) {
  Node* dq = node->input(1)->producer();
  const std::string base = node->name().empty() ? node->output(0)->name() : node->name();
  NBitsTensors packed = pack(w);
  Node* nbits = g.createNode("MatMulNBits", "com.microsoft", g.uniqueName(base + "_nbits"), node);
  g.appendInput(nbits, node->input(0));
  g.appendInput(nbits, g.addInitializer(g.uniqueName(dq->input(0)->name() + "_nbits"), std::move(packed.b)));
  g.appendInput(nbits, g.addInitializer(g.uniqueName(dq->input(1)->name() + "_nbits"), std::move(packed.scales)));
  if (packed.zero_points) {
    g.appendInput(nbits, g.addInitializer(g.uniqueName(dq->input(0)->name() + "_zero_nbits"),
                                          std::move(*packed.zero_points)));
  }
  nbits->attrs().set("K", Attribute::makeInt(w.k));
  nbits->attrs().set("N", Attribute::makeInt(w.n));
  nbits->attrs().set("bits", Attribute::makeInt(4));
  nbits->attrs().set("block_size", Attribute::makeInt(w.block));
  Value* y = node->output(0);
  Value* out = g.createValue(y->name() + "_nbits");
  g.appendOutput(nbits, out);
  out->type() = y->type();
  if (node->is("Gemm") && node->numInputs() > 2 && node->input(2)) {  // Gemm's C (beta 1) as an Add
    Node* add = g.addNode("Add", {out, node->input(2)}, 1, "", node);
    add->setName(g.uniqueName(base + "_bias"));
    add->output(0)->type() = y->type();
    out = add->output(0);
  }
  const std::string name = y->name();
  std::vector<Value*> inputs = {dq->input(0), dq->input(1)};
  if (dq->numInputs() > 2 && dq->input(2)) inputs.push_back(dq->input(2));
  g.replaceAllUsesWith(y, out);
  g.eraseNode(node);
  g.eraseNode(dq);
  g.renameValue(out, name);
  for (Value* v : inputs) eraseIfUnused(g, v);
}

}  // namespace

StatusOr<MatMulNBitsStats> writeMatMulNBits(Model& model) {
  Graph& g = *model.graph;
  MatMulNBitsStats stats;
  for (Node* node : g.nodeList()) {
    NBitsWeight w;
    const std::string why_not = readWeight(*node, w);
    if (!w.codes) {
      if (!why_not.empty()) stats.kept.push_back(node->name() + ": " + why_not);
      continue;
    }
    rewrite(g, node, w);
    ++stats.fused;
  }
  if (stats.fused > 0) importContribDomain(model);
  return stats;
}

}  // namespace vitq

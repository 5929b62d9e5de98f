#include "passes/ptq/gather_block_quantized_export.h"

#include "passes/ptq/contrib_blocks.h"
#include "passes/ptq/linear_rewrite.h"

namespace vitq {
namespace {

// The block size GatherBlockQuantized reads the table of \p dq with, or 0 and why not.
int64_t blockOf(const Node& dq, std::string& why) {
  const Tensor& codes = dq.input(0)->initializer();
  const Tensor& scale = dq.input(1)->initializer();
  const int64_t rank = codes.rank(), width = codes.shape().back();
  int64_t axis = dq.attrs().intOr("axis", 1);
  if (axis < 0) axis += rank;
  const int64_t block = dq.attrs().intOr("block_size", 0);
  if (block > 0) {
    if (axis != rank - 1) return why = "its blocks do not run along the rows", 0;
    if (!isContribBlock(block)) {
      return why = "block size " + std::to_string(block) + " (GatherBlockQuantized takes powers of two >= 16)", 0;
    }
    if (width % block != 0) return why = "rows of " + std::to_string(width) + " are not whole blocks", 0;
    return block;
  }
  if (rank != 2 || axis != 0 || scale.numel() != codes.dim(0)) return why = "its scales are not one per row", 0;
  if (!isContribBlock(width)) {
    return why = "one scale per row of " + std::to_string(width) + " (a block must be a power of two >= 16)", 0;
  }
  return width;
}

// Gather(DQ(table), ids) with a 4-bit constant table: the DequantizeLinear, or null when \p node
// is no such Gather (then \p why says why, empty for nodes that are not 4-bit tables at all).
const Node* tableOf(const Node& node, std::string& why) {
  if (!node.is("Gather") || node.numInputs() < 2) return nullptr;
  const Node* dq = node.input(0)->producer();
  if (!dq || !dq->is("DequantizeLinear") || !dq->input(0)->isConstant()) return nullptr;
  const DataType type = dq->input(0)->initializer().dtype();
  if (type != DataType::kInt4 && type != DataType::kUInt4) return nullptr;
  const int64_t axis = node.attrs().intOr("axis", 0);
  if (axis != 0 && axis != -dq->input(0)->initializer().rank()) {
    return why = "it gathers along axis " + std::to_string(axis) + ", not the rows", nullptr;
  }
  if (!dq->input(1)->isConstant() || dq->input(1)->initializer().dtype() != DataType::kFloat ||
      (dq->numInputs() > 2 && dq->input(2) && !dq->input(2)->isConstant())) {
    return why = "its scale is not a constant float32 or its zero point not constant", nullptr;
  }
  return dq;
}

// A per-row parameter [V] as GatherBlockQuantized's [V, 1] (the same values).
Value* asColumn(Graph& g, Value* v) {
  const Tensor& t = v->initializer();
  if (t.rank() == 2) return v;
  return g.addInitializer(g.uniqueName(v->name() + "_rows"), t.reshaped({t.numel(), 1}));
}

void rewrite(Graph& g, Node* gather, Node* dq, int64_t block) {
  const bool per_row = dq->attrs().intOr("block_size", 0) == 0;
  Node* fused = g.createNode("GatherBlockQuantized", "com.microsoft", g.uniqueName(gather->name() + "_block_quantized"),
                             gather);
  g.appendInput(fused, dq->input(0));
  g.appendInput(fused, gather->input(1));
  g.appendInput(fused, per_row ? asColumn(g, dq->input(1)) : dq->input(1));
  if (dq->numInputs() > 2 && dq->input(2)) g.appendInput(fused, per_row ? asColumn(g, dq->input(2)) : dq->input(2));
  fused->attrs().set("gather_axis", Attribute::makeInt(0));
  fused->attrs().set("quantize_axis", Attribute::makeInt(dq->input(0)->initializer().rank() - 1));
  fused->attrs().set("block_size", Attribute::makeInt(block));
  Value* y = gather->output(0);
  Value* out = g.createValue(y->name() + "_block_quantized");
  g.appendOutput(fused, out);
  out->type() = y->type();
  const std::string name = y->name();
  g.replaceAllUsesWith(y, out);
  g.eraseNode(gather);
  g.renameValue(out, name);
  if (!dq->output(0)->hasUses()) {  // a table tied to a layer's weight keeps its DequantizeLinear
    std::vector<Value*> inputs(dq->inputs().begin(), dq->inputs().end());
    g.eraseNode(dq);
    for (Value* v : inputs) eraseIfUnused(g, v);
  }
}

}  // namespace

StatusOr<GatherBlockQuantizedStats> writeGatherBlockQuantized(Model& model) {
  Graph& g = *model.graph;
  GatherBlockQuantizedStats stats;
  for (Node* node : g.nodeList()) {
    std::string why;
    const Node* dq = tableOf(*node, why);
    const int64_t block = dq ? blockOf(*dq, why) : 0;
    if (block == 0) {
      if (!why.empty()) stats.kept.push_back(node->name() + ": " + why);
      continue;
    }
    rewrite(g, node, node->input(0)->producer(), block);
    ++stats.fused;
  }
  if (stats.fused > 0) importContribDomain(model);
  return stats;
}

}  // namespace vitq

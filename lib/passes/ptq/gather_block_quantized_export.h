// The weight-only export of quantized embedding tables for ONNX Runtime (with
// materialize-qdq{matmul-nbits}, `--weight-format matmul-nbits --embeddings`): a Gather that reads
// rows of a 4-bit DequantizeLinear table becomes one com.microsoft.GatherBlockQuantized node,
//
//   Gather(DQ(E_q, s, z, axis, block_size), ids)   =>   GatherBlockQuantized(E_q, ids, s[, z])
//
// on the same codes, so only the gathered rows are dequantized at run time (ONNX Runtime computes
// a DequantizeLinear of a constant table on every run: MiniLM's 30522 x 384 table costs it more
// than the whole encoder). Blocks run along the rows' last axis, as GatherBlockQuantized needs;
// a table with one scale per row is one block per row where the row's length is a power of two
// >= 16. Other tables keep their DequantizeLinear, and the report says why.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct GatherBlockQuantizedStats {
  int fused = 0;                  // GatherBlockQuantized nodes written
  std::vector<std::string> kept;  // "node: reason" for 4-bit tables left as DequantizeLinear
};

/// Rewrites every eligible Gather of a 4-bit DequantizeLinear table in \p model and imports the
/// com.microsoft domain when it writes one.
StatusOr<GatherBlockQuantizedStats> writeGatherBlockQuantized(Model& model);

}  // namespace vitq

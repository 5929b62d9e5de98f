// com.microsoft.GatherBlockQuantized (ONNX Runtime's gather from a block-quantized table, the
// 4-bit token embeddings of weight-only language models): rows of data (INT4/UINT4 codes, ONNX's
// packed layout) picked by indices along gather_axis 0 and dequantized on the way out,
// (code - zero_point) x scale with one scale (and zero point) per block_size codes along the last
// axis (quantize_axis). Only the gathered rows are dequantized, so a run costs the rows it reads,
// not the table.
#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"
#include "ir/quantized_codes.h"

namespace vitq {
namespace {

Status gatherBlockQuantizedKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& scales = ctx.input(2);
  const Tensor* zeros = ctx.hasInput(3) ? &ctx.input(3) : nullptr;
  const int64_t block = ctx.attrs().intOr("block_size", 128);
  if (data.dtype() != DataType::kInt4 && data.dtype() != DataType::kUInt4) {
    return ctx.error("data must be int4 or uint4 codes (got " + std::string(dataTypeName(data.dtype())) + ")");
  }
  if (data.rank() < 2) return ctx.error("data must have rank >= 2");
  if (ctx.attrs().intOr("gather_axis", 0) != 0) return ctx.error("only gather_axis 0 is supported");
  const int64_t quantize_axis = ctx.attrs().intOr("quantize_axis", 1);
  if (quantize_axis != data.rank() - 1 && quantize_axis != -1) {
    return ctx.error("only the last axis may be quantize_axis (got " + std::to_string(quantize_axis) + ")");
  }
  if (block < 16 || (block & (block - 1)) != 0) {
    return ctx.error("block_size must be a power of two >= 16 (got " + std::to_string(block) + ")");
  }
  const int64_t width = data.shape().back(), blocks = (width + block - 1) / block;
  if (data.numel() == 0) return ctx.error("data " + shapeToString(data.shape()) + " has no elements");
  const int64_t rows = data.dim(0), row_size = data.numel() / rows, row_blocks = row_size / width * blocks;
  Shape param_shape = data.shape();  // DequantizeLinear's blocked layout: the last dim in blocks
  param_shape.back() = blocks;
  if (scales.dtype() != DataType::kFloat || scales.shape() != param_shape) {
    return ctx.error("scales must be float " + shapeToString(param_shape) + " (data " + shapeToString(data.shape()) +
                     " in blocks of " + std::to_string(block) + "), got " + std::string(dataTypeName(scales.dtype())) +
                     " " + shapeToString(scales.shape()));
  }
  if (zeros && (zeros->dtype() != data.dtype() || zeros->shape() != param_shape)) {
    return ctx.error("zero_points must be " + std::string(dataTypeName(data.dtype())) + " " + shapeToString(param_shape));
  }
  std::vector<int64_t> idx;
  VITQ_RETURN_IF_ERROR(readIndices(ctx, indices, rows, idx));
  Shape shape = indices.shape();
  shape.insert(shape.end(), data.shape().begin() + 1, data.shape().end());
  Tensor y = Tensor::uninitialized(DataType::kFloat, shape);
  const float* s = scales.data<float>();
  float* out = y.data<float>();
  const auto n = static_cast<int64_t>(idx.size());
#pragma omp parallel for schedule(static) if (n * row_size > 65536)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = idx[static_cast<size_t>(j)];
    for (int64_t o = 0; o < row_size; ++o) {
      const int64_t param = row * row_blocks + (o / width) * blocks + (o % width) / block;
      const int32_t zero = zeros ? readCode(zeros->dtype(), zeros->rawData(), param) : 0;
      const int32_t code = readCode(data.dtype(), data.rawData(), row * row_size + o);
      out[j * row_size + o] = static_cast<float>(code - zero) * s[param];
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerGatherBlockQuantizedKernel(KernelRegistry& r) {
  r.add("GatherBlockQuantized", gatherBlockQuantizedKernel, "com.microsoft");
}

}  // namespace vitq

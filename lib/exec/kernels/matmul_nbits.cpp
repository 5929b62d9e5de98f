// com.microsoft.MatMulNBits (ONNX Runtime's block-wise low-bit weight product): Y = A x W^T with W
// [N, K] dequantized from B (uint8 [N, blocks, block * bits / 8], codes little-endian within each
// byte), scales [N * blocks] and optional zero points (packed uint8 codes, or float values of the
// scales' type; 2^(bits-1) when absent), plus an optional bias [N]. The weights are dequantized
// once per run and multiplied with the float GEMM, so Y equals MatMul(A, DequantizeLinear(...))
// up to summation order. g_idx (act-order permutations) is refused.
#include <cmath>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/kernel_utils.h"

namespace vitq {
namespace {

// Code \p i of a little-endian stream of \p bits-bit codes.
int32_t packedCode(const uint8_t* p, int64_t i, int64_t bits) {
  const int64_t bit = i * bits;
  return (p[bit / 8] >> (bit % 8)) & ((1 << bits) - 1);
}

Status matMulNBitsKernel(KernelContext& ctx) {
  const int64_t k = ctx.attrs().intOr("K", 0), n = ctx.attrs().intOr("N", 0);
  const int64_t bits = ctx.attrs().intOr("bits", 4), block = ctx.attrs().intOr("block_size", 0);
  if (k <= 0 || n <= 0) return ctx.error("attributes K and N must be positive");
  if (bits != 2 && bits != 4 && bits != 8) return ctx.error("bits must be 2, 4 or 8 (got " + std::to_string(bits) + ")");
  if (block < 16 || (block & (block - 1)) != 0) {
    return ctx.error("block_size must be a power of two >= 16 (got " + std::to_string(block) + ")");
  }
  if (ctx.hasInput(4)) return ctx.error("g_idx (act-order column permutations) is not supported");
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& scales = ctx.input(2);
  const int64_t blocks = (k + block - 1) / block, blob = block * bits / 8;
  if (a.dtype() != DataType::kFloat || scales.dtype() != DataType::kFloat) return ctx.error("A and scales must be float32");
  if (a.rank() < 1 || a.shape().back() != k) {
    return ctx.error("A " + shapeToString(a.shape()) + " must end in K = " + std::to_string(k));
  }
  if (b.dtype() != DataType::kUInt8 || b.numel() != n * blocks * blob) {
    return ctx.error("B must be uint8 [N, blocks, blob] = [" + std::to_string(n) + ", " + std::to_string(blocks) + ", " +
                     std::to_string(blob) + "], got " + shapeToString(b.shape()));
  }
  if (scales.numel() != n * blocks) return ctx.error("scales must hold N * blocks = " + std::to_string(n * blocks) + " values");
  const Tensor* zeros = ctx.hasInput(3) ? &ctx.input(3) : nullptr;
  const int64_t zero_bytes = (blocks * bits + 7) / 8;
  if (zeros && !(zeros->dtype() == DataType::kUInt8 && zeros->numel() == n * zero_bytes) &&
      !(zeros->dtype() == DataType::kFloat && zeros->numel() == n * blocks)) {
    return ctx.error("zero_points must be packed uint8 [N * " + std::to_string(zero_bytes) + "] or float [N * blocks]");
  }
  const Tensor* bias = ctx.hasInput(5) ? &ctx.input(5) : nullptr;
  if (bias && (bias->dtype() != DataType::kFloat || bias->numel() != n)) return ctx.error("bias must be float [N]");

  // W [N, K], row n dequantized block by block.
  Tensor w = Tensor::uninitialized(DataType::kFloat, {n, k});
  const uint8_t* codes = b.data<uint8_t>();
  const float* s = scales.data<float>();
  const float default_zero = static_cast<float>(1 << (bits - 1));
  for (int64_t col = 0; col < n; ++col) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      float zero = default_zero;
      if (zeros && zeros->dtype() == DataType::kUInt8) {
        zero = static_cast<float>(packedCode(zeros->data<uint8_t>() + col * zero_bytes, blk, bits));
      } else if (zeros) {
        zero = zeros->data<float>()[col * blocks + blk];
      }
      const float scale = s[col * blocks + blk];
      const uint8_t* blob_bytes = codes + (col * blocks + blk) * blob;
      for (int64_t j = 0; j < block && blk * block + j < k; ++j) {
        w.data<float>()[col * k + blk * block + j] = (static_cast<float>(packedCode(blob_bytes, j, bits)) - zero) * scale;
      }
    }
  }
  Shape out_shape = a.shape();
  out_shape.back() = n;
  Tensor y = Tensor::uninitialized(DataType::kFloat, out_shape);
  const int64_t m = a.numel() / k;
  sgemm(false, true, m, n, k, 1.0f, a.data<float>(), k, w.data<float>(), k, 0.0f, y.data<float>(), n);
  if (bias) {
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t col = 0; col < n; ++col) y.data<float>()[r * n + col] += bias->data<float>()[col];
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerMatMulNBitsKernel(KernelRegistry& r) { r.add("MatMulNBits", matMulNBitsKernel, "com.microsoft"); }

}  // namespace vitq

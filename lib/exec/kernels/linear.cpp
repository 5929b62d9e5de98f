// MatMul (numpy semantics: 1-D promotion, broadcast batch dims) and Gemm, both through sgemm.
#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/broadcast.h"

namespace vitq {
namespace {

Status matmulKernel(KernelContext& ctx) {
  const Tensor& a_in = ctx.input(0);
  const Tensor& b_in = ctx.input(1);
  if (a_in.dtype() != DataType::kFloat || b_in.dtype() != DataType::kFloat) {
    return ctx.error(std::string("only float MatMul is supported, got ") + dataTypeName(a_in.dtype()) + " x " +
                     dataTypeName(b_in.dtype()));
  }
  if (a_in.rank() == 0 || b_in.rank() == 0) return ctx.error("MatMul inputs must have rank >= 1");
  // 1-D operands are promoted to matrices and the added dim removed from the result.
  const bool a_vec = a_in.rank() == 1, b_vec = b_in.rank() == 1;
  Shape as = a_vec ? Shape{1, a_in.dim(0)} : a_in.shape();
  Shape bs = b_vec ? Shape{b_in.dim(0), 1} : b_in.shape();
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) {
    return ctx.error("inner dimensions differ: " + shapeToString(a_in.shape()) + " x " + shapeToString(b_in.shape()));
  }
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  VITQ_ASSIGN_OR_RETURN(Shape batch, broadcastShapes(ctx, a_batch, b_batch));
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(m);
  if (!b_vec) out_shape.push_back(n);
  Tensor y = Tensor::uninitialized(DataType::kFloat, out_shape);
  const float* a = a_in.data<float>();
  const float* b = b_in.data<float>();
  float* c = y.data<float>();
  const int64_t batches = product(batch);
  if (b_batch.empty() || product(b_batch) == 1) {
    // Shared right operand (weights): one GEMM over all rows of A when A is not broadcast.
    if (product(a_batch) == batches) {
      sgemm(false, false, batches * m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      ctx.setOutput(0, std::move(y));
      return Status::ok();
    }
  }
  const auto a_strides = broadcastStrides(a_batch, batch);
  const auto b_strides = broadcastStrides(b_batch, batch);
  // Batched products (attention heads) are small: one per thread beats splitting each one, and
  // each is then computed as with one thread (same bits for any thread count).
#pragma omp parallel for schedule(static) if (batches > 1 && ctx.threads > 1)
  for (int64_t i = 0; i < batches; ++i) {
    int64_t ai = 0, bi = 0, rem = i;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      ai += idx * a_strides[d];
      bi += idx * b_strides[d];
    }
    sgemm(false, false, m, n, k, 1.0f, a + ai * m * k, k, b + bi * k * n, n, 0.0f, c + i * m * n, n);
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status gemmKernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != DataType::kFloat || b.dtype() != DataType::kFloat) return ctx.error("only float Gemm is supported");
  if (a.rank() != 2 || b.rank() != 2) return ctx.error("Gemm inputs must be 2-D");
  const bool ta = ctx.attrs().intOr("transA", 0) != 0, tb = ctx.attrs().intOr("transB", 0) != 0;
  const float alpha = ctx.attrs().floatOr("alpha", 1.0f), beta = ctx.attrs().floatOr("beta", 1.0f);
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t n = tb ? b.dim(0) : b.dim(1), kb = tb ? b.dim(1) : b.dim(0);
  if (k != kb) return ctx.error("inner dimensions differ: " + shapeToString(a.shape()) + " x " + shapeToString(b.shape()));
  Tensor y = Tensor::uninitialized(DataType::kFloat, {m, n});
  float* out = y.data<float>();
  float c_beta = 0.0f;
  if (ctx.hasInput(2) && beta != 0.0f) {
    const Tensor& c = ctx.input(2);
    if (c.dtype() != DataType::kFloat) return ctx.error("C must be float");
    VITQ_ASSIGN_OR_RETURN(Shape s, broadcastShapes(ctx, c.shape(), {m, n}));
    if (s != Shape{m, n}) return ctx.error("C of shape " + shapeToString(c.shape()) + " does not broadcast to the output");
    const float* pc = c.data<float>();
    forEachBroadcast({m, n}, {c.shape()}, [&](int64_t i, const int64_t* o) { out[i] = pc[o[0]]; });
    c_beta = beta;
  }
  sgemm(ta, tb, m, n, k, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1), c_beta, out, n);
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerLinearKernels(KernelRegistry& r) {
  r.add("MatMul", matmulKernel);
  r.add("Gemm", gemmKernel);
}

}  // namespace vitq

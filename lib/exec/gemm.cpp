#include "exec/gemm.h"

#include <Eigen/Core>

#include <vector>

namespace vitq {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  Eigen::Map<RowMajor, 0, Stride> C(c, m, n, Stride(ldc));
  if (beta == 0.0f) C.setZero();
  else if (beta != 1.0f) C *= beta;
  if (m == 0 || n == 0 || k == 0) return;
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  Eigen::Map<const RowMajor, 0, Stride> A(a, a_rows, a_cols, Stride(lda));
  Eigen::Map<const RowMajor, 0, Stride> B(b, b_rows, b_cols, Stride(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

template <typename TA, typename TB>
void gemmInteger(int64_t m, int64_t n, int64_t k, const TA* a, int32_t a_zero, const TB* b, const int32_t* b_zero,
                 bool b_zero_per_column, int32_t* c) {
  // Exact integer arithmetic: widen to int32 once, then an int32 Eigen product (no overflow for
  // 8-bit inputs while k < 2^15).
  using IntMat = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  IntMat A(m, k), B(k, n);
  for (int64_t i = 0; i < m * k; ++i) A.data()[i] = static_cast<int32_t>(a[i]) - a_zero;
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      B(r, j) = static_cast<int32_t>(b[r * n + j]) - b_zero[b_zero_per_column ? j : 0];
    }
  }
  Eigen::Map<IntMat> C(c, m, n);
  C.noalias() = A * B;
}

template void gemmInteger<int8_t, int8_t>(int64_t, int64_t, int64_t, const int8_t*, int32_t, const int8_t*,
                                          const int32_t*, bool, int32_t*);
template void gemmInteger<uint8_t, int8_t>(int64_t, int64_t, int64_t, const uint8_t*, int32_t, const int8_t*,
                                           const int32_t*, bool, int32_t*);
template void gemmInteger<int8_t, uint8_t>(int64_t, int64_t, int64_t, const int8_t*, int32_t, const uint8_t*,
                                           const int32_t*, bool, int32_t*);
template void gemmInteger<uint8_t, uint8_t>(int64_t, int64_t, int64_t, const uint8_t*, int32_t, const uint8_t*,
                                            const int32_t*, bool, int32_t*);

}  // namespace vitq

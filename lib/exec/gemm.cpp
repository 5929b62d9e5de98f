#include "exec/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <Eigen/Core>

#include <vector>

#include "core/check.h"

namespace vitq {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // oneDNN leaves C alone for k == 0; ONNX wants beta * C
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
    return;
  }
  // oneDNN's sgemm is row-major and reaches the FMA peak of this CPU class; it threads with OpenMP.
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                          beta, c, ldc);
  // Only malformed arguments (a bug in the caller) make it fail.
  VITQ_CHECK(status == dnnl_success) << "dnnl_sgemm failed with status " << static_cast<int>(status);
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

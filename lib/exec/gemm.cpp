#include "exec/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdlib>
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

namespace {

// How large the operands of an integer product get once their zero points are taken out: enough to
// bound every partial sum of C = A B.
struct OperandBounds {
  int64_t max_a = 0, max_b = 0;
  int64_t max_row_sum = 0;  // max over rows i of sum_k |a_ik|
  int64_t max_col_sum = 0;  // max over columns j of sum_k |b_kj|
};

template <typename TA, typename TB>
OperandBounds operandBounds(int64_t m, int64_t n, int64_t k, const TA* a, int32_t a_zero, const TB* b,
                            const int32_t* b_zero, bool b_zero_per_column) {
  OperandBounds out;
  for (int64_t i = 0; i < m; ++i) {
    int64_t row_sum = 0;
    for (int64_t r = 0; r < k; ++r) {
      const int64_t v = std::abs(static_cast<int32_t>(a[i * k + r]) - a_zero);
      row_sum += v;
      out.max_a = std::max(out.max_a, v);
    }
    out.max_row_sum = std::max(out.max_row_sum, row_sum);
  }
  std::vector<int64_t> col_sum(static_cast<size_t>(n), 0);
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t v = std::abs(static_cast<int32_t>(b[r * n + j]) - b_zero[b_zero_per_column ? j : 0]);
      col_sum[static_cast<size_t>(j)] += v;
      out.max_b = std::max(out.max_b, v);
    }
  }
  for (int64_t v : col_sum) out.max_col_sum = std::max(out.max_col_sum, v);
  return out;
}

// A [m, k] and B [k, n] with their zero points taken out, as T (float or int32; exact either way).
template <typename T, typename TA, typename TB>
void widen(int64_t m, int64_t n, int64_t k, const TA* a, int32_t a_zero, const TB* b, const int32_t* b_zero,
           bool b_zero_per_column, std::vector<T>& wa, std::vector<T>& wb) {
  wa.resize(static_cast<size_t>(m * k));
  wb.resize(static_cast<size_t>(k * n));
  for (int64_t i = 0; i < m * k; ++i) wa[static_cast<size_t>(i)] = static_cast<T>(static_cast<int32_t>(a[i]) - a_zero);
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      wb[static_cast<size_t>(r * n + j)] =
          static_cast<T>(static_cast<int32_t>(b[r * n + j]) - b_zero[b_zero_per_column ? j : 0]);
    }
  }
}

}  // namespace

template <typename TA, typename TB>
void gemmInteger(int64_t m, int64_t n, int64_t k, const TA* a, int32_t a_zero, const TB* b, const int32_t* b_zero,
                 bool b_zero_per_column, int32_t* c) {
  if (m == 0 || n == 0) return;
  const OperandBounds bounds = operandBounds(m, n, k, a, a_zero, b, b_zero, b_zero_per_column);
  // Every partial sum of c_ij, in any order, is an integer of magnitude at most
  // sum_k |a_ik| |b_kj|. Below 2^24 each one is a float exactly, so the float GEMM (several times
  // faster than an int32 one) computes the same integers. The bound is taken both ways round.
  const int64_t bound = std::min(bounds.max_row_sum * bounds.max_b, bounds.max_a * bounds.max_col_sum);
  if (k > 0 && bound < (int64_t{1} << 24)) {
    std::vector<float> fa, fb, fc(static_cast<size_t>(m * n));
    widen(m, n, k, a, a_zero, b, b_zero, b_zero_per_column, fa, fb);
    sgemm(false, false, m, n, k, 1.0f, fa.data(), k, fb.data(), n, 0.0f, fc.data(), n);
    for (int64_t i = 0; i < m * n; ++i) c[i] = static_cast<int32_t>(fc[static_cast<size_t>(i)]);
    return;
  }
  // Otherwise exact int32 arithmetic (no overflow for 8-bit inputs while k < 2^15).
  std::vector<int32_t> ia, ib;
  widen(m, n, k, a, a_zero, b, b_zero, b_zero_per_column, ia, ib);
  using IntMat = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const IntMat> A(ia.data(), m, k), B(ib.data(), k, n);
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

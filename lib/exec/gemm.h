// The one GEMM interface every matrix product goes through (MatMul, Gemm, Conv via im2col, the
// integer kernels), so the backend can change without touching kernels.
#pragma once

#include <cstdint>

namespace vitq {

/// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major with leading dimensions.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// C[m,n] = sum_k (A[m,k] - a_zero) * (B[k,n] - b_zero) in int32, row-major; A and B are int8 or
/// uint8 (given as int32-widening accessors through the template), computed exactly (through the
/// float GEMM where every partial sum provably fits 24 bits, else in int32).
template <typename TA, typename TB>
void gemmInteger(int64_t m, int64_t n, int64_t k, const TA* a, int32_t a_zero, const TB* b, const int32_t* b_zero,
                 bool b_zero_per_column, int32_t* c);

}  // namespace vitq

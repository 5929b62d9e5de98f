// Dyadic requantization (docs/algorithms.md §0.4): a real multiplier M (usually s_acc / s_out) as
// M ≈ m · 2^−c with an int32 mantissa m, so that an integer accumulator is rescaled by one
// multiply, one add and one shift:
//
//   y = clamp((acc · m + 2^(c−1)) >> c, qmin, qmax)
//
// Decomposition (I-ViT): frexp(|M|) = (f, e), f in [0.5, 1); m = round_half_up(f · 2^31); if that
// rounds to 2^31, m = 2^30 and e + 1 (the mantissa guard); c = 31 − e. A negative M gives −m, so
// dyadicFromScale(−M) == −dyadicFromScale(M) (I-LayerNorm's negative γ).
//
// Rounding of the result: half toward +inf on the exact value acc · m / 2^c, i.e. floor(v + 1/2),
// for negative values too (2.5 → 3, −2.5 → −2, −0.5 → 0). I-ViT's Python simulation rounds half to
// even; the two differ only on exact ties.
//
// Range: the product is formed in 128 bits, so every int64 accumulator is exact. With |acc| ≤ 2^31
// (int32 accumulators) a shift above 62 always gives 0; shifts above 95 give 0 for every int64.
// M ≥ 2^31 (shift ≤ 0) multiplies by m · 2^−c and saturates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vitq {

struct Dyadic {
  int32_t multiplier = 0;  ///< m: |m| in [2^30, 2^31), or 0 for M == 0 or |M| < 2^−65
  int shift = 0;           ///< c: y = round(acc · m / 2^c); c ≤ 0 when |M| ≥ 2^31

  /// The multiplier this pair stands for, m · 2^−c.
  double value() const;
  bool operator==(const Dyadic& o) const { return multiplier == o.multiplier && shift == o.shift; }
};

/// Decomposition of a finite M (VITQ_CHECK otherwise). |M| < 2^−65 (c ≥ 96) gives {0, 0}: every int64
/// accumulator requantizes to 0 either way. \p mantissa_bits b (1 to 31) gives |m| in [2^(b−1), 2^b)
/// and c = b − e: the integer lowering takes fewer bits where its int64 products need headroom.
Dyadic dyadicFromScale(double M, int mantissa_bits = 31);
std::vector<Dyadic> dyadicFromScales(const std::vector<double>& Ms);

/// Smallest and largest code of a \p bits integer: signed bits in [2, 32], unsigned in [1, 31].
int64_t intRangeMin(int bits, bool is_signed);
int64_t intRangeMax(int bits, bool is_signed);

/// round_half_up(acc · m / 2^c), clamped to the \p bits range (signed or unsigned).
int32_t requantize(int64_t acc, Dyadic d, int bits, bool is_signed);

/// Per-channel requantization of a [outer, C, inner] block, C = d.size(): element (o, c, i) uses
/// d[c]. Linear outputs [tokens, C] are inner = 1; NCHW convolutions are inner = H·W.
template <typename Acc>
void requantizePerChannel(const Acc* acc, int64_t outer, const std::vector<Dyadic>& d, int64_t inner, int bits,
                          bool is_signed, int32_t* out) {
  const int64_t channels = static_cast<int64_t>(d.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i, ++acc, ++out) *out = requantize(*acc, d[c], bits, is_signed);
}

}  // namespace vitq

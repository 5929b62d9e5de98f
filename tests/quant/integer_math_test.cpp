// Integer-only kernels (lib/quant/math/dyadic.h, integer_nonlinear.h): dyadic requantization bit
// for bit against a long double / 128-bit reference, the exact integer square root, and each I-ViT
// nonlinearity against its float function over every int8 input code and a sweep of scales.
//
// Error bounds asserted here (each ~1.5x the worst case measured on these sweeps; the same table
// is in docs/integer-kernels.md). A = 127 s is the real absmax of an int8 input with scale s.
//   ShiftExp, x in [−255, 0]:    relative error where exp(xs) ≥ 2^−7, absolute error elsewhere,
//                                per band of 1/s (kExpBounds)
//   Shiftmax, rows of int8 codes: absolute error of each probability, per band of 1/s (kSoftmaxBounds)
//   ShiftGELU:                   |ŷ − GELU(x)| ≤ bound · max(1, |x|), per band of A (kGeluBounds)
//   I-LayerNorm:                 |ŷ − (x−μ)/σ| ≤ 1.6 · [(1/2 + |ŷ|/√C)/σ_int + |ŷ|·√C·σ_int/2^31 + √C/2^30]
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "quant/math/dyadic.h"
#include "quant/math/integer_nonlinear.h"

namespace vitq {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min(), kI32Max = std::numeric_limits<int32_t>::max();

// Reference requantization. int32 accumulators: long double, exact (|acc·m| < 2^62 fits its
// 64-bit mantissa, and so does acc·m + 2^(c−1) whenever c ≤ 63; beyond, the value is below 1/4
// in magnitude and floor(v + 1/2) is 0 either way). Wider accumulators: floor division in 128 bits.
int64_t referenceRound(int64_t acc, Dyadic d) {
  if (acc >= kI32Min && acc <= kI32Max) {
    const long double v = std::ldexp(static_cast<long double>(acc) * d.multiplier, -d.shift);
    if (std::fabs(v) > 9e18L) return v < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(std::floor(v + 0.5L));
  }
  const Int128 p = static_cast<Int128>(acc) * d.multiplier;
  if (d.shift <= 0) return p == 0 ? 0 : (p < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max());
  if (d.shift > 100) return 0;
  const Int128 den = static_cast<Int128>(1) << d.shift, num = p + den / 2;
  Int128 q = num / den;
  if (num % den != 0 && num < 0) --q;
  return static_cast<int64_t>(std::clamp<Int128>(q, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
}

int32_t referenceRequantize(int64_t acc, Dyadic d, int bits, bool is_signed) {
  return static_cast<int32_t>(std::clamp(referenceRound(acc, d), intRangeMin(bits, is_signed), intRangeMax(bits, is_signed)));
}

int32_t rq8(int64_t acc, double M) { return requantize(acc, dyadicFromScale(M), 8, true); }

TEST_CASE("dyadicFromScale: mantissa, shift, guard and extremes", "[integer]") {
  CHECK(dyadicFromScale(1.0) == Dyadic{1 << 30, 30});
  CHECK(dyadicFromScale(0.5) == Dyadic{1 << 30, 31});
  CHECK(dyadicFromScale(3.0) == Dyadic{1610612736, 29});   // 0.75 · 2^31, e = 2
  CHECK(dyadicFromScale(-3.0) == Dyadic{-1610612736, 29});  // sign on the mantissa
  CHECK(dyadicFromScale(0.0) == Dyadic{0, 0});
  // f · 2^31 rounds to 2^31: the guard halves m and bumps e, so M = 1 − 2^−33 becomes exactly 1.
  CHECK(dyadicFromScale(1.0 - std::ldexp(1.0, -33)) == Dyadic{1 << 30, 30});
  CHECK(dyadicFromScale(std::ldexp(1.0 - std::ldexp(1.0, -33), -20)) == Dyadic{1 << 30, 50});
  CHECK(dyadicFromScale(-(1.0 - std::ldexp(1.0, -33))) == Dyadic{-(1 << 30), 30});
  // Just below the guard: 2^31 − 1 survives.
  CHECK(dyadicFromScale(1.0 - std::ldexp(1.0, -31)) == Dyadic{kI32Max, 31});
  // Round half up on the mantissa: f · 2^31 = 2^30 + 1/2 → 2^30 + 1.
  CHECK(dyadicFromScale(0.5 + std::ldexp(1.0, -32)).multiplier == (1 << 30) + 1);
  CHECK(dyadicFromScale(std::ldexp(1.0, 31)) == Dyadic{1 << 30, -1});
  CHECK(dyadicFromScale(std::ldexp(1.0, -65)) == Dyadic{1 << 30, 95});  // the last shift kept
  CHECK(dyadicFromScale(std::ldexp(1.0, -66)) == Dyadic{0, 0});         // c = 96: zero for every int64

  // Representation error: |m · 2^−c − M| ≤ 2^−31 |M| (half a unit of a 31-bit mantissa ≥ 2^30).
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> log2M(-60, 40);
  for (int i = 0; i < 20000; ++i) {
    const double M = std::exp2(log2M(rng)) * (i % 2 ? -1 : 1);
    const Dyadic d = dyadicFromScale(M);
    REQUIRE(std::abs(static_cast<int64_t>(d.multiplier)) >= (int64_t{1} << 30));
    REQUIRE(std::fabs(d.value() - M) <= std::ldexp(std::fabs(M), -31));
  }
}

TEST_CASE("requantize: ties round half toward +inf, also for negative values", "[integer]") {
  // M = 1/2: every odd accumulator is a tie.
  CHECK(rq8(1, 0.5) == 1);
  CHECK(rq8(3, 0.5) == 2);
  CHECK(rq8(5, 0.5) == 3);  // not half-to-even (which gives 2)
  CHECK(rq8(-1, 0.5) == 0);
  CHECK(rq8(-3, 0.5) == -1);
  CHECK(rq8(-5, 0.5) == -2);
  CHECK(rq8(-2, 0.5) == -1);
  CHECK(rq8(-6, 0.25) == -1);  // −1.5 → −1
  CHECK(rq8(-7, 0.25) == -2);  // −1.75 → −2
  CHECK(rq8(6, 0.25) == 2);    // 1.5 → 2
  // A negative multiplier (negative γ in I-LayerNorm): the product's tie still goes up.
  CHECK(rq8(3, -0.5) == -1);
  CHECK(rq8(-3, -0.5) == 2);
  // M = 1 and M = 3 are exact.
  for (int64_t acc = -128; acc <= 127; ++acc) REQUIRE(rq8(acc, 1.0) == acc);
  for (int64_t acc = -42; acc <= 42; ++acc) REQUIRE(rq8(acc, 3.0) == 3 * acc);
}

TEST_CASE("requantize: saturation at both ends, signed and unsigned", "[integer]") {
  CHECK(rq8(1000, 1.0) == 127);
  CHECK(rq8(-1000, 1.0) == -128);
  CHECK(rq8(255, 0.5) == 127);   // 127.5 → 128 → 127
  CHECK(rq8(-257, 0.5) == -128);  // −128.5 → −128
  CHECK(rq8(-259, 0.5) == -128);  // −129.5 → −129 → −128
  const Dyadic one = dyadicFromScale(1.0);
  CHECK(requantize(-1, one, 8, false) == 0);
  CHECK(requantize(256, one, 8, false) == 255);
  CHECK(requantize(255, one, 8, false) == 255);
  CHECK(requantize(40000, one, 16, true) == 32767);
  CHECK(requantize(-40000, one, 16, true) == -32768);
  CHECK(requantize(int64_t{1} << 40, one, 32, true) == kI32Max);
  CHECK(requantize(-(int64_t{1} << 40), one, 32, true) == kI32Min);
  CHECK(requantize(std::numeric_limits<int64_t>::min(), one, 32, true) == kI32Min);
  CHECK(requantize(std::numeric_limits<int64_t>::max(), one, 31, false) == kI32Max);
  CHECK(requantize(1, one, 1, false) == 1);
  CHECK(requantize(2, one, 1, false) == 1);
  // M ≥ 2^31 (shift ≤ 0) and huge M: saturate unless the accumulator is 0.
  for (double M : {std::ldexp(1.0, 31), std::ldexp(1.0, 40), 1e300}) {
    CHECK(rq8(1, M) == 127);
    CHECK(rq8(-1, M) == -128);
    CHECK(rq8(0, M) == 0);
    CHECK(rq8(1, -M) == -128);
  }
  CHECK(requantize(1, dyadicFromScale(std::ldexp(1.0, 20)), 32, true) == (1 << 20));
  CHECK(requantize(-3, dyadicFromScale(std::ldexp(1.0, 29)), 32, true) == -3 * (int64_t{1} << 29));
}

TEST_CASE("requantize: tiny multipliers, shift 62 and 63 with int32 accumulators", "[integer]") {
  const Dyadic d62 = dyadicFromScale(0.9 * std::ldexp(1.0, -31)), d63 = dyadicFromScale(0.9 * std::ldexp(1.0, -32));
  REQUIRE(d62.shift == 62);
  REQUIRE(d63.shift == 63);
  CHECK(requantize(kI32Max, d62, 8, true) == 1);   // 0.9 → 1
  CHECK(requantize(kI32Min, d62, 8, true) == -1);  // −0.9 → −1
  CHECK(requantize(kI32Max, d63, 8, true) == 0);   // 0.45 → 0
  CHECK(requantize(kI32Min, d63, 8, true) == 0);
  // Shifts above 62 give 0 for every int32 accumulator.
  for (double M : {std::ldexp(1.0, -33), std::ldexp(0.999, -40), std::ldexp(1.0, -70), -std::ldexp(1.0, -50)}) {
    const Dyadic d = dyadicFromScale(M);
    REQUIRE((d.shift > 62 || d.multiplier == 0));
    for (int64_t acc : {kI32Min, kI32Min + 1, int64_t{-1}, int64_t{0}, int64_t{1}, kI32Max})
      REQUIRE(requantize(acc, d, 32, true) == 0);
  }
  // ... but a 64-bit accumulator still sees them (exact 128-bit product).
  CHECK(requantize(int64_t{3} << 60, dyadicFromScale(std::ldexp(1.0, -58)), 8, true) == 12);  // shift 88
  CHECK(requantize(int64_t{3} << 60, dyadicFromScale(std::ldexp(1.0, -62)), 8, true) == 1);   // 0.75, shift 92
  CHECK(requantize(int64_t{1} << 62, dyadicFromScale(std::ldexp(1.0, -70)), 32, true) == 0);  // 2^−8 → 0
}

TEST_CASE("requantize: bit-exact against the long double / int128 reference", "[integer]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log2M(-70, 34);
  std::uniform_int_distribution<int64_t> acc32(kI32Min, kI32Max), acc64(std::numeric_limits<int64_t>::min(),
                                                                         std::numeric_limits<int64_t>::max());
  const int widths[][2] = {{2, 1}, {4, 1}, {8, 1}, {16, 1}, {32, 1}, {1, 0}, {8, 0}, {16, 0}, {31, 0}};
  int64_t checked = 0;
  for (int i = 0; i < 4000; ++i) {
    const double M = std::exp2(log2M(rng)) * (i % 3 == 0 ? -1 : 1);
    const Dyadic d = dyadicFromScale(M);
    for (int j = 0; j < 50; ++j) {
      // Small, full-range int32 and full-range int64 accumulators; also exact ties of this M.
      int64_t acc = j < 10 ? static_cast<int64_t>(rng() % 2001) - 1000 : j < 40 ? acc32(rng) : acc64(rng);
      for (const auto& w : widths) {
        const bool is_signed = w[1] != 0;
        REQUIRE(requantize(acc, d, w[0], is_signed) == referenceRequantize(acc, d, w[0], is_signed));
        ++checked;
      }
    }
  }
  CHECK(checked == 4000 * 50 * 9);
}

TEST_CASE("requantizePerChannel: channel c of a [outer, C, inner] block uses d[c]", "[integer]") {
  const std::vector<Dyadic> d = dyadicFromScales({0.5, 2.0, -1.0});
  const std::vector<int32_t> acc = {1, 2, 3, 4, -5, -6, 7, 8, 9, 10, 11, 12};  // [outer 2, C 3, inner 2]
  std::vector<int32_t> out(acc.size());
  requantizePerChannel(acc.data(), 2, d, 2, 8, true, out.data());
  CHECK(out == std::vector<int32_t>{1, 1, 6, 8, 5, 6, 4, 4, 18, 20, -11, -12});
  const std::vector<int64_t> wide = {int64_t{1} << 40, -1, 3};
  std::vector<int32_t> o2(3);
  requantizePerChannel(wide.data(), 1, d, 1, 8, false, o2.data());
  CHECK(o2 == std::vector<int32_t>{255, 0, 0});
}

TEST_CASE("floorDiv floors for every sign combination", "[integer]") {
  for (int64_t a = -50; a <= 50; ++a)
    for (int64_t b : {-7, -3, -1, 1, 2, 5, 16}) {
      INFO(a << " / " << b);
      REQUIRE(floorDiv(a, b) == static_cast<int64_t>(std::floor(static_cast<double>(a) / static_cast<double>(b))));
    }
  CHECK(floorDiv(-1, 2) == -1);
  CHECK(floorDiv(std::numeric_limits<int64_t>::min(), 1) == std::numeric_limits<int64_t>::min());
}

TEST_CASE("isqrt is floor(sqrt(v)) exactly; the official fixed form only on a middle band", "[integer]") {
  auto check = [](uint64_t v) {
    const uint64_t k = isqrt(v);
    INFO("v = " << v);
    REQUIRE(static_cast<UInt128>(k) * k <= v);
    REQUIRE(static_cast<UInt128>(k + 1) * (k + 1) > v);
  };
  for (uint64_t v = 0; v < 2000000; ++v) check(v);
  // Squares and their neighbours up to 2^64 − 1, the edges named in the brief, and random values.
  for (uint64_t r = 1; r < (uint64_t{1} << 32); r = r * 3 / 2 + 1) {
    const uint64_t sq = r * r;
    check(sq - 1);
    check(sq);
    if (sq < std::numeric_limits<uint64_t>::max()) check(sq + 1);
  }
  for (int b = 1; b < 64; ++b) {
    check((uint64_t{1} << b) - 1);
    check(uint64_t{1} << b);
    check((uint64_t{1} << b) + 1);
  }
  check(uint64_t{kI32Max});
  check(uint64_t{1} << 62);
  check(std::numeric_limits<uint64_t>::max());
  CHECK(isqrt(std::numeric_limits<uint64_t>::max()) == 0xFFFFFFFFu);
  CHECK(isqrt(uint64_t{1} << 62) == uint64_t{1} << 31);
  CHECK(isqrt(uint64_t{kI32Max}) == 46340);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) check(rng() >> (rng() % 64));

  // The official start (2^16, ten steps) is within one of floor(sqrt) on [2^16, 2^45) (one above
  // at v = r² − 1, where floored Newton alternates between r − 1 and r) and far off outside:
  // too few halvings below, too few Newton steps above.
  for (int b = 16; b < 45; ++b)
    for (uint64_t v = uint64_t{1} << b; v < (uint64_t{1} << (b + 1)); v += (uint64_t{1} << b) / 1024 + 1) {
      const uint64_t exact = isqrt(v), fixed = isqrtFixed10(v);
      INFO("v = " << v);
      REQUIRE((fixed == exact || fixed == exact + 1));
    }
  CHECK(isqrtFixed10(1048575) == 1024);  // 1024² − 1: floor(sqrt) is 1023
  CHECK(isqrtFixed10(100) > isqrt(100) + 40);
  CHECK(isqrtFixed10(uint64_t{1} << 50) > isqrt(uint64_t{1} << 50) + 1000000);
}

// ---- nonlinear kernels ------------------------------------------------------------------------

constexpr double kLog2Step = 1.002;  // scale sweeps: geometric steps of 0.2 %
constexpr double kNumerator = 2147483647.0;  // 2^31 − 1

// §1.2–1.5 transcribed in doubles with std::floor and true divisions, as the PyTorch simulation
// computes them (every integer here stays below 2^53, and no quotient lands within 2^−53 of an
// integer, so the floors are exact). The kernels must match these bit for bit.
double refShiftExp(double x, double s, int n) {
  const double x0 = std::floor(-1 / s);
  double t = x + std::floor(x / 2) - std::floor(x / 16);
  t = std::max(t, n * x0);
  const double q = std::floor(t / x0), r = t - q * x0;
  return std::max(0.0, (std::floor(r / 2) - x0) * std::exp2(n - q));
}

double refNormalize(double e, double sum, int shift) {
  return std::floor(e * std::floor(kNumerator / std::min(sum, kNumerator)) / std::exp2(shift));
}

struct ExpBound {
  int n;
  double inv_lo, inv_hi;  // band of 1/s
  double rel, abs;        // relative where exp(xs) ≥ 2^−7; absolute elsewhere
};

TEST_CASE("ShiftExp against exp over every int8 difference and a sweep of scales", "[integer]") {
  const ExpBound kExpBounds[] = {
      // measured:  rel 2.571, abs 0.0166  |  0.498, 0.0040  |  0.158, -  |  0.071, -
      {15, 4, 16, 3.9, 0.025},  {15, 16, 64, 0.75, 0.006},  {15, 64, 256, 0.24, 0.0},  {15, 256, 65535, 0.11, 0.0},
      // measured:  0.498, 0.0040 (n = 16 and 23)  |  0.158, -
      {16, 16, 64, 0.75, 0.006}, {23, 16, 64, 0.75, 0.006}, {23, 64, 255, 0.24, 0.0},
  };
  for (const ExpBound& band : kExpBounds) {
    double worst_rel = 0, worst_abs = 0;
    for (double inv = band.inv_lo; inv < band.inv_hi; inv *= kLog2Step) {
      const double s = 1 / inv;
      const auto plan = planShiftExp(s, band.n);
      if (!plan.isOk()) continue;  // 1/s · 2^n beyond int32 at the top of a band
      for (int x = -255; x <= 0; ++x) {
        const int32_t e = shiftExp(x, *plan);
        REQUIRE(e == refShiftExp(x, s, band.n));
        REQUIRE(e <= -int64_t{plan->x0} << band.n);
        const double ref = std::exp(x * s), err = std::fabs(std::ldexp(e * s, -band.n) - ref);
        if (ref >= 1.0 / 128)
          worst_rel = std::max(worst_rel, err / ref);
        else
          worst_abs = std::max(worst_abs, err);
      }
    }
    INFO("n = " << band.n << ", 1/s in [" << band.inv_lo << ", " << band.inv_hi << ")");
    CHECK(worst_rel <= band.rel);
    CHECK(worst_abs <= band.abs);
  }
  // Monotone in x, and positive inputs count as 0.
  const auto plan = planShiftExp(0.05, 15);
  REQUIRE(plan.isOk());
  for (int x = -300; x < 0; ++x) REQUIRE(shiftExp(x, *plan) <= shiftExp(x + 1, *plan));
  CHECK(shiftExp(0, *plan) == 20 << 15);
  CHECK(shiftExp(7, *plan) == shiftExp(0, *plan));
  CHECK(shiftExp(-1000000, *plan) == 20);  // clamped at 2^−15
  CHECK_FALSE(planShiftExp(1e-5, 15).isOk());
  CHECK_FALSE(planShiftExp(0, 15).isOk());
  CHECK_FALSE(planShiftExp(0.1, 31).isOk());
}

struct BandBound {
  double lo, hi;  // band of 1/s (softmax) or of A = 127 s (GELU)
  double bound;
  double bound2 = 0;  // softmax: the TVM configuration
};

double worstShiftmaxError(int n, int out_bits, const BandBound& band, std::mt19937& rng) {
  double worst = 0;
  for (double inv = band.lo; inv < band.hi; inv *= 1.01) {
    const double s = 1 / inv;
    const auto plan = planShiftmax(s, n, out_bits);
    if (!plan.isOk()) continue;
    for (int trial = 0; trial < 12; ++trial) {
      // Every int8 code in one row, then random rows (some with all values close together).
      const size_t len = trial == 0 ? 256 : 1 + rng() % 300;
      if (static_cast<double>(len) * -plan->exp.x0 * std::ldexp(1.0, n) >= 2147483647.0) continue;  // Σe would saturate
      std::vector<int32_t> x(len), out(len);
      for (size_t i = 0; i < len; ++i) x[i] = trial == 0 ? static_cast<int32_t>(i) - 128 : static_cast<int32_t>(rng() % 256) - 128;
      if (trial % 3 == 2)
        for (int32_t& v : x) v = std::min(v, static_cast<int32_t>(rng() % 40) - 20);
      shiftmaxRow(x.data(), len, *plan, out.data());
      const int32_t xmax = *std::max_element(x.begin(), x.end());
      double sum = 0, ref_sum = 0;
      int64_t code_sum = 0;
      for (int32_t v : x) sum += std::exp((v - xmax) * s);
      for (int32_t v : x) ref_sum += refShiftExp(v - xmax, s, n);
      for (size_t i = 0; i < len; ++i) {
        REQUIRE(out[i] == refNormalize(refShiftExp(x[i] - xmax, s, n), ref_sum, 32 - out_bits));
        REQUIRE(out[i] < (int64_t{1} << (out_bits - 1)));
        code_sum += out[i];
        worst = std::max(worst, std::fabs(out[i] * plan->outScale() - std::exp((x[i] - xmax) * s) / sum));
      }
      REQUIRE(code_sum < (int64_t{1} << (out_bits - 1)));  // floors: the sum never exceeds 1
    }
  }
  return worst;
}

TEST_CASE("Shiftmax against softmax on rows of int8 codes", "[integer]") {
  std::mt19937 rng(5);
  // {band of 1/s, PyTorch model (n = 15, k_out = 16), TVM kernel (n = 16, k_out = 8)}
  const BandBound kSoftmaxBounds[] = {
      // measured: 0.107, 0.103 | 0.059, 0.060 | 0.027, 0.039 | 0.024, 0.022 | 0.018, 0.039
      {4, 8, 0.16, 0.155}, {8, 16, 0.088, 0.09}, {16, 32, 0.041, 0.059}, {32, 128, 0.036, 0.034}, {128, 1024, 0.027, 0.059}};
  for (const BandBound& band : kSoftmaxBounds) {
    INFO("1/s in [" << band.lo << ", " << band.hi << ")");
    CHECK(worstShiftmaxError(15, 16, band, rng) <= band.bound);
    CHECK(worstShiftmaxError(16, 8, band, rng) <= band.bound2);
  }
  // One dominant logit, a uniform row, and a saturated sum (the recipe's clamp; documented).
  const auto plan = planShiftmax(0.1);
  REQUIRE(plan.isOk());
  std::vector<int32_t> x = {127, -128, -128}, out(3);
  shiftmaxRow(x.data(), 3, *plan, out.data());
  CHECK(out[0] >= 32767 - 2);
  CHECK(out[1] == 0);
  x = {5, 5, 5, 5};
  out.resize(4);
  shiftmaxRow(x.data(), 4, *plan, out.data());
  CHECK(out == std::vector<int32_t>(4, 8190));  // e = 10 · 2^15, F = floor((2^31−1)/4e) = 1638: 8190, not 8192
  CHECK_FALSE(planShiftmax(0.1, 15, 1).isOk());
}

double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

double worstGeluError(int n, bool per_element_max, const BandBound& band) {
  double worst = 0;
  for (double A = band.lo; A < band.hi; A *= kLog2Step) {
    const double s = A / 127;
    const auto plan = planShiftGelu(s, n, per_element_max);
    if (!plan.isOk()) continue;
    for (int top : {127, 100, 60, 30, 5, 0, -1, -50, -128}) {  // rows −128..top: different token maxima
      std::vector<int32_t> x, out;
      for (int v = -128; v <= top; ++v) x.push_back(v);
      out.resize(x.size());
      shiftGeluRow(x.data(), x.size(), *plan, out.data());
      const double row_m = std::max(top, 0);  // official: the token max (the guard only lifts it to 0)
      for (size_t i = 0; i < x.size(); ++i) {
        const double m = per_element_max ? std::max(x[i], 0) : row_m, a = refShiftExp(x[i] - m, 1.702 * s, n);
        REQUIRE(out[i] == x[i] * refNormalize(a, a + refShiftExp(-m, 1.702 * s, n), 24));
        const double xf = x[i] * s;
        worst = std::max(worst, std::fabs(out[i] * plan->outScale() - gelu(xf)) / std::max(1.0, std::fabs(xf)));
      }
    }
  }
  return worst;
}

TEST_CASE("ShiftGELU against GELU (erf) over every int8 code", "[integer]") {
  // The official recipe (n = 23, token max) is accurate only for A in about [4, 8]: its normalizer
  // is coarse for small scales and its exponent clamp breaks large token maxima.
  CHECK(worstGeluError(23, false, {4, 8, 0.0}) <= 0.125);  // measured 0.084
  CHECK(worstGeluError(23, false, {0.3, 1, 0.0}) > 0.2);   // measured 0.29
  CHECK(worstGeluError(23, false, {12, 16, 0.0}) > 0.2);   // measured 0.51
  // [ours] n = 10 with the per-element max holds over every scale.
  const BandBound kGeluBounds[] = {{0.3, 4, 0.041}, {4, 16, 0.089}, {16, 64, 0.27}};  // measured 0.027, 0.059, 0.179
  for (const BandBound& band : kGeluBounds) {
    INFO("A in [" << band.lo << ", " << band.hi << ")");
    CHECK(worstGeluError(10, true, band) <= band.bound);
  }
  // The exponent-clamp failure, pinned: A ≈ 16, token max 127 → x = 47 (5.9) gets σ ≈ 1/2 (63/128).
  const auto official = planShiftGelu(15.97 / 127);
  REQUIRE(official.isOk());
  std::vector<int32_t> x = {47, 127}, out(2);
  shiftGeluRow(x.data(), 2, *official, out.data());
  CHECK(out[0] == 47 * 63);
  // A row of only negative values keeps both exponents ≤ 0 (m = 0) and stays accurate.
  x = {-10, -20};
  shiftGeluRow(x.data(), 2, *official, out.data());
  CHECK(std::fabs(out[0] * official->outScale() - gelu(-10 * 15.97 / 127)) < 0.05);
  CHECK_FALSE(planShiftGelu(0.002).isOk());
  CHECK(planShiftGelu(0.002, 10, true).isOk());
}

TEST_CASE("I-LayerNorm against float LayerNorm on 16-bit rows", "[integer]") {
  std::mt19937 rng(9);
  double worst_ratio = 0;
  for (int C : {1, 2, 3, 16, 192, 768, 4096}) {
    const std::vector<float> ones(C, 1.f), zeros(C, 0.f);
    const auto plan = planILayerNorm(ones, zeros);
    REQUIRE(plan.isOk());
    for (double sigma : {0.3, 1.0, 10.0, 100.0, 1000.0, 10000.0, 30000.0}) {
      std::normal_distribution<double> noise(0, sigma);
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<int32_t> x(C);
        std::vector<int64_t> out(C);
        const double offset = static_cast<double>(rng() % 20000) - 10000;
        for (int32_t& v : x) v = static_cast<int32_t>(std::clamp<long>(std::lround(offset + noise(rng)), -32768, 32767));
        if (trial == 0)
          for (int c = 0; c < C; ++c) x[c] = c % 2 ? 32767 : -32768;  // the widest 16-bit row
        iLayerNormRow(x.data(), *plan, out.data());
        double mean = 0, var = 0;
        for (int32_t v : x) mean += v;
        mean /= C;
        for (int32_t v : x) var += (v - mean) * (v - mean);
        var /= C;
        if (var == 0) {
          REQUIRE(std::all_of(out.begin(), out.end(), [](int64_t v) { return v == 0; }));
          continue;
        }
        const double sd = std::sqrt(var), root_c = std::sqrt(static_cast<double>(C));
        // Bit-exact: μ = round half even, std = floor(√V), F = floor((2^31−1)/std), floor(y·F/2).
        double sum = 0, v_sum = 0;
        for (int32_t v : x) sum += v;
        const double mu = std::nearbyint(sum / C);
        for (int32_t v : x) v_sum += (v - mu) * (v - mu);
        const double factor = std::floor(kNumerator / std::floor(std::sqrt(v_sum)));
        for (int c = 0; c < C; ++c) REQUIRE(out[c] == std::floor((x[c] - mu) * factor / 2));
        for (int c = 0; c < C; ++c) {
          const double ref = (x[c] - mean) / sd, err = std::fabs(out[c] * plan->out_scale[c] - ref);
          const double model = (0.5 + std::fabs(ref) / root_c) / sd + std::fabs(ref) * root_c * sd / 2147483648.0 +
                               root_c * std::ldexp(1.0, -30);
          worst_ratio = std::max(worst_ratio, err / model);
        }
      }
    }
  }
  CHECK(worst_ratio <= 1.6);  // measured 1.064

  // γ and β folded: per-channel scale γ√C/2^30 (negative γ too) and integer bias, then the
  // per-channel dyadic requantization to int8 (§1.5 step 7) lands within one code of the float.
  const std::vector<float> gamma = {0.5f, -2.f, 0.01f, 1.f}, beta = {0.1f, 0.f, 1.f, -3.f};
  const auto affine = planILayerNorm(gamma, beta);
  REQUIRE(affine.isOk());
  CHECK(affine->bias[2] > kI32Max);  // β/γ = 100: beyond int32, hence int64 outputs
  const std::vector<int32_t> x = {1200, -3400, 560, 20000};
  std::vector<int64_t> y(4);
  iLayerNormRow(x.data(), *affine, y.data());
  const double s_out = 4.0 / 127;
  std::vector<double> ms;
  for (double sc : affine->out_scale) ms.push_back(sc / s_out);
  std::vector<int32_t> q(4);
  requantizePerChannel(y.data(), 1, dyadicFromScales(ms), 1, 8, true, q.data());
  double mean = 0, var = 0;
  for (int32_t v : x) mean += v;
  mean /= 4;
  for (int32_t v : x) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / 4);
  for (int c = 0; c < 4; ++c) {
    const double ref = gamma[c] * (x[c] - mean) / sd + beta[c];
    INFO("channel " << c);
    CHECK(std::fabs(q[c] - std::clamp(ref / s_out, -128.0, 127.0)) <= 1.0);
  }
  CHECK_FALSE(planILayerNorm({1.f, 0.f}, {0.f, 0.f}).isOk());
  CHECK_FALSE(planILayerNorm({1.f}, {0.f, 0.f}).isOk());
}

}  // namespace
}  // namespace vitq

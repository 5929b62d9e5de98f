#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "calib/observer.h"
#include "calib/stats_file.h"
#include "calib/stats_merge.h"

namespace vitq {
namespace {

// Samples of a skewed activation (mostly small, a long positive tail), as GELU outputs look.
std::vector<Tensor> skewedSamples(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::exponential_distribution<float> tail(0.5f);
  std::vector<Tensor> out;
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> v(500);
    for (size_t k = 0; k < v.size(); ++k) v[k] = k % 10 == 0 ? tail(rng) : normal(rng) * 0.3f;
    out.push_back(Tensor::fromVector<float>(v, {1, 500}));
  }
  return out;
}

TensorStats observeHistogram(const std::vector<Tensor>& samples, size_t begin, size_t end, int bins) {
  auto obs = makeHistogramObserver(bins);
  for (int pass = 0; pass < obs->numPasses(); ++pass) {
    obs->beginPass(pass);
    for (size_t i = begin; i < end; ++i) REQUIRE(obs->observe(samples[i]).isOk());
  }
  return obs->stats();
}

CalibrationStats statsOf(TensorStats s, size_t index, size_t count, size_t first, size_t samples, int bins) {
  CalibrationStats c;
  c.fingerprint = "fnv1a64:0123456789abcdef";
  c.model = "m.onnx";
  c.bins = bins;
  c.shards = {{index, count, first, samples}};
  c.values["act"] = std::move(s);
  return c;
}

// Elements at or below the upper edge of each bin.
std::vector<uint64_t> cumulative(const TensorStats& s) {
  std::vector<uint64_t> c(s.histogram.size());
  uint64_t sum = 0;
  for (size_t b = 0; b < c.size(); ++b) c[b] = sum += s.histogram[b];
  return c;
}

TEST_CASE("statistics files read back exactly", "[calib][stats]") {
  const auto samples = skewedSamples(20, 1);
  const CalibrationStats written = statsOf(observeHistogram(samples, 0, 20, 512), 0, 1, 0, 20, 512);
  const std::string text = statsToJson(written);
  auto back = statsFromJson(text, "s.json");
  REQUIRE(back.isOk());
  const TensorStats& a = written.values.at("act");
  const TensorStats& b = back->values.at("act");
  CHECK(a.min == b.min);
  CHECK(a.max == b.max);
  CHECK(a.count == b.count);
  CHECK(a.histogram == b.histogram);
  CHECK(b.observations == 20);
  CHECK(a.sample_min_sum == b.sample_min_sum);
  CHECK(a.sample_max_sum == b.sample_max_sum);
  CHECK(statsToJson(*back) == text);  // same statistics, same bytes
  CHECK(back->complete());
  CHECK(back->samples() == 20);
}

TEST_CASE("merged shards equal one run: min/max exactly, histograms within a bin", "[calib][stats]") {
  const int bins = 2048;
  const auto samples = skewedSamples(60, 2);
  const TensorStats single = observeHistogram(samples, 0, 60, bins);
  const size_t cuts[] = {0, 20, 40, 60};
  std::vector<CalibrationStats> parts;
  uint64_t widest_bin = 0;
  for (size_t i = 0; i < 3; ++i) {
    parts.push_back(statsOf(observeHistogram(samples, cuts[i], cuts[i + 1], bins), i, 3, cuts[i], 20, bins));
    const auto& h = parts.back().values.at("act").histogram;
    widest_bin = std::max(widest_bin, *std::max_element(h.begin(), h.end()));
  }
  std::reverse(parts.begin(), parts.end());  // the argument order does not matter
  auto merged = mergeStats(parts, {"c.json", "b.json", "a.json"});
  REQUIRE(merged.isOk());
  const TensorStats& m = merged->values.at("act");
  CHECK(m.min == single.min);
  CHECK(m.max == single.max);
  CHECK(m.count == single.count);
  CHECK(m.observations == 60);
  CHECK(m.sample_min_sum == Approx(single.sample_min_sum).epsilon(1e-12));
  CHECK(m.sample_max_sum == Approx(single.sample_max_sum).epsilon(1e-12));
  CHECK(merged->complete());
  CHECK(merged->samples() == 60);
  // Each part's bins are re-binned onto the union range, so at any edge the merged cumulative
  // count can be off by at most the mass of one source bin per part.
  const auto cm = cumulative(m), cs = cumulative(single);
  uint64_t worst = 0;
  for (size_t b = 0; b < cm.size(); ++b) worst = std::max(worst, cm[b] > cs[b] ? cm[b] - cs[b] : cs[b] - cm[b]);
  CHECK(worst <= 3 * widest_bin);
  CHECK(cm.back() == cs.back());
  // And a different part order gives the same bytes.
  std::reverse(parts.begin(), parts.end());
  auto again = mergeStats(parts, {"a.json", "b.json", "c.json"});
  REQUIRE(again.isOk());
  CHECK(statsToJson(*again) == statsToJson(*merged));
}

TEST_CASE("a lone shard merges to itself; constant activations stay point masses", "[calib][stats]") {
  const auto samples = skewedSamples(10, 3);
  const CalibrationStats one = statsOf(observeHistogram(samples, 0, 10, 256), 0, 1, 0, 10, 256);
  auto merged = mergeStats({one}, {"one.json"});
  REQUIRE(merged.isOk());
  CHECK(merged->values.at("act").histogram == one.values.at("act").histogram);

  std::vector<Tensor> constant(4, Tensor::fromVector<float>({2.5f, 2.5f, 2.5f}, {1, 3}));
  const TensorStats c0 = observeHistogram(constant, 0, 2, 16), c1 = observeHistogram(constant, 2, 4, 16);
  const TensorStats m = mergeTensorStats({&c0, &c1}, 16);
  CHECK(m.min == 2.5f);
  CHECK(m.max == 2.5f);
  CHECK(m.histogram[0] == 12);
}

TEST_CASE("merging refuses other models, repeated shards and other splits", "[calib][stats]") {
  const auto samples = skewedSamples(4, 4);
  CalibrationStats a = statsOf(observeHistogram(samples, 0, 2, 64), 0, 2, 0, 2, 64);
  CalibrationStats b = statsOf(observeHistogram(samples, 2, 4, 64), 1, 2, 2, 2, 64);
  CalibrationStats other = b;
  other.fingerprint = "fnv1a64:ffffffffffffffff";
  auto r = mergeStats({a, other}, {"a.json", "other.json"});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message() == "statistics files 'a.json' and 'other.json' belong to different models");
  r = mergeStats({a, a}, {"a.json", "a2.json"});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message() == "statistics file 'a2.json' repeats shard 0 of 2 (each shard may be merged once)");
  CalibrationStats three = b;
  three.shards = {{1, 3, 2, 2}};
  r = mergeStats({a, three}, {"a.json", "three.json"});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message() == "statistics files 'a.json' and 'three.json' come from different shard splits");
  CHECK(mergeStats({a, b}, {"a.json", "b.json"}).isOk());
}

TEST_CASE("corrupt statistics files are refused with the key at fault", "[calib][stats][robustness]") {
  const auto samples = skewedSamples(4, 5);
  const std::string good = statsToJson(statsOf(observeHistogram(samples, 0, 4, 32), 0, 1, 0, 4, 32));
  auto message = [](const std::string& text) {
    auto r = statsFromJson(text, "s.json");
    REQUIRE_FALSE(r.isOk());
    return r.status().message();
  };
  CHECK(message(good.substr(0, good.size() / 2)) ==
        "statistics file 's.json' is not valid JSON (truncated or corrupt)");
  CHECK(message("[1, 2]") == "statistics file 's.json': the document is not a JSON object");
  CHECK(message(R"({"format": "something else"})") ==
        "statistics file 's.json': the document is not a vitq statistics file (format is not "
        "'vitq-calibration-stats')");
  auto edited = [&good](const std::string& from, const std::string& to) {
    std::string t = good;
    const size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  CHECK(message(edited("\"version\": 1", "\"version\": 7")) ==
        "statistics file 's.json': the document has version 7; this vitq reads version 1");
  CHECK(message(edited("\"bins\": 32", "\"bins\": 33")) ==
        "statistics file 's.json': values['act'].histogram is not an array of 33 counts");
  CHECK(message(edited("\"min\": ", "\"min\": null, \"x\": ")) ==
        "statistics file 's.json': values['act'].min is not a number");
  CHECK(message(edited("\"count\": 2000", "\"count\": 2001")) ==
        "statistics file 's.json': values['act'] histogram holds 2000 elements but count says 2001");
  CHECK(message(edited("\"index\": 0", "\"index\": 5")) == "statistics file 's.json': shards[0] is shard 5 of 1");
  CHECK(message(edited("\"samples\": 4", "\"samples\": -4")) ==
        "statistics file 's.json': shards[0].samples is not a non-negative integer");
  CHECK(message(edited("\"sample_max_sum\": ", "\"sample_max_sum\": 1e9, \"x\": ")) ==
        "statistics file 's.json': values['act'] has per-sample ranges outside [min, max]");
  // Files written before the per-sample ranges existed still read (they serve every other recipe).
  std::string old = good;
  const size_t at = old.find("\"observations\"");
  REQUIRE(at != std::string::npos);
  old.replace(at, old.find('\n', at) - at + 1, "");
  auto back = statsFromJson(old, "s.json");
  REQUIRE(back.isOk());
  CHECK(back->values.at("act").observations == 0);
}

}  // namespace
}  // namespace vitq

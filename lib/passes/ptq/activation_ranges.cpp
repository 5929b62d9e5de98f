#include "passes/ptq/activation_ranges.h"

#include "quant/math/clip_range.h"
#include "quant/math/entropy_range.h"

namespace vitq {

HistogramView histogramOf(const TensorStats& s) {
  return {s.histogram.data(), s.histogram.size(), s.hist_min, s.hist_max};
}

QuantSpec activationSpec(const PipelineOptions& o) {
  QuantSpec spec;
  spec.bits = o.quant.activation_bits;
  spec.is_signed = o.quant.activation_symmetric;
  spec.symmetric = o.quant.activation_symmetric;
  return spec;
}

std::pair<float, float> histogramRange(const HistogramView& view, const QuantSpec& spec, RangeMethod method,
                                       double percentile) {
  switch (method) {
    case RangeMethod::kPercentile: return percentileRange(view, percentile);
    case RangeMethod::kMse: return mseUniformRange(view, spec);
    case RangeMethod::kEntropy: return klDivergenceRange(view, spec);
    default: return {view.lo, view.hi};
  }
}

ChannelRanges channelRanges(const TensorStats& s, const QuantSpec& spec, RangeMethod method, double percentile) {
  ChannelRanges r;
  const bool histograms = s.channel_bins > 0 && s.channel_histogram.size() == s.channel_min.size() * s.channel_bins;
  const int64_t channels = static_cast<int64_t>(s.channel_min.size());
  r.lo.resize(s.channel_min.size());
  r.hi.resize(s.channel_min.size());
  // Channels are independent (each writes its own entries): the same ranges on any thread count.
#pragma omp parallel for schedule(dynamic, 8) if (histograms && channels > 8)
  for (int64_t c = 0; c < channels; ++c) {
    const size_t i = static_cast<size_t>(c);
    const HistogramView view{histograms ? s.channel_histogram.data() + i * static_cast<size_t>(s.channel_bins) : nullptr,
                             histograms ? static_cast<size_t>(s.channel_bins) : 0, s.channel_min[i], s.channel_max[i]};
    const auto range = histograms ? histogramRange(view, spec, method, percentile) : std::make_pair(view.lo, view.hi);
    r.lo[i] = range.first;
    r.hi[i] = range.second;
  }
  return r;
}

}  // namespace vitq

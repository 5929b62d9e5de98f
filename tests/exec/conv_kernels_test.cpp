// Conv and ConvTranspose against naive loops: the depthwise kernel, the row-tiled im2col path of
// larger 2-D Convs (grouped, strided, dilated, partial last tile) and ConvTranspose in 1, 2 and 3
// spatial dims with groups, dilation, pads and output_padding.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

using test::oneGraphModel;
using test::runModelText;

std::string ints(const std::vector<int64_t>& v) {
  std::string out;
  for (int64_t i : v) out += (out.empty() ? "" : ", ") + std::to_string(i);
  return "[" + out + "]";
}

std::vector<float> wave(int64_t n, float freq) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(freq * static_cast<float>(i) + 0.3f);
  return v;
}

int64_t product(const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t{1}, std::multiplies<>()); }

// Flat index of coordinates \p at in \p dims.
int64_t flat(const std::vector<int64_t>& at, const std::vector<int64_t>& dims) {
  int64_t f = 0;
  for (size_t d = 0; d < dims.size(); ++d) f = f * dims[d] + at[d];
  return f;
}

// Steps \p at through every coordinate of \p dims; false after the last.
bool next(std::vector<int64_t>& at, const std::vector<int64_t>& dims) {
  for (size_t d = dims.size(); d-- > 0;) {
    if (++at[d] < dims[d]) return true;
    at[d] = 0;
  }
  return false;
}

TEST_CASE("Depthwise Conv matches a naive loop: strides, dilation, uneven pads, partial column blocks", "[kernels][conv]") {
  struct Geometry {
    int64_t h, w, kh, kw, sy, sx, dy, dx, pt, pl, pb, pr;
  };
  const Geometry cases[] = {{12, 80, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},  {12, 37, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
                            {9, 41, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1},   {7, 35, 3, 5, 1, 3, 2, 2, 0, 3, 2, 1},
                            {6, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}};
  const int64_t batch = 2, channels = 3;
  for (const Geometry& c : cases) {
    const int64_t oh = (c.h + c.pt + c.pb - c.dy * (c.kh - 1) - 1) / c.sy + 1;
    const int64_t ow = (c.w + c.pl + c.pr - c.dx * (c.kw - 1) - 1) / c.sx + 1;
    std::vector<float> x(static_cast<size_t>(batch * channels * c.h * c.w)), w(static_cast<size_t>(channels * c.kh * c.kw));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.91f * static_cast<float>(i));
    const std::vector<float> bias{0.5f, -1.0f, 0.25f};
    const std::string attrs = "group = 3, kernel_shape = " + ints({c.kh, c.kw}) + ", strides = " + ints({c.sy, c.sx}) +
                              ", dilations = " + ints({c.dy, c.dx}) + ", pads = " + ints({c.pt, c.pl, c.pb, c.pr});
    auto out = runModelText(oneGraphModel(13, "(float[2, 3, " + std::to_string(c.h) + ", " + std::to_string(c.w) + "] X, float[3, 1, " +
                                 std::to_string(c.kh) + ", " + std::to_string(c.kw) + "] W, float[3] B) => (float Y)",
                         "  Y = Conv <" + attrs + "> (X, W, B)"),
                   13,
                   {{"X", Tensor::fromVector(x, {batch, channels, c.h, c.w})},
                    {"W", Tensor::fromVector(w, {channels, 1, c.kh, c.kw})},
                    {"B", Tensor::fromVector(bias, {channels})}});
    REQUIRE(out.isOk());
    const Tensor& y = out->at("Y");
    REQUIRE(y.shape() == Shape{batch, channels, oh, ow});
    double worst = 0.0;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t ch = 0; ch < channels; ++ch)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            double acc = bias[static_cast<size_t>(ch)];
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t iy = oy * c.sy - c.pt + ky * c.dy, ix = ox * c.sx - c.pl + kx * c.dx;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                acc += static_cast<double>(w[static_cast<size_t>((ch * c.kh + ky) * c.kw + kx)]) *
                       x[static_cast<size_t>(((n * channels + ch) * c.h + iy) * c.w + ix)];
              }
            const float got = y.data<float>()[((n * channels + ch) * oh + oy) * ow + ox];
            worst = std::max(worst, std::fabs(got - acc));
          }
    INFO("input " << c.h << "x" << c.w << " kernel " << c.kh << "x" << c.kw << " strides " << c.sy << "," << c.sx);
    CHECK(worst < 1e-5);
  }
}


// A strided or dilated spatial convolution: in_dims, kernel, strides, dilations, pads (begin, end).
struct Geometry {
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out_padding;
  int64_t group, in_channels, out_channels;
};

std::string attributes(const Geometry& c, bool transposed) {
  std::vector<int64_t> pads = c.pad_begin;
  pads.insert(pads.end(), c.pad_end.begin(), c.pad_end.end());
  std::string a = "group = " + std::to_string(c.group) + ", kernel_shape = " + ints(c.kernel) +
                  ", strides = " + ints(c.stride) + ", dilations = " + ints(c.dilation) + ", pads = " + ints(pads);
  if (transposed) a += ", output_padding = " + ints(c.out_padding);
  return a;
}

// Runs one Conv or ConvTranspose node of geometry \p c on X, W and B given as graph inputs.
Tensor runConvNode(const std::string& op, const Geometry& c, const std::vector<int64_t>& x_dims, const std::vector<float>& x,
                   const std::vector<int64_t>& w_dims, const std::vector<float>& w, const std::vector<float>& bias) {
  auto result = runModelText(oneGraphModel(13, "(float" + ints(x_dims) + " X, float" + ints(w_dims) + " W, float[" +
                                                   std::to_string(c.out_channels) + "] B) => (float Y)",
                                           "  Y = " + op + " <" + attributes(c, op == "ConvTranspose") + "> (X, W, B)"),
                             13,
                             {{"X", Tensor::fromVector(x, x_dims)},
                              {"W", Tensor::fromVector(w, w_dims)},
                              {"B", Tensor::fromVector(bias, {c.out_channels})}});
  INFO(result.status().message());
  REQUIRE(result.isOk());
  return result->at("Y");
}

TEST_CASE("2-D Conv through row tiles matches a naive loop: groups, strides, dilation, partial tiles", "[kernels][conv]") {
  // Each case's columns exceed the 256 KiB tile, so the output rows are split into tiles.
  const Geometry cases[] = {{{41, 45}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {}, 1, 16, 12},
                            {{50, 37}, {3, 5}, {2, 1}, {1, 2}, {1, 0}, {2, 3}, {}, 2, 24, 10},
                            {{64, 64}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {}, 1, 40, 8},
                            {{33, 80}, {5, 5}, {1, 2}, {2, 1}, {4, 2}, {3, 2}, {}, 4, 16, 8}};
  const int64_t batch = 2;
  for (const Geometry& c : cases) {
    std::vector<int64_t> out(2);
    for (size_t d = 0; d < 2; ++d) {
      out[d] = (c.in[d] + c.pad_begin[d] + c.pad_end[d] - c.dilation[d] * (c.kernel[d] - 1) - 1) / c.stride[d] + 1;
    }
    const int64_t cg = c.in_channels / c.group, mg = c.out_channels / c.group;
    std::vector<int64_t> w_dims{c.out_channels, cg, c.kernel[0], c.kernel[1]};
    const std::vector<int64_t> x_dims{batch, c.in_channels, c.in[0], c.in[1]};
    const auto x = wave(product(x_dims), 0.37f);
    const auto w = wave(product(w_dims), 0.91f);
    const auto bias = wave(c.out_channels, 1.7f);
    const Tensor y = runConvNode("Conv", c, x_dims, x, w_dims, w, bias);
    REQUIRE(y.shape() == Shape{batch, c.out_channels, out[0], out[1]});
    double worst = 0.0;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t m = 0; m < c.out_channels; ++m)
        for (int64_t oy = 0; oy < out[0]; ++oy)
          for (int64_t ox = 0; ox < out[1]; ++ox) {
            const int64_t grp = m / mg;
            double acc = bias[static_cast<size_t>(m)];
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t ky = 0; ky < c.kernel[0]; ++ky)
                for (int64_t kx = 0; kx < c.kernel[1]; ++kx) {
                  const int64_t iy = oy * c.stride[0] - c.pad_begin[0] + ky * c.dilation[0];
                  const int64_t ix = ox * c.stride[1] - c.pad_begin[1] + kx * c.dilation[1];
                  if (iy < 0 || iy >= c.in[0] || ix < 0 || ix >= c.in[1]) continue;
                  acc += static_cast<double>(w[static_cast<size_t>(((m * cg + ci) * c.kernel[0] + ky) * c.kernel[1] + kx)]) *
                         x[static_cast<size_t>(((n * c.in_channels + grp * cg + ci) * c.in[0] + iy) * c.in[1] + ix)];
                }
            const float got = y.data<float>()[((n * c.out_channels + m) * out[0] + oy) * out[1] + ox];
            worst = std::max(worst, std::fabs(got - acc));
          }
    INFO("input " << c.in[0] << "x" << c.in[1] << " kernel " << c.kernel[0] << "x" << c.kernel[1] << " group " << c.group);
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("ConvTranspose matches a naive scatter loop: 1-3 spatial dims, groups, dilation, pads, output_padding",
          "[kernels][conv]") {
  const Geometry cases[] = {
      // 2-D: the decoder shapes (k2 s2; k4 s2 p1 grouped) and stride 1, dilation, uneven pads.
      {{7, 9}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {0, 0}, 1, 6, 4},
      {{8, 6}, {4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, 2, 8, 6},
      {{9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, 4, 8, 8},
      {{5, 7}, {3, 2}, {3, 2}, {2, 3}, {2, 0}, {1, 3}, {1, 1}, 1, 3, 5},
      {{6, 4}, {5, 3}, {2, 3}, {1, 2}, {0, 4}, {3, 0}, {1, 2}, 3, 6, 3},
      // 1-D and 3-D go through the shared index map.
      {{13}, {3}, {2}, {2}, {1}, {2}, {1}, 2, 4, 6},
      {{3, 4, 5}, {2, 3, 2}, {2, 1, 2}, {1, 2, 1}, {0, 1, 1}, {1, 0, 0}, {1, 0, 1}, 2, 4, 4}};
  const int64_t batch = 2;
  for (const Geometry& c : cases) {
    const size_t nd = c.in.size();
    std::vector<int64_t> out(nd);
    for (size_t d = 0; d < nd; ++d) {
      out[d] = c.stride[d] * (c.in[d] - 1) + c.out_padding[d] + c.dilation[d] * (c.kernel[d] - 1) + 1 - c.pad_begin[d] -
               c.pad_end[d];
    }
    const int64_t cg = c.in_channels / c.group, mg = c.out_channels / c.group;
    std::vector<int64_t> w_dims{c.in_channels, mg};
    w_dims.insert(w_dims.end(), c.kernel.begin(), c.kernel.end());
    std::vector<int64_t> x_dims{batch, c.in_channels};
    x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
    const auto x = wave(product(x_dims), 0.37f);
    const auto w = wave(product(w_dims), 0.91f);
    const auto bias = wave(c.out_channels, 1.7f);
    const Tensor y = runConvNode("ConvTranspose", c, x_dims, x, w_dims, w, bias);
    std::vector<int64_t> y_dims{batch, c.out_channels};
    y_dims.insert(y_dims.end(), out.begin(), out.end());
    REQUIRE(y.shape() == Shape(y_dims.begin(), y_dims.end()));
    // The definition: every input value, times every tap, lands at i * stride - pad + k * dilation.
    std::vector<double> want(static_cast<size_t>(product(y_dims)));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t m = 0; m < c.out_channels; ++m)
        for (int64_t o = 0; o < product(out); ++o) want[static_cast<size_t>((n * c.out_channels + m) * product(out) + o)] = bias[static_cast<size_t>(m)];
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t ci = 0; ci < c.in_channels; ++ci) {
        const int64_t grp = ci / cg;
        std::vector<int64_t> i(nd, 0);
        do {
          std::vector<int64_t> k(nd, 0);
          do {
            std::vector<int64_t> o(nd);
            bool inside = true;
            for (size_t d = 0; d < nd; ++d) {
              o[d] = i[d] * c.stride[d] - c.pad_begin[d] + k[d] * c.dilation[d];
              inside = inside && o[d] >= 0 && o[d] < out[d];
            }
            if (!inside) continue;
            for (int64_t mi = 0; mi < mg; ++mi) {
              const int64_t m = grp * mg + mi;
              want[static_cast<size_t>((n * c.out_channels + m) * product(out) + flat(o, out))] +=
                  static_cast<double>(x[static_cast<size_t>((n * c.in_channels + ci) * product(c.in) + flat(i, c.in))]) *
                  w[static_cast<size_t>((ci * mg + mi) * product(c.kernel) + flat(k, c.kernel))];
            }
          } while (next(k, c.kernel));
        } while (next(i, c.in));
      }
    double worst = 0.0;
    for (size_t j = 0; j < want.size(); ++j) worst = std::max(worst, std::fabs(y.data<float>()[j] - want[j]));
    INFO("ConvTranspose <" << attributes(c, true) << ">");
    CHECK(worst < 1e-4);
  }
}

}  // namespace
}  // namespace vitq

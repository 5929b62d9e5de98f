// The --preprocess grammar (presets, overrides, errors), Pillow-exact bilinear resizing and the
// float32 normalization. Bit-exactness against the data scripts on real images is in
// tests/cli/image_data_test.py.
#include <catch2/catch.hpp>

#include "calib/image_resize.h"
#include "calib/preprocess.h"

namespace vitq {
namespace {

using Pixels = std::vector<uint8_t>;

std::string parsed(const std::string& text) {
  auto p = parsePreprocess(text);
  INFO(p.status().message());
  REQUIRE(p.isOk());
  return p->toString();
}

std::string parseError(const std::string& text) {
  auto p = parsePreprocess(text);
  REQUIRE_FALSE(p.isOk());
  return p.status().message();
}

TEST_CASE("preprocess presets spell out the data scripts' preprocessing", "[calib][preprocess]") {
  CHECK(parsed("ppocr-rec") ==
        "channels=bgr,resize=fit-height:640x48,crop=none,scale=1/255,mean=0.5,std=0.5,pad=0,layout=nchw");
  CHECK(parsed("ppocr-cls") ==
        "channels=bgr,resize=fit-height:192x48,crop=none,scale=1/255,mean=0.5,std=0.5,pad=0,layout=nchw");
  CHECK(parsed("ppocr-det") ==
        "channels=bgr,resize=none,crop=none,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,layout=nchw");
  CHECK(parsed("fashion-mnist") ==
        "channels=gray,resize=28x28,crop=none,scale=1/255,mean=0.286,std=0.353,layout=nchw");
  CHECK(parsed("imagenet") == "channels=rgb,resize=shorter:256,crop=224x224,scale=1/255,mean=0.485,0.456,0.406,"
                              "std=0.229,0.224,0.225,layout=nchw");
  CHECK(preprocessPresets() == std::vector<std::string>{"ppocr-rec", "ppocr-cls", "ppocr-det", "fashion-mnist",
                                                        "imagenet"});
}

TEST_CASE("preprocess keys override a preset; bare keys start from the defaults", "[calib][preprocess]") {
  CHECK(parsed("imagenet, resize=shorter:232 ,layout=nhwc") ==
        "channels=rgb,resize=shorter:232,crop=224x224,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,"
        "layout=nhwc");
  CHECK(parsed("ppocr-rec,resize=fit-height:320x32,pad=-1") ==
        "channels=bgr,resize=fit-height:320x32,crop=none,scale=1/255,mean=0.5,std=0.5,pad=-1,layout=nchw");
  CHECK(parsed("resize=224x224") == "channels=rgb,resize=224x224,crop=none,scale=1/255,mean=0,std=1,layout=nchw");
  CHECK(parsed("channels=gray,scale=2,mean=1,std=0.5") ==
        "channels=gray,resize=none,crop=none,scale=2,mean=1,std=0.5,layout=nchw");
  auto p = parsePreprocess("scale=0.5/2,mean=1,2,3");
  REQUIRE(p.isOk());
  CHECK((p->scale_num == 0.5f && p->scale_den == 2.0f));
  CHECK(p->mean == std::vector<float>{1, 2, 3});
  // numbers become float32 as numpy makes them from Python floats (through double)
  CHECK(parsePreprocess("mean=0.2860")->mean[0] == static_cast<float>(0.2860));
}

TEST_CASE("preprocess errors quote the declaration and say what is expected", "[calib][preprocess][errors]") {
  CHECK(parseError("imagenet,resize=224") ==
        "--preprocess 'imagenet,resize=224': resize='224': expected none, WxH, shorter:N or fit-height:WxH (sides 1 to "
        "16384)");
  CHECK(parseError("resize=0x10") ==
        "--preprocess 'resize=0x10': resize='0x10': expected none, WxH, shorter:N or fit-height:WxH (sides 1 to 16384)");
  CHECK(parseError("mnist") == "--preprocess 'mnist': unknown preset 'mnist' (presets: ppocr-rec, ppocr-cls, "
                               "ppocr-det, fashion-mnist, imagenet)");
  CHECK(parseError("size=3") == "--preprocess 'size=3': unknown key 'size' (keys: resize, crop, channels, layout, "
                                "scale, mean, std, pad)");
  CHECK(parseError("layout=nchw,imagenet") ==
        "--preprocess 'layout=nchw,imagenet': 'imagenet' is not key=value (a preset name comes first; keys: resize, "
        "crop, channels, layout, scale, mean, std, pad)");
  CHECK(parseError("channels=rgb,channels=bgr") == "--preprocess 'channels=rgb,channels=bgr': 'channels' is given twice");
  CHECK(parseError("channels=yuv") == "--preprocess 'channels=yuv': channels='yuv': expected rgb, bgr or gray");
  CHECK(parseError("layout=chw") == "--preprocess 'layout=chw': layout='chw': expected nchw or nhwc");
  CHECK(parseError("mean=1,2") ==
        "--preprocess 'mean=1,2': mean has 2 values; give 1 or one per channel (3)");
  CHECK(parseError("fashion-mnist,mean=0.1,0.2,0.3") ==
        "--preprocess 'fashion-mnist,mean=0.1,0.2,0.3': mean has 3 values; give 1 or one per channel (1)");
  CHECK(parseError("std=1,0,1") == "--preprocess 'std=1,0,1': std: '0' is not a non-zero number");
  CHECK(parseError("mean=a") == "--preprocess 'mean=a': mean: 'a' is not a number");
  CHECK(parseError("scale=1/0") ==
        "--preprocess 'scale=1/0': scale='1/0': expected a non-zero number or fraction, e.g. 1/255");
  CHECK(parseError("pad=inf") == "--preprocess 'pad=inf': pad='inf': expected a number");
  CHECK(parseError("ppocr-rec,crop=10x10") ==
        "--preprocess 'ppocr-rec,crop=10x10': crop does not combine with resize=fit-height (it pads instead)");
  CHECK(parseError("imagenet,,layout=nhwc") == "--preprocess 'imagenet,,layout=nhwc': an empty item");
  CHECK(parseError("") == "--preprocess '': an empty item");
  CHECK(parseError("crop=10,layout=nchw") == "--preprocess 'crop=10,layout=nchw': crop='10': expected none or WxH");
}

Image gray(int width, int height, Pixels pixels) { return Image{width, height, 1, std::move(pixels)}; }

TEST_CASE("bilinear resizing gives Pillow's pixels", "[calib][preprocess][resize]") {
  // Expected values printed by Pillow 9.4: Image.fromarray(a).resize((w, h), Image.BILINEAR)
  CHECK(resizeBilinear(gray(4, 1, {0, 100, 200, 255}), 2, 1).pixels == Pixels{71, 209});  // shrink: 3 taps each
  CHECK(resizeBilinear(gray(2, 2, {10, 250, 90, 30}), 3, 3).pixels == Pixels{10, 130, 250, 50, 95, 140, 90, 60, 30});
  Pixels ramp;
  for (int i = 0; i < 15; ++i) ramp.push_back(static_cast<uint8_t>(i * 17));
  CHECK(resizeBilinear(gray(5, 3, ramp), 2, 4).pixels == Pixels{17, 51, 70, 104, 134, 168, 187, 221});
  const Image same = resizeBilinear(gray(5, 3, ramp), 5, 3);
  CHECK(same.pixels == ramp);
  // channels are resampled independently
  const Image rgb = resizeBilinear(Image{4, 1, 3, {0, 1, 0, 100, 1, 10, 200, 1, 20, 255, 1, 30}}, 2, 1);
  CHECK(rgb.pixels == Pixels{71, 1, 7, 209, 1, 23});
}

TEST_CASE("preprocessing: channel order, gray conversion, padding, cropping, layout", "[calib][preprocess]") {
  // one row: (200, 50, 100), (10, 20, 30)
  const Image img{2, 1, 3, {200, 50, 100, 10, 20, 30}};
  auto run = [&](const std::string& text) {
    auto p = parsePreprocess(text);
    REQUIRE(p.isOk());
    auto t = preprocessImage(img, *p, "x.png");
    INFO(t.status().message());
    REQUIRE(t.isOk());
    return *t;
  };
  const Tensor bgr = run("channels=bgr");
  CHECK(bgr.shape() == Shape{1, 3, 1, 2});
  CHECK(std::vector<float>(bgr.data<float>(), bgr.data<float>() + 6) ==
        std::vector<float>{100 / 255.f, 30 / 255.f, 50 / 255.f, 20 / 255.f, 200 / 255.f, 10 / 255.f});
  const Tensor nhwc = run("channels=rgb,layout=nhwc,scale=1,mean=1,2,3,std=2");
  CHECK(nhwc.shape() == Shape{1, 1, 2, 3});
  CHECK(std::vector<float>(nhwc.data<float>(), nhwc.data<float>() + 6) ==
        std::vector<float>{99.5f, 24, 48.5f, 4.5f, 9, 13.5f});
  // PIL's convert("L"): (r*19595 + g*38470 + b*7471 + 0x8000) >> 16 -> 101 and 18
  const Tensor luma = run("channels=gray,scale=1");
  CHECK(std::vector<float>(luma.data<float>(), luma.data<float>() + 2) == std::vector<float>{101, 18});
  // fit-height: 2x1 -> height 2, width ceil(2 * 2 / 1) = 4 up to 6, then 2 columns of padding
  const Tensor padded = run("channels=gray,scale=1,resize=fit-height:6x2,pad=-7");
  CHECK(padded.shape() == Shape{1, 1, 2, 6});
  CHECK(padded.data<float>()[4] == -7.0f);
  CHECK(padded.data<float>()[11] == -7.0f);
  CHECK(padded.data<float>()[3] != -7.0f);
  // centre crop: torchvision's int(round((w - cw) / 2)), half to even: (5 - 2) / 2 = 1.5 -> 2
  const Image wide{5, 1, 1, {0, 1, 2, 3, 4}};
  auto p = parsePreprocess("channels=gray,scale=1,crop=2x1");
  REQUIRE(p.isOk());
  auto cropped = preprocessImage(wide, *p, "w.png");
  REQUIRE(cropped.isOk());
  CHECK(std::vector<float>(cropped->data<float>(), cropped->data<float>() + 2) == std::vector<float>{2, 3});
  auto too_big = preprocessImage(wide, *parsePreprocess("channels=gray,crop=6x1"), "w.png");
  REQUIRE_FALSE(too_big.isOk());
  CHECK(too_big.status().message() == "'w.png': crop 6x1 is larger than the image 5x1");
}

}  // namespace
}  // namespace vitq

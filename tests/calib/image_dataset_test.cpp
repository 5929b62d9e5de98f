// PNG/JPEG decoding (exact pixels, hostile files refused naming the file) and image datasets
// (name order, preprocessing, the errors of --data/--preprocess).
#include <catch2/catch.hpp>

#include <png.h>

#include <filesystem>
#include <random>

#include "calib/image_decode.h"
#include "calib/npy_io.h"
#include "calib/open_dataset.h"
#include "support/graph_dsl.h"
#include "support/image_files.h"

namespace vitq {
namespace {

namespace fs = std::filesystem;
using Pixels = std::vector<uint8_t>;

Image decodeFile(const fs::path& path) {
  auto image = readImage(path);
  INFO(image.status().message());
  REQUIRE(image.isOk());
  return *image;
}

std::string errorOf(const fs::path& path) {
  auto image = readImage(path);
  REQUIRE_FALSE(image.isOk());
  return image.status().message();
}

// A noisy RGB image: JPEG needs content for its entropy-coded data to span the file.
Pixels noise(int width, int height, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  Pixels p(static_cast<size_t>(width) * height * channels);
  for (auto& v : p) v = static_cast<uint8_t>(rng() & 0xff);
  return p;
}

TEST_CASE("PNG decoding gives the exact pixels of every 8-bit-reducible format", "[calib][image]") {
  const fs::path dir = test::makeTempDir("vitq-png");
  SECTION("8-bit RGB") {
    test::writePng(dir / "rgb.png", {3, 2, PNG_COLOR_TYPE_RGB, 8, false, {}},
                   {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {250, 251, 252, 0, 128, 255, 10, 20, 30}});
    const Image img = decodeFile(dir / "rgb.png");
    CHECK((img.width == 3 && img.height == 2 && img.channels == 3));
    CHECK(img.pixels == Pixels{1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252, 0, 128, 255, 10, 20, 30});
  }
  SECTION("8-bit gray") {
    test::writePng(dir / "gray.png", {2, 2, PNG_COLOR_TYPE_GRAY, 8, false, {}}, {{0, 17}, {200, 255}});
    const Image img = decodeFile(dir / "gray.png");
    CHECK(img.channels == 1);
    CHECK(img.pixels == Pixels{0, 17, 200, 255});
  }
  SECTION("RGBA and gray+alpha: alpha dropped") {
    test::writePng(dir / "rgba.png", {2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, false, {}}, {{9, 8, 7, 0, 1, 2, 3, 255}});
    CHECK(decodeFile(dir / "rgba.png").pixels == Pixels{9, 8, 7, 1, 2, 3});
    test::writePng(dir / "ga.png", {2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, {}}, {{40, 0, 41, 99}});
    const Image ga = decodeFile(dir / "ga.png");
    CHECK(ga.channels == 1);
    CHECK(ga.pixels == Pixels{40, 41});
  }
  SECTION("2-bit palette expanded to RGB") {
    // indices 0, 1, 2, 3 packed high bits first: 0b00011011
    test::writePng(dir / "pal.png", {4, 1, PNG_COLOR_TYPE_PALETTE, 2, false, {10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3}},
                   {{0x1b}});
    const Image img = decodeFile(dir / "pal.png");
    CHECK(img.channels == 3);
    CHECK(img.pixels == Pixels{10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3});
  }
  SECTION("16-bit gray scaled to 8 bits, 1-bit gray expanded") {
    // 0, 65535, 0x8080 (= 128 * 257), 1285 (= 5 * 257): exact multiples of 257 scale exactly
    test::writePng(dir / "g16.png", {4, 1, PNG_COLOR_TYPE_GRAY, 16, false, {}},
                   {{0x00, 0x00, 0xff, 0xff, 0x80, 0x80, 0x05, 0x05}});
    CHECK(decodeFile(dir / "g16.png").pixels == Pixels{0, 255, 128, 5});
    test::writePng(dir / "g1.png", {3, 1, PNG_COLOR_TYPE_GRAY, 1, false, {}}, {{0xa0}});  // 1, 0, 1
    CHECK(decodeFile(dir / "g1.png").pixels == Pixels{255, 0, 255});
  }
  SECTION("Adam7-interlaced RGB equals the same pixels written plainly") {
    const Pixels p = noise(9, 7, 3, 1);
    std::vector<Pixels> rows;
    for (int y = 0; y < 7; ++y) rows.emplace_back(p.begin() + y * 27, p.begin() + (y + 1) * 27);
    test::writePng(dir / "adam7.png", {9, 7, PNG_COLOR_TYPE_RGB, 8, true, {}}, rows);
    CHECK(decodeFile(dir / "adam7.png").pixels == p);
  }
  SECTION("the signature decides, not the name") {
    test::writePng(dir / "gray.jpg", {1, 1, PNG_COLOR_TYPE_GRAY, 8, false, {}}, {{77}});
    CHECK(decodeFile(dir / "gray.jpg").pixels == Pixels{77});
  }
}

TEST_CASE("JPEG decoding: gray and color, sizes exact, flat colors kept", "[calib][image]") {
  const fs::path dir = test::makeTempDir("vitq-jpeg");
  test::writeJpeg(dir / "gray.jpg", 16, 8, 1, Pixels(16 * 8, 128), 100);
  const Image gray = decodeFile(dir / "gray.jpg");
  CHECK((gray.width == 16 && gray.height == 8 && gray.channels == 1));
  CHECK(gray.pixels == Pixels(16 * 8, 128));
  Pixels color;
  for (int i = 0; i < 24 * 16; ++i) color.insert(color.end(), {200, 50, 100});
  test::writeJpeg(dir / "color.jpeg", 24, 16, 3, color, 100);
  const Image rgb = decodeFile(dir / "color.jpeg");
  CHECK((rgb.width == 24 && rgb.height == 16 && rgb.channels == 3));
  int worst = 0;  // YCbCr round trip: within a level or two of the flat color
  for (size_t i = 0; i < rgb.pixels.size(); ++i) worst = std::max(worst, std::abs(rgb.pixels[i] - color[i]));
  CHECK(worst <= 2);
}

TEST_CASE("hostile image files are clear errors naming the file", "[calib][image][robustness]") {
  const fs::path dir = test::makeTempDir("vitq-hostile-img");
  const Pixels p = noise(64, 64, 3, 2);
  std::vector<Pixels> rows;
  for (int y = 0; y < 64; ++y) rows.emplace_back(p.begin() + y * 192, p.begin() + (y + 1) * 192);
  test::writePng(dir / "good.png", {64, 64, PNG_COLOR_TYPE_RGB, 8, false, {}}, rows);
  test::writeJpeg(dir / "good.jpg", 64, 64, 3, p);
  const std::string png = test::readFile(dir / "good.png"), jpeg = test::readFile(dir / "good.jpg");

  SECTION("truncated PNG, at half and just before IEND") {
    test::writeFile(dir / "half.png", png.substr(0, png.size() / 2));
    CHECK(errorOf(dir / "half.png") == "'" + (dir / "half.png").string() +
                                          "': truncated PNG (the file ends before the image does)");
    test::writeFile(dir / "noend.png", png.substr(0, png.size() - 12));
    CHECK(errorOf(dir / "noend.png") == "'" + (dir / "noend.png").string() +
                                           "': truncated PNG (the file ends before the image does)");
  }
  SECTION("truncated JPEG (libjpeg would only warn and fill gray)") {
    test::writeFile(dir / "half.jpg", jpeg.substr(0, jpeg.size() / 2));
    CHECK(errorOf(dir / "half.jpg") == "'" + (dir / "half.jpg").string() +
                                           "': truncated JPEG (the file ends before the image does)");
    test::writeFile(dir / "head.jpg", jpeg.substr(0, 40));  // inside the headers
    CHECK(errorOf(dir / "head.jpg") == "'" + (dir / "head.jpg").string() +
                                           "': truncated JPEG (the file ends before the image does)");
  }
  SECTION("random bytes named .png, an empty file") {
    std::string junk = "hello";
    std::mt19937 rng(3);
    for (int i = 0; i < 1000; ++i) junk += static_cast<char>(rng() & 0xff);
    test::writeFile(dir / "random.png", junk);
    CHECK(errorOf(dir / "random.png") == "'" + (dir / "random.png").string() +
                                             "' is not a PNG or JPEG image (its first bytes are neither signature)");
    test::writeFile(dir / "empty.jpg", "");
    CHECK(errorOf(dir / "empty.jpg") == "'" + (dir / "empty.jpg").string() + "' is empty, not an image");
  }
  SECTION("a PNG claiming 100000x100000 is refused before allocating") {
    test::writeFile(dir / "huge.png", test::pngHeaderClaiming(100000, 100000));
    CHECK(errorOf(dir / "huge.png") == "'" + (dir / "huge.png").string() +
                                           "': 100000x100000 pixels is past vitq's image limit (at most 16384 a "
                                           "side and 67108864 pixels)");
    test::writeFile(dir / "wide.png", test::pngHeaderClaiming(20000, 1));  // one side past the limit
    CHECK_THAT(errorOf(dir / "wide.png"), Catch::Contains("20000x1 pixels is past vitq's image limit"));
    test::writeFile(dir / "square.png", test::pngHeaderClaiming(9000, 9000));  // the pixel count past it
    CHECK_THAT(errorOf(dir / "square.png"), Catch::Contains("9000x9000 pixels is past vitq's image limit"));
  }
  SECTION("a JPEG claiming 60000x60000 is refused before decoding") {
    std::string big = jpeg;
    const size_t sof = big.find("\xff\xc0");
    REQUIRE(sof != std::string::npos);
    for (size_t at : {sof + 5, sof + 7}) {  // height, then width, big-endian: 60000 = 0xea60
      big[at] = static_cast<char>(0xea);
      big[at + 1] = static_cast<char>(0x60);
    }
    test::writeFile(dir / "huge.jpg", big);
    CHECK(errorOf(dir / "huge.jpg") == "'" + (dir / "huge.jpg").string() +
                                           "': 60000x60000 pixels is past vitq's image limit (at most 16384 a "
                                           "side and 67108864 pixels)");
  }
  SECTION("a progressive JPEG of 568 scans is refused past 500 (each scan re-reads the image)") {
    test::writeManyScanJpeg(dir / "scans.jpg", 16, 16);
    CHECK(errorOf(dir / "scans.jpg") == "'" + (dir / "scans.jpg").string() +
                                            "': corrupt or unsupported JPEG: more than 500 progressive scans");
  }
  SECTION("corrupt data: a flipped byte in a PNG's pixels, garbage after a JPEG's signature") {
    std::string bad = png;
    bad[png.find("IDAT") + 40] ^= 0x55;
    test::writeFile(dir / "flipped.png", bad);
    CHECK(errorOf(dir / "flipped.png") == "'" + (dir / "flipped.png").string() + "': corrupt PNG: IDAT: CRC error");
    test::writeFile(dir / "garbage.jpg", jpeg.substr(0, 3) + std::string(200, '\x17'));
    CHECK_THAT(errorOf(dir / "garbage.jpg"),
               Catch::StartsWith("'" + (dir / "garbage.jpg").string() + "': corrupt or unsupported JPEG: "));
  }
}

const char* kRgbModel = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 3, 2, 2] X) => (float[N, 3, 2, 2] Y) {
  Y = Relu(X)
}
)ONNX";

const char* kTwoInputModel = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 3, 2, 2] A, float[N, 3, 2, 2] B) => (float[N, 3, 2, 2] Y) {
  Y = Add(A, B)
}
)ONNX";

void writeRgb2x2(const fs::path& path, uint8_t base) {
  test::writePng(path, {2, 2, PNG_COLOR_TYPE_RGB, 8, false, {}},
                 {{base, uint8_t(base + 1), uint8_t(base + 2), uint8_t(base + 3), uint8_t(base + 4), uint8_t(base + 5)},
                  {uint8_t(base + 6), uint8_t(base + 7), uint8_t(base + 8), uint8_t(base + 9), uint8_t(base + 10),
                   uint8_t(base + 11)}});
}

TEST_CASE("an image folder is a dataset: name order, one image per sample, the declared preprocessing",
          "[calib][dataset][image]") {
  Model m = test::parseModel(kRgbModel);
  const fs::path dir = test::makeTempDir("vitq-imgds");
  writeRgb2x2(dir / "b.png", 100);
  writeRgb2x2(dir / "a.png", 0);
  test::writeFile(dir / "labels.txt", "other files are ignored\n");
  auto ds = openDataset(dir, {m.graph->inputs()[0]}, "channels=bgr,scale=1/255");
  INFO(ds.status().message());
  REQUIRE(ds.isOk());
  REQUIRE((*ds)->size() == 2);
  auto first = (*ds)->sample(0);
  REQUIRE(first.isOk());
  const Tensor& x = first->at("X");
  CHECK(x.shape() == Shape{1, 3, 2, 2});
  // a.png, BGR planes: blue of the four pixels first
  const std::vector<int> order{2, 5, 8, 11, 1, 4, 7, 10, 0, 3, 6, 9};
  for (size_t i = 0; i < order.size(); ++i) CHECK(x.data<float>()[i] == static_cast<float>(order[i]) / 255.0f);
  auto second = (*ds)->sample(1);
  REQUIRE(second.isOk());
  CHECK(second->at("X").data<float>()[0] == 102.0f / 255.0f);

  // one image file is a dataset of one
  auto single = openDataset(dir / "b.png", {m.graph->inputs()[0]}, "channels=rgb");
  REQUIRE(single.isOk());
  CHECK((*single)->size() == 1);
}

TEST_CASE("image data errors: no --preprocess, mixed folders, wrong shapes, several inputs",
          "[calib][dataset][image][errors]") {
  Model m = test::parseModel(kRgbModel);
  const std::vector<const Value*> inputs{m.graph->inputs()[0]};
  const fs::path dir = test::makeTempDir("vitq-imgerr");
  writeRgb2x2(dir / "a.png", 0);

  auto bare = openDataset(dir, inputs, "");
  REQUIRE_FALSE(bare.isOk());
  CHECK(bare.status().message() ==
        "'" + dir.string() + "' holds images: say how to turn them into the input with --preprocess (docs/cli.md)");

  auto bad = openDataset(dir, inputs, "rgb");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("unknown preset 'rgb'"));

  auto wrong = openDataset(dir, inputs, "resize=3x2");
  REQUIRE(wrong.isOk());
  auto sample = (*wrong)->sample(0);
  REQUIRE_FALSE(sample.isOk());
  CHECK(sample.status().message() == "'" + (dir / "a.png").string() +
                                         "' has shape [1,3,2,3]; input 'X' is float[N,3,2,2] (the image after "
                                         "--preprocess 'resize=3x2')");

  Model two = test::parseModel(kTwoInputModel);
  auto several = openDataset(dir, {two.graph->inputs()[0], two.graph->inputs()[1]}, "channels=rgb");
  REQUIRE_FALSE(several.isOk());
  CHECK_THAT(several.status().message(), Catch::Contains("images feed one-input models; this model has 2 inputs"));

  REQUIRE(writeNpy(Tensor::fromVector<float>(std::vector<float>(12, 0.5f), {1, 3, 2, 2}), dir / "z.npy").isOk());
  auto mixed = openDataset(dir, inputs, "channels=rgb");
  REQUIRE_FALSE(mixed.isOk());
  CHECK(mixed.status().message() ==
        "data folder '" + dir.string() + "' mixes images and .npy files: keep one kind of sample per folder");

  const fs::path npy_dir = test::makeTempDir("vitq-npyonly");
  REQUIRE(writeNpy(Tensor::fromVector<float>(std::vector<float>(12, 0.5f), {1, 3, 2, 2}), npy_dir / "z.npy").isOk());
  auto npy_with_preprocess = openDataset(npy_dir, inputs, "imagenet");
  REQUIRE_FALSE(npy_with_preprocess.isOk());
  CHECK(npy_with_preprocess.status().message() ==
        "--preprocess applies to images; '" + npy_dir.string() + "' holds no .png, .jpg or .jpeg files");
  auto npy = openDataset(npy_dir, inputs, "");
  REQUIRE(npy.isOk());
  CHECK((*npy)->size() == 1);

  // a bad image in the folder fails its own sample, naming it
  test::writeFile(dir / "zz.png", "not an image at all");
  fs::remove(dir / "z.npy");
  auto with_junk = openDataset(dir, inputs, "channels=rgb");
  REQUIRE(with_junk.isOk());
  REQUIRE((*with_junk)->sample(0).isOk());
  auto junk = (*with_junk)->sample(1);
  REQUIRE_FALSE(junk.isOk());
  CHECK_THAT(junk.status().message(), Catch::StartsWith("'" + (dir / "zz.png").string() + "' is not a PNG or JPEG"));
}

}  // namespace
}  // namespace vitq

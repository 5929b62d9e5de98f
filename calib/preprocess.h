// The declared preprocessing that turns a decoded image into a model input (`--preprocess`):
// parsed from "PRESET,key=value,..." (docs/cli.md) and applied as the project's data scripts
// (PIL + numpy, float32) apply it, bit for bit.
#pragma once

#include <string>
#include <vector>

#include "calib/image_decode.h"
#include "ir/tensor.h"

namespace vitq {

struct Preprocess {
  enum class Channels { kRgb, kBgr, kGray };
  enum class Resize {
    kNone,       // the image as it is
    kStretch,    // to width x height exactly
    kShorter,    // shorter side to `width` (held there), the other by the aspect ratio (torchvision Resize(int))
    kFitHeight,  // height fixed, width ceil(h * W / H) up to `width`, right-padded to `width` (PaddleOCR rec)
  };
  enum class Layout { kNchw, kNhwc };

  Channels channels = Channels::kRgb;
  Resize resize = Resize::kNone;
  int width = 0, height = 0;            // of the resize
  int crop_width = 0, crop_height = 0;  // center crop after resizing; 0: none
  // value = (pixel * scale_num / scale_den - mean[c]) / std_dev[c], in float32 as numpy computes it.
  float scale_num = 1.0f, scale_den = 255.0f;
  std::vector<float> mean{0.0f}, std_dev{1.0f};  // one value for all channels, or one per channel
  float pad = 0.0f;                          // fills fit-height's right padding (after normalization)
  Layout layout = Layout::kNchw;

  int channelCount() const { return channels == Channels::kGray ? 1 : 3; }
  /// The canonical text: every key, e.g. "channels=bgr,resize=fit-height:640x48,...".
  std::string toString() const;
};

/// The preset names, in the order the help lists them.
std::vector<std::string> preprocessPresets();

/// Parses "[PRESET][,key=value]..." (keys override the preset). Errors quote the bad part.
StatusOr<Preprocess> parsePreprocess(const std::string& text);

/// The float32 input [1, C, H, W] (or [1, H, W, C]) for \p image; \p source names the image in
/// errors (a crop larger than the resized image).
StatusOr<Tensor> preprocessImage(const Image& image, const Preprocess& p, const std::string& source);

}  // namespace vitq

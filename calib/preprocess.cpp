#include "calib/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "calib/image_resize.h"
#include "core/text.h"

namespace vitq {
namespace {

// Each preset spells out every key the project's data script (or torchvision) applies, in the
// same grammar the user writes, so that "PRESET,key=value" overrides read naturally.
const std::vector<std::pair<std::string, std::string>>& presets() {
  static const std::vector<std::pair<std::string, std::string>> kPresets = {
      // scripts/data/ppocr_data.py rec_preprocess (PaddleOCR's resize_norm_img), height 48, width 640
      {"ppocr-rec", "channels=bgr,resize=fit-height:640x48,scale=1/255,mean=0.5,std=0.5,pad=0,layout=nchw"},
      // the same for the direction classifier, width 192
      {"ppocr-cls", "channels=bgr,resize=fit-height:192x48,scale=1/255,mean=0.5,std=0.5,pad=0,layout=nchw"},
      // det_preprocess: no resize, ImageNet statistics applied to the BGR channels as PaddleOCR does
      {"ppocr-det", "channels=bgr,resize=none,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,layout=nchw"},
      // scripts/data/fashion_mnist_data.py: (pixel/255 - 0.2860)/0.3530, 28x28 gray
      {"fashion-mnist", "channels=gray,resize=28x28,scale=1/255,mean=0.2860,std=0.3530,layout=nchw"},
      // torchvision's Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet)
      {"imagenet",
       "channels=rgb,resize=shorter:256,crop=224x224,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,"
       "layout=nchw"},
  };
  return kPresets;
}

const char* kKeys = "resize, crop, channels, layout, scale, mean, std, pad";

// A decimal number as numpy makes a float32 of a Python float: parsed as double, then rounded.
bool parseNumber(const std::string& text, float* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v) || std::fabs(v) > 3.4e38) return false;
  *out = static_cast<float>(v);
  return true;
}

bool parseSide(const std::string& text, int* out) {
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::stoi(text);
  return *out >= 1 && *out <= kMaxImageSide;
}

// "WxH"
bool parseSize(const std::string& text, int* width, int* height) {
  const size_t x = text.find('x');
  return x != std::string::npos && parseSide(text.substr(0, x), width) && parseSide(text.substr(x + 1), height);
}

std::string formatNumber(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.7g", static_cast<double>(v));
  return buf;
}

std::string formatList(const std::vector<float>& values) {
  std::string s;
  for (float v : values) s += (s.empty() ? "" : ",") + formatNumber(v);
  return s;
}

class Parser {
 public:
  explicit Parser(std::string whole) : whole_(std::move(whole)) {}

  Status apply(const std::string& key, const std::string& value, Preprocess& p) {
    const std::string bad = "--preprocess '" + whole_ + "': " + key + "='" + value + "': ";
    if (key == "channels") {
      if (value == "rgb") p.channels = Preprocess::Channels::kRgb;
      else if (value == "bgr") p.channels = Preprocess::Channels::kBgr;
      else if (value == "gray") p.channels = Preprocess::Channels::kGray;
      else return invalidArgument(bad + "expected rgb, bgr or gray");
    } else if (key == "layout") {
      if (value == "nchw") p.layout = Preprocess::Layout::kNchw;
      else if (value == "nhwc") p.layout = Preprocess::Layout::kNhwc;
      else return invalidArgument(bad + "expected nchw or nhwc");
    } else if (key == "resize") {
      const size_t colon = value.find(':');
      const std::string mode = colon == std::string::npos ? "" : value.substr(0, colon);
      const std::string arg = colon == std::string::npos ? value : value.substr(colon + 1);
      if (value == "none") {
        p.resize = Preprocess::Resize::kNone;
      } else if (mode.empty() && parseSize(arg, &p.width, &p.height)) {
        p.resize = Preprocess::Resize::kStretch;
      } else if (mode == "shorter" && parseSide(arg, &p.width)) {
        p.resize = Preprocess::Resize::kShorter;
        p.height = p.width;
      } else if (mode == "fit-height" && parseSize(arg, &p.width, &p.height)) {
        p.resize = Preprocess::Resize::kFitHeight;
      } else {
        return invalidArgument(bad + "expected none, WxH, shorter:N or fit-height:WxH (sides 1 to " +
                               std::to_string(kMaxImageSide) + ")");
      }
    } else if (key == "crop") {
      if (value == "none") {
        p.crop_width = p.crop_height = 0;
      } else if (!parseSize(value, &p.crop_width, &p.crop_height)) {
        return invalidArgument(bad + "expected none or WxH");
      }
    } else if (key == "scale") {
      const size_t slash = value.find('/');
      float num = 0, den = 1;
      if (!parseNumber(value.substr(0, slash), &num) ||
          (slash != std::string::npos && !parseNumber(value.substr(slash + 1), &den)) || num == 0 || den == 0) {
        return invalidArgument(bad + "expected a non-zero number or fraction, e.g. 1/255");
      }
      p.scale_num = num;
      p.scale_den = den;
    } else if (key == "mean" || key == "std") {
      std::vector<float> values;
      for (const std::string& item : list_) {
        float v = 0;
        if (!parseNumber(item, &v) || (key == "std" && v == 0)) {
          return invalidArgument("--preprocess '" + whole_ + "': " + key + ": '" + item + "' is not a " +
                                 (key == "std" ? "non-zero " : "") + "number");
        }
        values.push_back(v);
      }
      (key == "mean" ? p.mean : p.std_dev) = values;
    } else if (key == "pad") {
      if (!parseNumber(value, &p.pad)) return invalidArgument(bad + "expected a number");
    } else {
      return invalidArgument("--preprocess '" + whole_ + "': unknown key '" + key + "' (keys: " + kKeys + ")");
    }
    return Status::ok();
  }

  // Splits "k=v,k=v1,v2" into keys with their comma-joined values; a bare item continues the list
  // of the key before it (mean and std take one value per channel).
  StatusOr<std::vector<std::pair<std::string, std::vector<std::string>>>> split(const std::string& text,
                                                                               bool preset_allowed,
                                                                               std::string* preset) {
    std::vector<std::pair<std::string, std::vector<std::string>>> items;
    size_t start = 0;
    bool first = true;
    while (true) {
      const size_t comma = text.find(',', start);
      const std::string token = trimmed(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (token.empty()) return invalidArgument("--preprocess '" + whole_ + "': an empty item");
      const size_t eq = token.find('=');
      if (eq != std::string::npos) {
        items.push_back({trimmed(token.substr(0, eq)), {trimmed(token.substr(eq + 1))}});
      } else if (first && preset_allowed) {
        *preset = token;
      } else if (!items.empty() && (items.back().first == "mean" || items.back().first == "std")) {
        items.back().second.push_back(token);
      } else {
        return invalidArgument("--preprocess '" + whole_ + "': '" + token +
                               "' is not key=value (a preset name comes first; keys: " + kKeys + ")");
      }
      first = false;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return items;
  }

  Status applyAll(const std::vector<std::pair<std::string, std::vector<std::string>>>& items, Preprocess& p,
                  bool reject_repeats) {
    std::set<std::string> seen;
    for (const auto& [key, values] : items) {
      if (reject_repeats && !seen.insert(key).second) {
        return invalidArgument("--preprocess '" + whole_ + "': '" + key + "' is given twice");
      }
      list_ = values;
      std::string joined;
      for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
      if (values.size() > 1 && key != "mean" && key != "std") {
        return invalidArgument("--preprocess '" + whole_ + "': " + key + " takes one value, got '" + joined + "'");
      }
      VITQ_RETURN_IF_ERROR(apply(key, joined, p));
    }
    return Status::ok();
  }

 private:
  std::string whole_;
  std::vector<std::string> list_;
};

}  // namespace

std::vector<std::string> preprocessPresets() {
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.first);
  return names;
}

StatusOr<Preprocess> parsePreprocess(const std::string& text) {
  Parser parser(text);
  std::string preset;
  VITQ_ASSIGN_OR_RETURN(auto items, parser.split(text, true, &preset));
  Preprocess p;
  if (!preset.empty()) {
    auto it = std::find_if(presets().begin(), presets().end(), [&](const auto& e) { return e.first == preset; });
    if (it == presets().end()) {
      std::string names;
      for (const auto& n : preprocessPresets()) names += (names.empty() ? "" : ", ") + n;
      return invalidArgument("--preprocess '" + text + "': unknown preset '" + preset + "' (presets: " + names + ")");
    }
    std::string none;
    VITQ_ASSIGN_OR_RETURN(auto preset_items, parser.split(it->second, false, &none));
    VITQ_RETURN_IF_ERROR(parser.applyAll(preset_items, p, false));
  }
  VITQ_RETURN_IF_ERROR(parser.applyAll(items, p, true));
  for (const auto* list : {&p.mean, &p.std_dev}) {
    const int n = static_cast<int>(list->size());
    if (n != 1 && n != p.channelCount()) {
      return invalidArgument("--preprocess '" + text + "': " + (list == &p.mean ? "mean" : "std") + " has " +
                             std::to_string(n) + " values; give 1 or one per channel (" +
                             std::to_string(p.channelCount()) + ")");
    }
  }
  if (p.crop_width && p.resize == Preprocess::Resize::kFitHeight) {
    return invalidArgument("--preprocess '" + text + "': crop does not combine with resize=fit-height (it pads instead)");
  }
  return p;
}

std::string Preprocess::toString() const {
  static const char* kChannels[] = {"rgb", "bgr", "gray"};
  std::string resize_text = "none";
  if (resize == Resize::kStretch) resize_text = std::to_string(width) + "x" + std::to_string(height);
  if (resize == Resize::kShorter) resize_text = "shorter:" + std::to_string(width);
  if (resize == Resize::kFitHeight) resize_text = "fit-height:" + std::to_string(width) + "x" + std::to_string(height);
  std::string s = std::string("channels=") + kChannels[static_cast<int>(channels)] + ",resize=" + resize_text;
  s += ",crop=" + (crop_width ? std::to_string(crop_width) + "x" + std::to_string(crop_height) : std::string("none"));
  s += ",scale=" + formatNumber(scale_num) + (scale_den != 1.0f ? "/" + formatNumber(scale_den) : "");
  s += ",mean=" + formatList(mean) + ",std=" + formatList(std_dev);
  if (resize == Resize::kFitHeight) s += ",pad=" + formatNumber(pad);
  s += std::string(",layout=") + (layout == Layout::kNchw ? "nchw" : "nhwc");
  return s;
}

namespace {

// PIL's convert("L") (ITU-R 601-2 luma in 16-bit fixed point) and convert("RGB") (gray repeated).
Image convertChannels(const Image& in, int channels) {
  if (in.channels == channels) return in;
  Image out{in.width, in.height, channels, {}};
  const size_t n = static_cast<size_t>(in.width) * in.height;
  out.pixels.resize(n * channels);
  for (size_t i = 0; i < n; ++i) {
    if (channels == 1) {
      const uint8_t* px = &in.pixels[i * 3];
      out.pixels[i] = static_cast<uint8_t>((px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16);
    } else {
      out.pixels[i * 3] = out.pixels[i * 3 + 1] = out.pixels[i * 3 + 2] = in.pixels[i];
    }
  }
  return out;
}

}  // namespace

StatusOr<Tensor> preprocessImage(const Image& image, const Preprocess& p, const std::string& source) {
  const int channels = p.channelCount();
  Image img = convertChannels(image, channels);
  int out_width = 0;  // of the tensor; wider than the pixels for fit-height's padding
  switch (p.resize) {
    case Preprocess::Resize::kNone:
      break;
    case Preprocess::Resize::kStretch:
      img = resizeBilinear(img, p.width, p.height);
      break;
    case Preprocess::Resize::kShorter: {
      // torchvision: the longer side int(N * long / short), truncated
      const int shorter = std::min(img.width, img.height), longer = std::max(img.width, img.height);
      const int scaled = static_cast<int>(static_cast<double>(p.width) * longer / shorter);
      if (scaled < 1 || scaled > kMaxImageSide) {
        return invalidArgument("'" + source + "': resize=shorter:" + std::to_string(p.width) + " would make it " +
                               std::to_string(scaled) + " pixels long");
      }
      img = img.width <= img.height ? resizeBilinear(img, p.width, scaled) : resizeBilinear(img, scaled, p.width);
      break;
    }
    case Preprocess::Resize::kFitHeight: {
      // PaddleOCR: min(W, ceil(H * w / h)), the quotient in double as Python's true division
      const double fit = std::ceil(static_cast<double>(p.height) * img.width / img.height);
      img = resizeBilinear(img, static_cast<int>(std::min<double>(p.width, fit)), p.height);
      out_width = p.width;
      break;
    }
  }
  int left = 0, top = 0, width = img.width, height = img.height;
  if (p.crop_width) {
    if (p.crop_width > img.width || p.crop_height > img.height) {
      return invalidArgument("'" + source + "': crop " + std::to_string(p.crop_width) + "x" +
                             std::to_string(p.crop_height) + " is larger than the " +
                             (p.resize == Preprocess::Resize::kNone ? "image " : "resized image ") +
                             std::to_string(img.width) + "x" + std::to_string(img.height));
    }
    // torchvision's center_crop: int(round((size - crop) / 2.0)), Python's round (half to even)
    left = static_cast<int>(std::nearbyint((img.width - p.crop_width) / 2.0));
    top = static_cast<int>(std::nearbyint((img.height - p.crop_height) / 2.0));
    width = p.crop_width;
    height = p.crop_height;
  }
  if (!out_width) out_width = width;
  const bool nchw = p.layout == Preprocess::Layout::kNchw;
  Tensor t(DataType::kFloat, nchw ? Shape{1, channels, height, out_width} : Shape{1, height, out_width, channels});
  float* dst = t.data<float>();
  for (int c = 0; c < channels; ++c) {
    const int src_c = p.channels == Preprocess::Channels::kBgr ? 2 - c : c;
    const float mean = p.mean[p.mean.size() == 1 ? 0 : static_cast<size_t>(c)];
    const float sd = p.std_dev[p.std_dev.size() == 1 ? 0 : static_cast<size_t>(c)];
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < out_width; ++x) {
        float v = p.pad;
        if (x < width) {
          const uint8_t px = img.pixels[(static_cast<size_t>(y + top) * img.width + (x + left)) * channels + src_c];
          // Three float32 roundings, in numpy's order: (px * num / den - mean) / std
          v = static_cast<float>(px) * p.scale_num / p.scale_den;
          v = (v - mean) / sd;
        }
        const size_t at = nchw ? (static_cast<size_t>(c) * height + y) * out_width + x
                               : (static_cast<size_t>(y) * out_width + x) * channels + c;
        dst[at] = v;
      }
    }
  }
  return t;
}

}  // namespace vitq

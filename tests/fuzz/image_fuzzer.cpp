// libFuzzer harness for the image decoders (PNG via libpng, JPEG via libjpeg-turbo): bytes ->
// decodeImage. Any input must give a Status or a well-formed image (pixels = width x height x
// channels), never a crash, a sanitizer report, a leak or an allocation past the size limits.
// Built and run by scripts/fuzz.sh image.
#include <cstddef>
#include <cstdint>
#include <string>

#include "calib/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto image = vitq::decodeImage(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (!image.isOk()) return 0;
  const size_t expected = static_cast<size_t>(image->width) * static_cast<size_t>(image->height) *
                          static_cast<size_t>(image->channels);
  if (image->pixels.size() != expected) __builtin_trap();
  return 0;
}

// libFuzzer harness for the calibration statistics reader: bytes -> statsFromJson (JSON parse and
// schema checks) -> merge with itself as another shard -> JSON again. Any input must give a
// Status, never a crash, a sanitizer report or a leak. Built and run by scripts/fuzz.sh stats.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "calib/stats_file.h"
#include "calib/stats_merge.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto stats = vitq::statsFromJson(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (!stats.isOk()) return 0;
  // A file the reader accepted must write out and read back to the same bytes.
  const std::string text = vitq::statsToJson(*stats);
  auto back = vitq::statsFromJson(text, "fuzz output");
  if (!back.isOk() || vitq::statsToJson(*back) != text) __builtin_trap();
  (void)vitq::mergeStats({*stats}, {"fuzz input"});
  return 0;
}

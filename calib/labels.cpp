#include "calib/labels.h"

#include "calib/npy_io.h"

namespace vitq {
namespace {

template <typename T>
std::vector<int64_t> widen(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<int64_t>(p, p + t.numel());
}

}  // namespace

StatusOr<std::vector<int64_t>> readLabels(const std::filesystem::path& path, size_t needed) {
  VITQ_ASSIGN_OR_RETURN(Tensor t, readNpy(path));
  const std::string where = "labels '" + path.string() + "'";
  if (!(t.rank() == 1 || (t.rank() == 2 && t.dim(1) == 1))) {
    return invalidArgument(where + " must hold one integer per sample (shape [N] or [N, 1]), not " +
                           shapeToString(t.shape()));
  }
  std::vector<int64_t> labels;
  switch (t.dtype()) {
    case DataType::kInt64: labels = widen<int64_t>(t); break;
    case DataType::kInt32: labels = widen<int32_t>(t); break;
    case DataType::kUInt8: labels = widen<uint8_t>(t); break;
    default: return invalidArgument(where + " must be int64, int32 or uint8, not " + std::string(dataTypeName(t.dtype())));
  }
  // Exactly one per sample: more labels than samples means another dataset's file.
  if (labels.size() != needed) {
    return invalidArgument(where + " holds " + std::to_string(labels.size()) + " labels for " +
                           std::to_string(needed) + " samples (one per sample of the data)");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) return invalidArgument(where + ": label " + std::to_string(i) + " is negative");
  }
  return labels;
}

}  // namespace vitq

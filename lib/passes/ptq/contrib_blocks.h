// The block sizes ONNX Runtime's block-wise 4-bit contrib ops (MatMulNBits, GatherBlockQuantized)
// take: powers of two from 16.
#pragma once

#include <cstdint>

namespace vitq {

inline constexpr int64_t kMinContribBlock = 16;

inline bool isContribBlock(int64_t block) { return block >= kMinContribBlock && (block & (block - 1)) == 0; }

}  // namespace vitq

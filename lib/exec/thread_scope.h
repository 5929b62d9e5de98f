// OpenMP's thread count for a stretch of code, restored on leaving: the executor's kernels, oneDNN
// and Eigen all size their parallel regions from it, so this is how --threads reaches every one of
// them (and why results do not depend on the machine's core count).
#pragma once

#include <omp.h>

namespace vitq {

class OmpThreadScope {
 public:
  explicit OmpThreadScope(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~OmpThreadScope() { omp_set_num_threads(previous_); }
  OmpThreadScope(const OmpThreadScope&) = delete;
  OmpThreadScope& operator=(const OmpThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace vitq

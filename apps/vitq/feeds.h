// Building model inputs from the command line: `--input name=file.npy` (the name may be left out
// when the model has one input) and random inputs for `--shape name=1,3,48,320` or fully known dims.
#pragma once

#include <string>
#include <vector>

#include "exec/executor.h"

namespace vitq::cli {

/// Loads every `name=file.npy` spec; checks that each name is a model input.
StatusOr<TensorMap> loadFeeds(const Executor& exec, const std::vector<std::string>& specs);

/// Adds seeded uniform[-1,1) float inputs (zeros for integer inputs) for every required input not
/// already in \p feeds, using \p shape_specs ("name=d0,d1,...") for dims the model leaves open.
Status addRandomFeeds(const Executor& exec, const std::vector<std::string>& shape_specs, uint64_t seed,
                      TensorMap& feeds);

}  // namespace vitq::cli

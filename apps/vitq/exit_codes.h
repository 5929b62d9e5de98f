// The CLI's exit codes, documented in docs/cli.md.
#pragma once

#include "core/status.h"

namespace vitq::cli {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;    // a bug in vitq
constexpr int kExitBadInput = 2;    // bad usage, bad model, bad data, I/O failure
constexpr int kExitGateFailed = 3;  // an accuracy gate set with --fail-if did not hold

int exitCodeFor(const Status& status);

}  // namespace vitq::cli

#include "vitq/exit_codes.h"

namespace vitq::cli {

int exitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInternal: return kExitInternal;
    case StatusCode::kGateFailed: return kExitGateFailed;
    default: return kExitBadInput;
  }
}

}  // namespace vitq::cli

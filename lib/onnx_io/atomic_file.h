// AtomicFile: write to "<dir>/.<name>.tmp-XXXXXX", fsync, then rename over the destination on
// commit(). A destroyed, uncommitted AtomicFile removes its temporary file, and temporaries are
// also removed if the process is interrupted (SIGINT/SIGTERM/SIGHUP), so no partial output is left;
// SIGXFSZ (a file size limit) is ignored so that it surfaces as a write error.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace vitq {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path destination);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Writes all of \p bytes to a fresh temporary file beside the destination.
  Status write(const std::string& bytes);
  /// Renames the temporary file over the destination.
  Status commit();

 private:
  std::filesystem::path destination_;
  std::string temp_path_;
};

/// Checks before any work that \p destination's folder exists and is writable (the write itself can
/// still fail later: a full disk, a file size limit, a read-only view that access() does not see).
Status checkDestinationFolder(const std::filesystem::path& destination);

}  // namespace vitq

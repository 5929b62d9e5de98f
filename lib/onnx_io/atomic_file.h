// AtomicFile: write to "<dir>/.<name>.tmp-XXXXXX", fsync, then rename over the destination on
// commit(). A destroyed, uncommitted AtomicFile removes its temporary file, and temporaries are
// also removed if the process is interrupted (SIGINT/SIGTERM), so no partial output is left.
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

}  // namespace vitq

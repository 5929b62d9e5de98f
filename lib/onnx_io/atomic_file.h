// AtomicFile: write to "<dir>/.<name>.tmp-<pid>-<n>", fsync, then rename over the destination on
// commit(). A destroyed, uncommitted AtomicFile removes its temporary file, and temporaries are
// also removed if the process is interrupted (SIGINT/SIGTERM/SIGHUP), so no partial output is left;
// SIGXFSZ (a file size limit) is ignored so that it surfaces as a write error. A process killed
// outright (SIGKILL) leaves its temporary: the next write to the same destination removes the
// temporaries of processes that no longer run (named by their process id), saying so at info level.
// Outputs are regular files only: a symlink is written through (its target replaced), a device,
// pipe or socket is refused, and so is any file this run has read (protectInput), so an output can
// never destroy an input, whatever path leads to it.
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

  /// Writes all of \p bytes to a fresh temporary file beside the destination (first removing the
  /// destination's temporaries left by dead processes).
  Status write(const std::string& bytes);
  /// Renames the temporary file over the destination.
  Status commit();

 private:
  std::filesystem::path destination_;  // symlinks resolved: the file that gets replaced
  std::string shown_;                  // the path as given, for messages
  std::string temp_path_;
};

/// Checks before any work that \p destination's folder exists and is writable (the write itself can
/// still fail later: a full disk, a file size limit, a read-only view that access() does not see).
Status checkDestinationFolder(const std::filesystem::path& destination);

/// checkDestinationFolder, and that \p destination names a file: not empty, not a folder, not a
/// device, pipe or socket (through symlinks), not an input of this run.
Status checkDestination(const std::filesystem::path& destination);

/// Records \p path (a file this run reads; \p role says which, e.g. "the input model") so that no
/// AtomicFile replaces it. Files are told apart by device and inode: links and other spellings
/// of the same file count too.
void protectInput(const std::filesystem::path& path, const std::string& role);

}  // namespace vitq

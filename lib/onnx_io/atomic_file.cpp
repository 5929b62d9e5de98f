#include "onnx_io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "core/logging.h"

namespace vitq {
namespace {

// Temporary files alive right now, for the signal handler. Fixed-size array: a handler may not
// allocate, and a handful of files are open at once at most. A slot's flag is set (release) after
// its path is complete, so a handler on any thread reads whole paths (acquire).
constexpr int kMaxLive = 16;
char g_live[kMaxLive][4096];
std::atomic<int> g_live_used[kMaxLive];
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler reads these flags");
std::mutex g_live_mutex;

extern "C" void removeTempsAndReraise(int sig) {
  for (int i = 0; i < kMaxLive; ++i) {
    if (g_live_used[i].load(std::memory_order_acquire)) ::unlink(g_live[i]);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Installed before every write, not once: a library or test harness may have replaced them since.
// A signal the process was told to ignore (nohup, background jobs) stays ignored.
void installHandlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    std::signal(sig, removeTempsAndReraise);
  }
  // Past a file size limit (ulimit -f) the kernel sends SIGXFSZ, which kills the process with
  // the temporary still on disk; ignored, write() fails with EFBIG and the error path cleans up.
  std::signal(SIGXFSZ, SIG_IGN);
}

// A path that finds no slot (all taken, or longer than one) goes untracked: the write goes on.
void track(const std::string& path, bool live) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  for (int i = 0; i < kMaxLive; ++i) {
    const bool used = g_live_used[i].load(std::memory_order_relaxed);
    if (live && !used && path.size() < sizeof(g_live[i])) {
      std::memcpy(g_live[i], path.c_str(), path.size() + 1);
      g_live_used[i].store(1, std::memory_order_release);
      return;
    }
    if (!live && used && path == g_live[i]) {
      g_live_used[i].store(0, std::memory_order_release);
      return;
    }
  }
}

// Creates a fresh temporary file beside \p destination and returns its descriptor (-1 and errno on
// failure), its path in \p path. The name is tracked *before* the file exists and untracked only
// after it is gone, so a signal at any instant finds every temporary on disk in the list (with
// mkstemp the file would exist, untracked, until mkstemp returned). Names carry the process id and
// a counter, unique among live processes; O_EXCL never opens someone else's file.
int createTracked(const std::filesystem::path& destination, std::string& path) {
  static std::atomic<unsigned> counter{0};
  const auto dir = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  for (int attempt = 0; attempt < 100; ++attempt) {
    path = (dir / ("." + destination.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                   std::to_string(counter.fetch_add(1)))).string();
    track(path, true);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    const int open_errno = errno;
    track(path, false);
    if (open_errno != EEXIST) {
      errno = open_errno;
      return -1;
    }
  }
  errno = EEXIST;
  return -1;
}

// Removes the temporaries of \p destination that processes no longer running left behind (a
// SIGKILL, the OOM killer or a power cut gives no handler a chance): regular files named
// ".NAME.tmp-PID-N" whose PID is no process on this machine. This process's own temporaries and
// those of live processes (another vitq writing the same output now) are kept; so are those of
// processes kill() may not probe (another user's: EPERM).
void removeStaleTemporaries(const std::filesystem::path& destination) {
  const auto dir = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  const std::string prefix = "." + destination.filename().string() + ".tmp-";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());  // "PID-N"
    const size_t dash = rest.find('-');
    const bool digits = dash != std::string::npos && dash > 0 && dash < 10 && dash + 1 < rest.size() &&
                        rest.find_first_not_of("0123456789") == dash &&
                        rest.find_first_not_of("0123456789", dash + 1) == std::string::npos;
    if (!digits) continue;
    const long pid = std::stol(rest.substr(0, dash));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) == 0) {
      logger("vitq.io")->info("removed '{}', a temporary file that process {} left when it was killed (it no longer runs)",
                              it->path().string(), pid);
    }
  }
}

// Files this run has read, by (device, inode): path and role, for messages. A map, because a
// dataset folder can hold many thousands of samples.
struct ProtectedInput {
  std::string path, role;
};
std::map<std::pair<dev_t, ino_t>, ProtectedInput> g_inputs;
std::mutex g_inputs_mutex;

// Where a write to \p destination lands: the target of a symlink (so the link survives), else
// the path itself (a dangling link is replaced).
std::filesystem::path resolved(const std::filesystem::path& destination) {
  std::error_code ec;
  if (!std::filesystem::is_symlink(destination, ec)) return destination;
  const auto target = std::filesystem::canonical(destination, ec);
  return ec ? destination : target;
}

// Refuses an existing \p destination that is no regular file, or is an input of this run.
Status checkReplaceable(const std::filesystem::path& destination, const std::string& shown) {
  struct stat st {};
  if (::stat(destination.c_str(), &st) != 0) return Status::ok();  // a new file
  if (S_ISDIR(st.st_mode)) return invalidArgument("output '" + shown + "' is a folder; name a file");
  if (!S_ISREG(st.st_mode)) {
    return invalidArgument("output '" + shown + "' is not a regular file (a device, pipe or socket); vitq writes "
                           "its outputs as files");
  }
  std::lock_guard<std::mutex> lock(g_inputs_mutex);
  const auto input = g_inputs.find({st.st_dev, st.st_ino});
  if (input != g_inputs.end()) {
    return invalidArgument("output '" + shown + "' is " + input->second.role + " ('" + input->second.path +
                           "'); vitq never overwrites its inputs");
  }
  return Status::ok();
}

}  // namespace

void protectInput(const std::filesystem::path& path, const std::string& role) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  std::lock_guard<std::mutex> lock(g_inputs_mutex);
  g_inputs.emplace(std::make_pair(st.st_dev, st.st_ino), ProtectedInput{path.string(), role});
}

AtomicFile::AtomicFile(std::filesystem::path destination)
    : destination_(resolved(destination)), shown_(destination.string()) {}

AtomicFile::~AtomicFile() {
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    track(temp_path_, false);
  }
}

Status AtomicFile::write(const std::string& bytes) {
  if (shown_.empty()) return invalidArgument("the output path is empty");
  VITQ_RETURN_IF_ERROR(checkReplaceable(destination_, shown_));
  installHandlers();
  removeStaleTemporaries(destination_);
  std::string temp;
  const int fd = createTracked(destination_, temp);
  if (fd < 0) {
    const auto dir = destination_.has_parent_path() ? destination_.parent_path() : std::filesystem::path(".");
    return ioError("cannot create a file in '" + dir.string() + "' to write '" + shown_ +
                   "': " + std::strerror(errno));
  }
  temp_path_ = temp;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      return ioError("writing '" + shown_ + "' failed: " + why);
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  if (::close(fd) != 0 || !synced) {
    return ioError("writing '" + shown_ + "' failed: " + std::strerror(synced ? errno : sync_errno));
  }
  ::chmod(temp_path_.c_str(), 0644);
  return Status::ok();
}

Status AtomicFile::commit() {
  if (temp_path_.empty()) return internalError("AtomicFile::commit before write");
  VITQ_RETURN_IF_ERROR(checkReplaceable(destination_, shown_));  // it may have changed since write()
  if (std::rename(temp_path_.c_str(), destination_.c_str()) != 0) {
    return ioError("cannot move the new file to '" + shown_ + "': " + std::strerror(errno));
  }
  track(temp_path_, false);
  temp_path_.clear();
  return Status::ok();
}

Status checkDestination(const std::filesystem::path& destination) {
  if (destination.empty()) return invalidArgument("the output path is empty");
  const auto target = resolved(destination);
  VITQ_RETURN_IF_ERROR(checkReplaceable(target, destination.string()));
  return checkDestinationFolder(target);
}

Status checkDestinationFolder(const std::filesystem::path& destination) {
  const auto dir = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (std::filesystem::exists(dir, ec)) return invalidArgument("output folder '" + dir.string() + "' is not a folder");
    return notFound("output folder '" + dir.string() + "' does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return ioError("output folder '" + dir.string() + "' is not writable: " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace vitq

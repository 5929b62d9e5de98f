#include "core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vitq {
namespace {

std::atomic<bool> g_allowed{true};

bool shouldDraw() {
  const char* mode = std::getenv("VITQ_PROGRESS");
  if (mode && std::strcmp(mode, "never") == 0) return false;
  if (!g_allowed) return false;
  if (mode && std::strcmp(mode, "always") == 0) return true;
  return isatty(STDERR_FILENO) == 1;
}

}  // namespace

void setProgressAllowed(bool allowed) { g_allowed = allowed; }

Progress::Progress(std::string label, size_t total)
    : enabled_(shouldDraw() && total > 0), label_(std::move(label)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() {
  if (enabled_) std::fprintf(stderr, "\r%*s\r", 96, "");
}

void Progress::advance(size_t steps) {
  done_ += steps;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most ten times a second, and always at the end.
  if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void Progress::draw() {
  constexpr int kWidth = 24;
  const double fraction = static_cast<double>(done_) / static_cast<double>(total_);
  const int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // The time left at the pace so far, once there is a pace: long loops (sensitivity at real-model
  // scale) should say up front whether to wait.
  char left[32] = "";
  if (done_ > 0 && done_ < total_) {
    const double per_step = seconds / static_cast<double>(done_);
    std::snprintf(left, sizeof left, ", ~%.0f s left", per_step * static_cast<double>(total_ - done_));
  }
  std::fprintf(stderr, "\r%-22.22s [%s] %zu/%zu %.1f s%s", label_.c_str(), bar, done_, total_, seconds, left);
  std::fflush(stderr);
}

}  // namespace vitq

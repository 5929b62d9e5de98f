// A one-line progress bar on stderr for long loops (calibration passes, reports, sensitivity
// runs). Drawn only when stderr is a terminal and the user did not ask for quiet, so pipes and CI
// logs stay clean; VITQ_PROGRESS=always|never overrides the terminal check.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace vitq {

/// Off with -q (main calls this); on by default.
void setProgressAllowed(bool allowed);

class Progress {
 public:
  Progress(std::string label, size_t total);
  ~Progress();  // erases the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(size_t steps = 1);

 private:
  void draw();

  bool enabled_;
  std::string label_;
  size_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vitq

// The options a step takes in a pipeline text ("calibrate{range=mse, weights=mse}"), one table per
// step: how each sets PipelineOptions, and how the report writes it back so that `--pipeline`
// reproduces a run. Switches take no value ("ln-reparam{dual-clip}").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

struct StepOption {
  std::string key;
  std::string takes;  // "mean|median", "NUMBER from 0 to 1", or "" for a switch
  std::function<Status(PipelineOptions&, const std::string& value)> set;
  // The value as the report's pipeline writes it ("" for a switch that is on), or nullopt where the
  // option is left out (off, or the step's default).
  std::function<std::optional<std::string>(const PipelineOptions&)> written;
};

/// A switch: present turns the option on (\p put), written when \p get says it is on.
StepOption switchOption(const std::string& key, std::function<bool(const PipelineOptions&)> get,
                        std::function<void(PipelineOptions&)> put);

/// One of named values; written unless it equals \p omitted.
template <typename T>
StepOption choiceOption(const std::string& key, std::vector<std::pair<std::string, T>> choices,
                        std::function<T(const PipelineOptions&)> get, std::function<void(PipelineOptions&, T)> put,
                        std::optional<T> omitted = std::nullopt) {
  std::string takes;
  for (const auto& c : choices) takes += (takes.empty() ? "" : "|") + c.first;
  auto set = [key, choices, put, takes](PipelineOptions& o, const std::string& value) -> Status {
    for (const auto& [name, v] : choices) {
      if (name == value) {
        put(o, v);
        return Status::ok();
      }
    }
    return invalidArgument("option '" + key + "' takes " + takes + " (got '" + value + "')");
  };
  auto written = [choices, get, omitted](const PipelineOptions& o) -> std::optional<std::string> {
    const T v = get(o);
    if (omitted && v == *omitted) return std::nullopt;
    for (const auto& [name, c] : choices) {
      if (c == v) return name;
    }
    return std::nullopt;
  };
  return {key, takes, set, written};
}

/// A number in [lo, hi] (whole with \p whole); written unless it equals \p omitted.
StepOption numberOption(const std::string& key, double lo, double hi, bool whole,
                        std::function<double(const PipelineOptions&)> get, std::function<void(PipelineOptions&, double)> put,
                        std::optional<double> omitted = std::nullopt);

/// The shortest decimal text that reads back as \p value.
std::string numberText(double value);

}  // namespace vitq

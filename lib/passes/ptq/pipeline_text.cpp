#include "passes/ptq/pipeline_text.h"

#include <algorithm>
#include <cctype>

#include "passes/ptq/quant_step.h"

namespace vitq {
namespace {

struct ArgText {
  std::string key, value;
  bool has_value = false;
};

struct StepText {
  std::string name;
  std::vector<ArgText> args;
};

std::string trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits at the commas outside braces.
StatusOr<std::vector<StepText>> parse(const std::string& text) {
  std::vector<StepText> steps;
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = i;
    while (end < text.size() && text[end] != ',' && text[end] != '{' && text[end] != '}') ++end;
    StepText step{trimmed(text.substr(i, end - i)), {}};
    if (step.name.empty()) return invalidArgument("a step name is missing (steps are separated by commas)");
    if (end < text.size() && text[end] == '}') return invalidArgument("'}' without '{' after step '" + step.name + "'");
    if (end < text.size() && text[end] == '{') {
      const size_t close = text.find('}', end);
      if (close == std::string::npos) return invalidArgument("step '" + step.name + "': '{' is not closed");
      const std::string inside = text.substr(end + 1, close - end - 1);
      if (inside.find('{') != std::string::npos) return invalidArgument("step '" + step.name + "': nested '{'");
      size_t a = 0;
      while (!trimmed(inside).empty() && a <= inside.size()) {
        size_t comma = inside.find(',', a);
        if (comma == std::string::npos) comma = inside.size();
        const std::string item = trimmed(inside.substr(a, comma - a));
        if (item.empty()) return invalidArgument("step '" + step.name + "': an empty option");
        const size_t eq = item.find('=');
        ArgText arg;
        arg.key = trimmed(item.substr(0, eq));
        if (eq != std::string::npos) {
          arg.value = trimmed(item.substr(eq + 1));
          arg.has_value = true;
        }
        step.args.push_back(arg);
        a = comma + 1;
      }
      end = close + 1;
      while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end]))) ++end;
      if (end < text.size() && text[end] != ',') {
        return invalidArgument("step '" + step.name + "': expected ',' after its options");
      }
    }
    steps.push_back(step);
    i = end + 1;
  }
  return steps;
}

const QuantStep* stepNamed(const std::string& name) {
  for (const QuantStep* s : quantSteps()) {
    if (name == s->name()) return s;
  }
  return nullptr;
}

std::string stepList() {
  std::string list;
  for (const QuantStep* s : quantSteps()) list += (list.empty() ? "" : ", ") + std::string(s->name());
  return list;
}

Status applyArg(const QuantStep& step, const ArgText& arg, PipelineOptions& o) {
  for (const StepOption& opt : step.options()) {
    if (opt.key != arg.key) continue;
    const bool is_switch = opt.takes.empty();
    if (is_switch && arg.has_value) return invalidArgument("option '" + arg.key + "' of step '" + step.name() + "' is a switch and takes no value");
    if (!is_switch && !arg.has_value) {
      return invalidArgument("option '" + arg.key + "' of step '" + step.name() + "' takes a value: " + arg.key + "=" + opt.takes);
    }
    return opt.set(o, arg.value).withContext(std::string("step '") + step.name() + "'");
  }
  const std::string takes = stepOptionsSummary(step.name());
  return invalidArgument("step '" + std::string(step.name()) + "' has no option '" + arg.key + "' (" +
                         (takes.empty() ? "it takes none" : "it takes " + takes) + ")");
}

}  // namespace

std::string stepOptionsSummary(const std::string& name) {
  const QuantStep* step = stepNamed(name);
  std::string text;
  if (!step) return text;
  for (const StepOption& opt : step->options()) {
    text += (text.empty() ? "" : ", ") + opt.key + (opt.takes.empty() ? "" : "=" + opt.takes);
  }
  return text;
}

Status applyPipelineText(const std::string& text, PipelineOptions& o) {
  VITQ_ASSIGN_OR_RETURN(std::vector<StepText> named, parse(text));
  const std::vector<const QuantStep*>& registry = quantSteps();
  std::vector<const QuantStep*> steps;
  for (const StepText& s : named) {
    const QuantStep* step = stepNamed(s.name);
    if (!step) return invalidArgument("unknown step '" + s.name + "' (steps: " + stepList() + ")");
    if (std::find(steps.begin(), steps.end(), step) != steps.end()) return invalidArgument("step '" + s.name + "' is named twice");
    if (!steps.empty()) {
      const auto at = [&registry](const QuantStep* x) { return std::find(registry.begin(), registry.end(), x); };
      if (at(step) < at(steps.back())) {
        return invalidArgument("step '" + s.name + "' runs before '" + steps.back()->name() +
                               "': name the steps in the order they run (" + stepList() + ")");
      }
    }
    steps.push_back(step);
    step->enable(o);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    for (const ArgText& arg : named[i].args) VITQ_RETURN_IF_ERROR(applyArg(*steps[i], arg, o));
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<std::string> given;
    for (const ArgText& arg : named[i].args) given.push_back(arg.key);
    VITQ_RETURN_IF_ERROR(steps[i]->checkOptions(o, given).withContext(std::string("step '") + steps[i]->name() + "'"));
  }
  // The text names exactly the steps that run.
  for (const QuantStep* step : registry) {
    const bool is_named = std::find(steps.begin(), steps.end(), step) != steps.end();
    if (step->enabled(o) && !is_named && step->traits().writes_quantized) {
      return invalidArgument("the pipeline writes no model: end it with materialize-qdq (QDQ) or integer-lowering");
    }
    if (step->enabled(o) && !is_named) {
      return invalidArgument("step '" + std::string(step->name()) + "' runs in every pipeline: name it");
    }
    if (!step->enabled(o) && is_named) {
      return invalidArgument("step '" + std::string(step->name()) + "' does not run with the steps named after it "
                             "(materialize-qdq and integer-lowering both write the quantized model: name one)");
    }
  }
  return Status::ok();
}

std::string pipelineText(const std::vector<std::string>& ran, const PipelineOptions& o) {
  std::string text;
  for (const std::string& name : ran) {
    text += (text.empty() ? "" : ", ") + name;
    const QuantStep* step = stepNamed(name);
    if (!step) continue;  // a step outside the registry (a test's own)
    std::string args;
    for (const StepOption& opt : step->options()) {
      const std::optional<std::string> value = opt.written(o);
      if (!value) continue;
      args += (args.empty() ? "" : ", ") + opt.key + (opt.takes.empty() ? "" : "=" + *value);
    }
    if (!args.empty()) text += "{" + args + "}";
  }
  return text;
}

}  // namespace vitq

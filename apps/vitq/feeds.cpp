#include "vitq/feeds.h"

#include <map>
#include <random>
#include <sstream>

#include "calib/npy_io.h"

namespace vitq::cli {
namespace {

StatusOr<std::pair<std::string, std::string>> splitSpec(const std::string& spec, const char* what) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) return std::make_pair(std::string(), spec);
  if (eq == 0 || eq + 1 == spec.size()) return invalidArgument(std::string("bad ") + what + " '" + spec + "': expected NAME=VALUE");
  return std::make_pair(spec.substr(0, eq), spec.substr(eq + 1));
}

// Refuses a NAME the model does not take: a misspelt input would otherwise be fed random values.
Status checkInputName(const std::vector<const Value*>& required, const std::string& name, const std::string& spec,
                      const char* option) {
  std::string names;
  for (const Value* in : required) {
    if (in->name() == name) return Status::ok();
    names += (names.empty() ? "'" : ", '") + in->name() + "'";
  }
  return invalidArgument(std::string(option) + " '" + spec + "': the model has no input '" + name + "' (its inputs: " +
                         names + ")");
}

}  // namespace

StatusOr<TensorMap> loadFeeds(const Executor& exec, const std::vector<std::string>& specs) {
  TensorMap feeds;
  const auto required = exec.requiredInputs();
  for (const auto& spec : specs) {
    VITQ_ASSIGN_OR_RETURN(auto kv, splitSpec(spec, "--input"));
    std::string name = kv.first;
    if (name.empty()) {
      if (required.size() != 1) {
        return invalidArgument("--input '" + spec + "' has no name, but the model has " +
                               std::to_string(required.size()) + " inputs; write NAME=FILE.npy");
      }
      name = required[0]->name();
    }
    VITQ_RETURN_IF_ERROR(checkInputName(required, name, spec, "--input"));
    VITQ_ASSIGN_OR_RETURN(Tensor t, readNpy(kv.second));
    if (feeds.count(name)) return invalidArgument("input '" + name + "' is given twice");
    feeds[name] = std::move(t);
  }
  return feeds;
}

Status addRandomFeeds(const Executor& exec, const std::vector<std::string>& shape_specs, uint64_t seed,
                      TensorMap& feeds) {
  std::map<std::string, Shape> shapes;
  std::map<std::string, std::string> specs;  // the --shape text of each, for messages
  const auto required = exec.requiredInputs();
  for (const auto& spec : shape_specs) {
    VITQ_ASSIGN_OR_RETURN(auto kv, splitSpec(spec, "--shape"));
    std::string name = kv.first.empty() && required.size() == 1 ? required[0]->name() : kv.first;
    VITQ_RETURN_IF_ERROR(checkInputName(required, name, spec, "--shape"));
    if (shapes.count(name)) return invalidArgument("--shape: input '" + name + "' is given twice");
    Shape shape;
    std::stringstream ss(kv.second);
    std::string d;
    while (std::getline(ss, d, ',')) {
      try {
        shape.push_back(std::stoll(d));
      } catch (const std::exception&) {
        return invalidArgument("bad --shape '" + spec + "': '" + d + "' is not a number");
      }
    }
    VITQ_RETURN_IF_ERROR(checkedElementCount(shape, int64_t{1} << 32).status().withContext("--shape '" + spec + "'"));
    shapes[name] = shape;
    specs[name] = spec;
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const Value* in : required) {
    if (feeds.count(in->name())) continue;
    Shape shape;
    if (shapes.count(in->name())) {
      shape = shapes[in->name()];
    } else if (in->type().isFullyKnown()) {
      for (const Dim& d : *in->type().dims) shape.push_back(d.value);
    } else {
      return invalidArgument("input '" + in->name() + "' has open dims " + in->type().toString() +
                             "; give --shape " + in->name() + "=d0,d1,... or --input " + in->name() + "=FILE.npy");
    }
    const DataType dtype = in->type().dtype == DataType::kUndefined ? DataType::kFloat : in->type().dtype;
    // A declared (or --shape) size is refused before it is allocated: 2^40 rows, or more memory than
    // a tensor may take, is an error naming the input, not an abort or the machine out of memory.
    if (Status size = checkAllocation(dtype, shape, "input '" + in->name() + "'"); !size.isOk()) {
      if (specs.count(in->name())) return size.withContext("--shape '" + specs[in->name()] + "'");
      return invalidArgument(size.message() + ", the shape the model declares");
    }
    Tensor t(dtype, shape);
    if (dtype == DataType::kFloat) {
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uniform(rng);
    }
    feeds[in->name()] = std::move(t);
  }
  return Status::ok();
}

}  // namespace vitq::cli

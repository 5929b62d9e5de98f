#include "exec/prefix_reuse.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ir/memory_limit.h"

namespace vitq {
namespace {

// Checkpoints taken per run: enough that a later graph resumes close to its first difference,
// few enough that keeping them is cheap next to the run.
constexpr size_t kCapturesPerRun = 16;
// Bounds the planning work (each plan looks at every checkpoint).
constexpr size_t kMaxCheckpoints = 64;

class Hasher {
 public:
  void word(uint64_t w) {
    h_ = (h_ ^ w) * 0xff51afd7ed558ccdULL;
    h_ ^= h_ >> 32;
  }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      word(w);
    }
    uint64_t tail = 0;
    if (n > i) std::memcpy(&tail, p + i, n - i);
    word(tail ^ (static_cast<uint64_t>(n) << 56));
  }
  void text(const std::string& s) { bytes(s.data(), s.size()); }
  void tensor(const Tensor& t) {
    word(static_cast<uint64_t>(t.dtype()));
    for (int64_t d : t.shape()) word(static_cast<uint64_t>(d));
    if (t.dtype() == DataType::kString) {
      for (const std::string& s : t.strings()) text(s);
    } else {
      bytes(t.rawData(), t.byteSize());
    }
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0x9e3779b97f4a7c15ULL;
};

void hashAttributes(Hasher& h, const Attributes& attrs) {
  for (const auto& [name, a] : attrs) {
    h.text(name);
    h.word(static_cast<uint64_t>(a.kind));
    uint32_t f_bits;
    std::memcpy(&f_bits, &a.f, 4);
    h.word(f_bits);
    h.word(static_cast<uint64_t>(a.i));
    h.text(a.s);
    h.tensor(a.t);
    h.bytes(a.floats.data(), a.floats.size() * sizeof(float));
    h.bytes(a.ints.data(), a.ints.size() * sizeof(int64_t));
    for (const std::string& s : a.strings) h.text(s);
    for (const Tensor& t : a.tensors) h.tensor(t);
    h.word(a.graphs.size());  // the executor refuses subgraphs; counted so that they never match
  }
}

// Order-free identity of a set of signatures.
uint64_t keyTerm(uint64_t signature) {
  Hasher h;
  h.word(signature);
  return h.value();
}

size_t mapBytes(const TensorMap& values) {
  size_t bytes = 0;
  for (const auto& [name, t] : values) bytes += t.byteSize() + name.size();
  return bytes;
}

}  // namespace

StepSignatures stepSignatures(const Executor& exec) {
  // Identity of a value computed from constants alone: its initializer's bytes, or the producing
  // node's signature (which holds its inputs' identities) and the output's index.
  std::unordered_map<const Value*, uint64_t> constant_hash;
  auto constantHash = [&](const Value* v) -> const uint64_t* {
    auto it = constant_hash.find(v);
    if (it == constant_hash.end() && v->isConstant()) {
      Hasher c;
      c.tensor(v->initializer());
      it = constant_hash.emplace(v, c.value()).first;
    }
    return it == constant_hash.end() ? nullptr : &it->second;
  };
  StepSignatures out;
  out.of.reserve(exec.stepCount());
  out.constant.reserve(exec.stepCount());
  for (size_t i = 0; i < exec.stepCount(); ++i) {
    const Node& node = exec.stepNode(i);
    Hasher h;
    h.text(node.domain());
    h.text(node.opType());
    hashAttributes(h, node.attrs());
    bool constant = true;
    for (const Value* v : node.inputs()) {
      if (!v) {
        h.word(0);
        continue;
      }
      h.text(v->name());
      if (const uint64_t* c = constantHash(v)) {
        h.word(*c);
      } else {
        constant = false;
        // A fed initializer (a graph input with a default) is data; its default still identifies it.
        if (v->isInitializer()) {
          Hasher d;
          d.tensor(v->initializer());
          h.word(d.value());
        }
      }
    }
    h.word(0xfeed);  // inputs end, outputs begin
    for (const Value* v : node.outputs()) {
      if (v) h.text(v->name());
      else h.word(0);
    }
    out.of.push_back(h.value());
    out.constant.push_back(constant ? 1 : 0);
    if (!constant) continue;
    for (size_t k = 0; k < node.outputs().size(); ++k) {
      if (!node.outputs()[k]) continue;
      Hasher c;
      c.word(h.value());
      c.word(k);
      constant_hash[node.outputs()[k]] = c.value();
    }
  }
  return out;
}

size_t PrefixReuse::defaultByteBudget() { return std::min<size_t>(size_t{256} << 20, tensorByteLimit() / 8); }

PrefixReuse::PrefixReuse(size_t byte_budget) : byte_budget_(byte_budget) {}

PrefixReuse::Plan PrefixReuse::bestResume(const Executor& exec, const StepSignatures& signatures) const {
  const size_t n = exec.stepCount();
  Plan best;
  best.skip.assign(n, 0);
  std::unordered_map<const Node*, size_t> step_of;
  for (size_t i = 0; i < n; ++i) step_of[&exec.stepNode(i)] = i;
  auto skippedProducer = [&](const std::vector<char>& skip, const Value* v) {
    return v && v->producer() && skip[step_of.at(v->producer())];
  };
  // Values computed from constants alone are computed again (cheap next to the layers that read
  // them: dequantized weights), never kept: they are the same in every run.
  auto sameByConstruction = [&](const std::vector<char>& skip, const Value* v) {
    if (!v || !v->producer()) return true;
    const size_t p = step_of.at(v->producer());
    return skip[p] || signatures.constant[p];
  };
  for (const Checkpoint& cp : checkpoints_) {
    if (cp.prefix.size() <= best.skipped) continue;  // cannot skip more than the best so far
    std::vector<char> skip(n, 0);
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) {
      if (signatures.constant[i] || !cp.prefix.count(signatures.of[i])) continue;
      // Same node on the same values: its producers must be skipped (the same) too, or constant
      // (whose identity the signature holds).
      const auto& inputs = exec.stepNode(i).inputs();
      const bool same_inputs =
          std::all_of(inputs.begin(), inputs.end(), [&](const Value* v) { return sameByConstruction(skip, v); });
      if (same_inputs) {
        skip[i] = 1;
        ++count;
      }
    }
    if (count <= best.skipped) continue;
    // Whatever a running step or an output reads from a skipped step must be in the checkpoint.
    std::unordered_set<std::string> seeds;
    bool seeded = true;
    auto need = [&](const Value* v) {
      if (!skippedProducer(skip, v)) return;
      if (cp.names.count(v->name())) seeds.insert(v->name());
      else seeded = false;
    };
    for (size_t i = 0; seeded && i < n; ++i) {
      if (skip[i]) continue;
      for (const Value* v : exec.stepNode(i).inputs()) need(v);
    }
    for (const Value* v : exec.graph().outputs()) need(v);
    if (!seeded) continue;
    best.from = &cp;
    best.skip = std::move(skip);
    best.skipped = count;
    best.seed_names.assign(seeds.begin(), seeds.end());
  }
  return best;
}

void PrefixReuse::keepWithinBudget(size_t incoming, const Checkpoint* keep) {
  auto total = [this] {
    size_t bytes = 0;
    for (const Checkpoint& cp : checkpoints_) bytes += cp.bytes;
    return bytes;
  };
  // Never-used checkpoints go first (oldest first: the list is in creation order), then the least
  // recently used: a prefix that served once tends to serve the next configuration too.
  while (total() + incoming > byte_budget_ || checkpoints_.size() > kMaxCheckpoints) {
    auto victim = checkpoints_.end();
    for (auto it = checkpoints_.begin(); it != checkpoints_.end(); ++it) {
      if (&*it != keep && (victim == checkpoints_.end() || it->last_used < victim->last_used)) victim = it;
    }
    if (victim == checkpoints_.end()) return;
    checkpoints_.erase(victim);
  }
}

Status PrefixReuse::runSamples(const Executor& exec, const std::vector<TensorMap>& samples,
                               const std::function<Status(size_t, TensorMap&)>& on_outputs, bool keep_checkpoints) {
  const size_t n = exec.stepCount();
  steps_total_ += n * samples.size();
  if (byte_budget_ == 0 || n == 0) {
    for (size_t s = 0; s < samples.size(); ++s) {
      VITQ_ASSIGN_OR_RETURN(TensorMap outputs, exec.run(samples[s]));
      VITQ_RETURN_IF_ERROR(on_outputs(s, outputs));
    }
    steps_run_ += n * samples.size();
    return Status::ok();
  }
  const StepSignatures signatures = stepSignatures(exec);
  const Plan plan = bestResume(exec, signatures);

  // New checkpoints: evenly spaced boundaries past the last skipped step, whose prefix no kept
  // checkpoint already has.
  size_t first_free = 0;
  for (size_t i = 0; i < n; ++i) {
    if (plan.skip[i]) first_free = i + 1;
  }
  std::unordered_set<uint64_t> known_keys;
  for (const Checkpoint& cp : checkpoints_) known_keys.insert(cp.key);
  std::vector<uint64_t> prefix_key(n + 1, 0);
  for (size_t i = 0; i < n; ++i) prefix_key[i + 1] = prefix_key[i] + keyTerm(signatures.of[i]);
  const size_t interval = std::max<size_t>(1, n / kCapturesPerRun);
  std::list<Checkpoint> fresh;
  std::unordered_map<size_t, Checkpoint*> fresh_at;
  PartialRun partial;
  partial.skip = plan.skip;
  partial.capture_at.assign(n + 1, 0);
  for (size_t b = interval; keep_checkpoints && b < n; b += interval) {
    if (b <= first_free || known_keys.count(prefix_key[b])) continue;
    Checkpoint& cp = fresh.emplace_back();
    cp.key = prefix_key[b];
    for (size_t i = 0; i < b; ++i) {
      if (!signatures.constant[i]) cp.prefix.insert(signatures.of[i]);
    }
    fresh_at[b] = &cp;
    partial.capture_at[b] = 1;
  }
  size_t sample = 0;
  std::vector<std::string> constant_values;
  for (size_t i = 0; i < n; ++i) {
    if (!signatures.constant[i]) continue;
    for (const Value* v : exec.stepNode(i).outputs()) {
      if (v) constant_values.push_back(v->name());
    }
  }
  partial.capture = [&](size_t boundary, TensorMap live) {
    for (const std::string& name : constant_values) live.erase(name);
    Checkpoint& cp = *fresh_at.at(boundary);
    if (sample == 0) {
      for (const auto& [name, t] : live) cp.names.insert(name);
    }
    cp.bytes += mapBytes(live);
    cp.values.push_back(std::move(live));
  };
  // Constant steps (a weight's dequantization) give every sample the same values: the first
  // sample computes them, the others take them (when they fit the budget).
  TensorMap constants;
  const bool has_constants = !constant_values.empty();
  if (has_constants) {
    partial.keep_outputs = signatures.constant;
    partial.kept = &constants;
  }
  for (sample = 0; sample < samples.size(); ++sample) {
    TensorMap seeds;
    if (plan.from) {
      const TensorMap& kept = plan.from->values[sample];
      for (const std::string& name : plan.seed_names) seeds.emplace(name, kept.at(name));
    }
    if (sample == 1 && has_constants) {
      partial.keep_outputs.clear();
      if (mapBytes(constants) <= byte_budget_) {
        for (size_t i = 0; i < n; ++i) partial.skip[i] = partial.skip[i] || signatures.constant[i];
      } else {
        constants.clear();
      }
    }
    if (sample >= 1) seeds.insert(constants.begin(), constants.end());
    partial.seeds = &seeds;
    VITQ_ASSIGN_OR_RETURN(TensorMap outputs, exec.run(samples[sample], nullptr, partial));
    VITQ_RETURN_IF_ERROR(on_outputs(sample, outputs));
    if (sample == 0 && !fresh.empty()) {
      // Keep every other new checkpoint until all samples' values fit the budget.
      auto estimate = [&] {
        size_t bytes = 0;
        for (const Checkpoint& cp : fresh) bytes += cp.bytes * samples.size();
        return bytes;
      };
      while (!fresh.empty() && estimate() > byte_budget_ / 2) {
        size_t index = 0;
        for (auto it = fresh.begin(); it != fresh.end(); ++index) {
          const bool drop = fresh.size() == 1 || index % 2 == 1;
          if (!drop) {
            ++it;
            continue;
          }
          for (auto& [b, p] : fresh_at) {
            if (p == &*it) partial.capture_at[b] = 0;
          }
          it = fresh.erase(it);
        }
      }
      // Make room now, before the other samples' values are kept.
      keepWithinBudget(estimate(), plan.from);
    }
  }
  steps_run_ += (n - plan.skipped) * samples.size();
  if (plan.from) {
    for (Checkpoint& cp : checkpoints_) {
      if (&cp == plan.from) cp.last_used = ++clock_;
    }
  }
  checkpoints_.splice(checkpoints_.end(), fresh);  // last_used 0: never used yet
  keepWithinBudget(0, nullptr);
  return Status::ok();
}

}  // namespace vitq

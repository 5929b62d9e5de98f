#include "passes/lower/integer_functions.h"

#include <onnx/onnx_pb.h>

#include <limits>

namespace vitq {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Appends nodes to one FunctionProto; every intermediate gets a fresh local name.
class Body {
 public:
  Body(const std::string& name, int64_t opset) : opset_(opset) {
    f_.set_name(name);
    f_.set_domain(kIntegerDomain);
    auto* op = f_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
  }
  void input(const std::string& n) { f_.add_input(n); }
  void output(const std::string& n) { f_.add_output(n); }

  std::string node(const std::string& op, const std::vector<std::string>& in, const std::string& out = "") {
    auto* n = f_.add_node();
    n->set_op_type(op);
    for (const auto& i : in) n->add_input(i);
    const std::string name = out.empty() ? "t" + std::to_string(counter_++) : out;
    n->add_output(name);
    last_ = n;
    return name;
  }
  void intAttr(const std::string& name, int64_t v) {
    auto* a = last_->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void intsAttr(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = last_->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  // int64 constant: a scalar when \p dims is empty.
  std::string constant(const std::vector<int64_t>& values, const std::vector<int64_t>& dims = {}) {
    const std::string out = node("Constant", {});
    auto* a = last_->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* t = a->mutable_t();
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : values) t->add_int64_data(v);
    return out;
  }
  std::string scalar(int64_t v) { return constant({v}); }
  std::string cast(const std::string& x, int to) {
    const std::string y = node("Cast", {x});
    intAttr("to", to);
    return y;
  }
  std::string reduce(const std::string& op, const std::string& x) {
    // ReduceSum takes axes as an input from opset 13, ReduceMax from opset 18.
    if (op == "ReduceSum" || opset_ >= 18) {
      const std::string axes = constant({-1}, {1});
      const std::string y = node(op, {x, axes});
      intAttr("keepdims", 1);
      return y;
    }
    const std::string y = node(op, {x});
    intsAttr("axes", {-1});
    intAttr("keepdims", 1);
    return y;
  }
  // floor(a / d) for a constant d > 0: (a - Mod(a, d)) / d is exact.
  std::string floorDiv(const std::string& a, int64_t d) {
    const std::string dv = scalar(d);
    return node("Div", {node("Sub", {a, node("Mod", {a, dv})}), dv});
  }
  // floor(a / d) for a constant d > 0 and a <= 0: truncation of (a - d + 1) / d (never positive).
  std::string floorDivNonPositive(const std::string& a, int64_t d) {
    return node("Div", {node("Sub", {a, scalar(d - 1)}), scalar(d)});
  }
  // floor(a / d) for a constant d > 0 and |a| < \p offset (a multiple of d, offset + |a| < 2^63):
  // (a + offset) / d - offset / d, the division on a positive value.
  std::string floorDivOffset(const std::string& a, int64_t d, int64_t offset) {
    return node("Sub", {node("Div", {node("Add", {a, scalar(offset)}), scalar(d)}), scalar(offset / d)});
  }
  std::string serialize() const { return f_.SerializeAsString(); }

 private:
  onnx::FunctionProto f_;
  onnx::NodeProto* last_ = nullptr;
  int64_t opset_;
  int counter_ = 0;
};

std::vector<int64_t> powers(int64_t base, int count, int64_t minus = 0) {
  std::vector<int64_t> p;
  int64_t v = 1;
  for (int i = 0; i < count; ++i) {
    p.push_back(v - minus);
    if (i + 1 < count) v *= base;  // not past the last power: base^count may overflow int64
  }
  return p;
}

// shiftExp of integer_nonlinear.cpp for d <= 0 (int64), x0 an int64 scalar < 0.
std::string shiftExp(Body& b, const std::string& d, const std::string& x0, int n) {
  std::string t = b.node("Sub", {b.node("Add", {d, b.floorDivNonPositive(d, 2)}), b.floorDivNonPositive(d, 16)});
  t = b.node("Max", {t, b.node("Mul", {x0, b.scalar(n)})});
  const std::string q = b.node("Div", {t, x0});  // t <= 0, x0 < 0: the quotient is >= 0, truncation is floor
  const std::string r = b.node("Sub", {t, b.node("Mul", {q, x0})});
  const std::string base = b.node("Sub", {b.floorDivNonPositive(r, 2), x0});  // r in (x0, 0]
  const std::string table = b.constant(powers(2, n + 1), {n + 1});
  const std::string scale = b.node("Gather", {table, b.node("Sub", {b.scalar(n), q})});
  return b.node("Max", {b.node("Mul", {base, scale}), b.scalar(0)});
}

// floor(e · floor((2^31 − 1) / min(sum, 2^31 − 1)) / 2^shift), all terms >= 0 (sum >= 1).
std::string normalized(Body& b, const std::string& e, const std::string& sum, int shift) {
  const std::string factor = b.node("Div", {b.scalar(kInt32Max), b.node("Min", {sum, b.scalar(kInt32Max)})});
  return b.node("Div", {b.node("Mul", {e, factor}), b.scalar(int64_t{1} << shift)});
}

// Body with inputs (x, \p param) and output y; returns x cast to int64.
std::string begin(Body& b, const std::string& param) {
  b.input("x");
  b.input(param);
  b.output("y");
  return b.cast("x", onnx::TensorProto::INT64);
}

void endInt32(Body& b, const std::string& y) {
  b.node("Cast", {y}, "y");
  b.intAttr("to", onnx::TensorProto::INT32);
}

std::string shiftmax(int64_t opset) {
  Body b("Shiftmax", opset);
  const std::string x = begin(b, "x0");
  const std::string d = b.node("Sub", {x, b.reduce("ReduceMax", x)});
  const std::string e = shiftExp(b, d, "x0", kShiftmaxN);
  endInt32(b, normalized(b, e, b.reduce("ReduceSum", e), 31 - (kShiftmaxOutBits - 1)));  // sum >= 2^n
  return b.serialize();
}

std::string shiftGelu(int64_t opset) {
  Body b("ShiftGELU", opset);
  const std::string x = begin(b, "x0");
  const std::string zero = b.scalar(0);
  const std::string m = b.node("Max", {x, zero});
  const std::string ea = shiftExp(b, b.node("Sub", {x, m}), "x0", kShiftGeluN);
  const std::string eb = shiftExp(b, b.node("Sub", {zero, m}), "x0", kShiftGeluN);
  const std::string sig = normalized(b, ea, b.node("Add", {ea, eb}), 24);  // sigmoid codes, scale 2^-7
  endInt32(b, b.node("Clip", {b.node("Mul", {x, sig}), b.scalar(-kInt32Max - 1), b.scalar(kInt32Max)}));
  return b.serialize();
}

std::string iLayerNorm(int64_t opset) {
  Body b("ILayerNorm", opset);
  const std::string x = begin(b, "bias");
  const std::string channels = b.node("Gather", {b.node("Shape", {x}), b.scalar(-1)});
  // mean = round_half_even(sum / C)
  const std::string sum = b.reduce("ReduceSum", x);
  const std::string q = b.node("Div", {b.node("Sub", {sum, b.node("Mod", {sum, channels})}), channels});
  const std::string twice_rem = b.node("Mul", {b.node("Sub", {sum, b.node("Mul", {q, channels})}), b.scalar(2)});
  const std::string odd = b.node("Equal", {b.node("Mod", {q, b.scalar(2)}), b.scalar(1)});
  const std::string up = b.node("Or", {b.node("Greater", {twice_rem, channels}),
                                       b.node("And", {b.node("Equal", {twice_rem, channels}), odd})});
  const std::string mean = b.node("Add", {q, b.cast(up, onnx::TensorProto::INT64)});
  const std::string y = b.node("Sub", {x, mean});
  const std::string var = b.reduce("ReduceSum", b.node("Mul", {y, y}));
  // isqrt: e = floor(log4 V) by a binary search (0 for V = 0), k0 = 2^(e+1) > sqrt(V) within a
  // factor 2, then floored Newton steps that never increase k (8 are enough below 2^62).
  const std::string pow4m1 = b.constant(powers(4, 32, 1), {32});
  std::string e = b.node("Mul", {var, b.scalar(0)});
  for (int64_t s : {16, 8, 4, 2, 1}) {
    const std::string step = b.scalar(s);
    const std::string above = b.node("Greater", {var, b.node("Gather", {pow4m1, b.node("Add", {e, step})})});
    e = b.node("Add", {e, b.node("Mul", {b.cast(above, onnx::TensorProto::INT64), step})});
  }
  std::string k = b.node("Gather", {b.constant(powers(2, 33), {33}), b.node("Add", {e, b.scalar(1)})});
  const std::string one = b.scalar(1), two = b.scalar(2);
  for (int i = 0; i < 8; ++i) {
    const std::string next = b.node("Div", {b.node("Add", {k, b.node("Div", {var, k})}), two});
    k = b.node("Max", {b.node("Min", {k, next}), one});
  }
  const std::string factor = b.node("Div", {b.scalar(kInt32Max), k});
  const std::string yn = b.floorDivOffset(b.node("Mul", {y, factor}), 2, int64_t{1} << 60);  // |y F| < 2^53
  b.node("Add", {yn, "bias"}, "y");
  return b.serialize();
}

}  // namespace

std::vector<std::string> integerFunctionProtos(int64_t opset) {
  return {shiftmax(opset), shiftGelu(opset), iLayerNorm(opset)};
}

}  // namespace vitq

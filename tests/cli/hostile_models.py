"""Small ONNX models, good and broken on purpose, for the robustness tests and the fuzzer's seed
corpus. Every builder returns a ModelProto (or raw bytes where protobuf itself would refuse to
encode the damage); nothing here writes files."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _model(nodes, inputs, outputs, initializers=(), opset=OPSET, domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="robustness")
    model.ir_version = 8
    return model


def _io(name, dtype=TensorProto.FLOAT, shape=(1, 4)):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def weights(values=None, name="w"):
    values = np.arange(16, dtype=np.float32).reshape(4, 4) / 16 if values is None else values
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def linear(w=None, bias=None):
    """y = Relu(x @ w + b): one quantizable MatMul, the smallest model every subcommand accepts."""
    b = numpy_helper.from_array(np.full((4,), 0.5, np.float32) if bias is None else bias, "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul0"),
             helper.make_node("Add", ["h", "b"], ["z"], name="add0"),
             helper.make_node("Relu", ["z"], ["y"], name="relu0")]
    return _model(nodes, [_io("x")], [_io("y")], [weights(w), b])


def gemm(w=None):
    """y = Gemm(x, w, b): a layer whose bias is quantized with the input x weight scale."""
    b = numpy_helper.from_array(np.full((4,), 0.5, np.float32), "b")
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="gemm0")]
    return _model(nodes, [_io("x")], [_io("y")], [weights(w), b])


def constant_activation():
    """The MatMul's input is x * 0 + 1: every calibration sample gives the same activation, so its
    range is a single point (zero width)."""
    zero = numpy_helper.from_array(np.zeros((1, 4), np.float32), "zero")
    one = numpy_helper.from_array(np.ones((1, 4), np.float32), "one")
    nodes = [helper.make_node("Mul", ["x", "zero"], ["x0"], name="mul0"),
             helper.make_node("Add", ["x0", "one"], ["c"], name="add_one"),
             helper.make_node("MatMul", ["c", "w"], ["y"], name="matmul0")]
    return _model(nodes, [_io("x")], [_io("y")], [zero, one, weights()])


def with_initializer(tensor):
    """Identity over one initializer, for damaged tensors."""
    nodes = [helper.make_node("Add", ["x", tensor.name], ["y"], name="add0")]
    return _model(nodes, [_io("x")], [_io("y")], [tensor])


def declared_tensor(dims, dtype=TensorProto.FLOAT, name="w", raw=None):
    """A tensor with the given dims and no data (or the given raw bytes)."""
    t = TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    return t


def external_tensor(location, offset="0", length="64", dims=(4, 4), name="w"):
    t = declared_tensor(dims, name=name)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return t


def external_weights(location, offset="0", length="64", dims=(4, 4)):
    model = linear()
    model.graph.initializer[0].CopyFrom(external_tensor(location, offset, length, dims))
    return model


def dangling_input():
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add0")]
    return _model(nodes, [_io("x")], [_io("y")])


def output_never_produced():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0")]
    return _model(nodes, [_io("x")], [_io("y"), _io("nowhere")])


def cycle():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second"),
             helper.make_node("Relu", ["a"], ["y"], name="out")]
    return _model(nodes, [_io("x")], [_io("y")])


def self_loop():
    nodes = [helper.make_node("Add", ["x", "y"], ["y"], name="loop0")]
    return _model(nodes, [_io("x")], [_io("y")])


def duplicate_output():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="first"),
             helper.make_node("Sigmoid", ["x"], ["y"], name="second")]
    return _model(nodes, [_io("x")], [_io("y")])


def duplicate_initializer():
    model = linear()
    model.graph.initializer.append(weights(name="w"))
    return model


def duplicate_input():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0")]
    return _model(nodes, [_io("x"), _io("x")], [_io("y")])


def unknown_op(domain=""):
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], name="frob0", domain=domain)]
    return _model(nodes, [_io("x")], [_io("y")], domains=[domain] if domain else [])


def opset(version):
    model = linear()
    model.opset_import[0].version = version
    return model


def no_opset():
    model = linear()
    del model.opset_import[:]
    return model


def op_newer_than_opset():
    """LayerNormalization exists from opset 17; this model imports opset 13."""
    scale = numpy_helper.from_array(np.ones((4,), np.float32), "scale")
    nodes = [helper.make_node("LayerNormalization", ["x", "scale"], ["y"], name="ln0")]
    return _model(nodes, [_io("x")], [_io("y")], [scale], opset=13)


def wrong_arity():
    nodes = [helper.make_node("MatMul", ["x"], ["y"], name="matmul_one_input")]
    return _model(nodes, [_io("x")], [_io("y")])


def wrong_attribute_type():
    nodes = [helper.make_node("Transpose", ["x"], ["y"], name="transpose0")]
    nodes[0].attribute.append(helper.make_attribute("perm", 1.5))
    return _model(nodes, [_io("x")], [_io("y", shape=(4, 1))])


def conv_weight_rank_mismatch():
    """A Conv whose weight (rank 5) does not match its input (rank 4): ONNX 1.12's shape inference
    read past the input's dims on this and crashed (found by the importer fuzzer)."""
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_rank5")]
    return _model(nodes, [_io("x", shape=(1, 1, 4, 4))], [_io("y", shape=(1, 2, 2, 2))], [w])


def mixed_dtypes():
    """Add of a float input and an int64 initializer: no ONNX op takes both."""
    k = numpy_helper.from_array(np.ones((1, 4), np.int64), "k")
    nodes = [helper.make_node("Add", ["x", "k"], ["y"], name="add_mixed")]
    return _model(nodes, [_io("x")], [_io("y")], [k])


def huge_runtime_tensor():
    """ConstantOfShape asked for 2^39 floats (2 TiB) at run time: the shape is in range, the memory is not."""
    shape = numpy_helper.from_array(np.array([1 << 20, 1 << 19], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="fill0"),
             helper.make_node("ReduceSum", ["big"], ["s"], name="sum0", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add0")]
    return _model(nodes, [_io("x")], [_io("y")], [shape])


def overflowing_tile():
    """Tile whose repeats overflow int64 when multiplied by the dims."""
    repeats = numpy_helper.from_array(np.array([1 << 62, 1 << 62], np.int64), "repeats")
    nodes = [helper.make_node("Tile", ["x", "repeats"], ["y"], name="tile0")]
    return _model(nodes, [_io("x")], [_io("y", shape=())], [repeats])


def nan_range():
    """Range(0, NaN, 1): the element count is not a number."""
    start = numpy_helper.from_array(np.array(0, np.float32), "start")
    limit = numpy_helper.from_array(np.array(np.nan, np.float32), "limit")
    delta = numpy_helper.from_array(np.array(1, np.float32), "delta")
    nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range0"),
             helper.make_node("ReduceSum", ["r"], ["s"], name="sum0", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add0")]
    return _model(nodes, [_io("x")], [_io("y")], [start, limit, delta])


def nested_subgraphs(depth):
    """`depth` If nodes, each inside the then-branch of the one above."""
    cond = numpy_helper.from_array(np.array(True), "cond")
    inner = helper.make_graph([helper.make_node("Relu", ["x"], ["y0"], name="leaf")], "leaf", [], [_io("y0")])
    for level in range(depth):
        out = f"y{level + 1}"
        other = helper.make_graph([helper.make_node("Relu", ["x"], [f"e{level}"], name=f"else{level}")], f"else{level}",
                                  [], [_io(f"e{level}")])
        node = helper.make_node("If", ["cond"], [out], name=f"if{level}", then_branch=inner, else_branch=other)
        inner = helper.make_graph([node], f"level{level}", [], [_io(out)])
    top = inner.node[0]
    return _model([top], [_io("x")], [_io(top.output[0])], [cond])


# Raw protobuf: a tag byte, then a varint length, then the payload.
def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def absurd_length_prefix():
    """ir_version 8, then ModelProto.graph (field 7) claiming 2^62 bytes that are not there."""
    return b"\x08\x08" + _varint(7 << 3 | 2) + _varint(1 << 62) + b"\x0a\x01g"


def deeply_nested_bytes(levels):
    """GraphProto.node -> NodeProto.attribute -> AttributeProto.g -> GraphProto ..., `levels` deep:
    past protobuf's recursion limit, so parsing must refuse it rather than overflow the stack."""
    graph = b""
    for _ in range(levels):
        attribute = _field(1, b"then_branch") + _field(6, graph) + b"\xa0\x01\x05"  # type = GRAPH
        graph = _field(1, _field(5, attribute) + _field(4, b"If"))
    return b"\x08\x08" + _field(7, graph) + _field(8, b"\x10\x0d")


def tiny_attention():
    """A one-head attention block with LayerNorm and Gelu (opset 20), 4 wide: the transformer ops
    the importer and its shape inference see most, in a seed of a few KB."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), n) for n in ("wq", "wk", "wv")]
    inits += [numpy_helper.from_array(np.ones((4,), np.float32), "gamma"),
              numpy_helper.from_array(np.array([0.5], np.float32), "scale")]
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma"], ["n"], name="ln0", axis=-1),
             helper.make_node("MatMul", ["n", "wq"], ["q"], name="q0"),
             helper.make_node("MatMul", ["n", "wk"], ["k"], name="k0"),
             helper.make_node("MatMul", ["n", "wv"], ["v"], name="v0"),
             helper.make_node("Transpose", ["k"], ["kt"], name="kt0", perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk0"),
             helper.make_node("Mul", ["s", "scale"], ["ss"], name="scale0"),
             helper.make_node("Softmax", ["ss"], ["p"], name="softmax0", axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["a"], name="av0"),
             helper.make_node("Gelu", ["a"], ["y"], name="gelu0")]
    return _model(nodes, [_io("x", shape=(1, 3, 4))], [_io("y", shape=(1, 3, 4))], inits, opset=20)


def constants_and_conv():
    """Weights in Constant nodes (lifted at import), a Conv, a Reshape by a Constant shape."""
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "wc")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape_c")
    nodes = [helper.make_node("Constant", [], ["w"], name="const_w", value=w),
             helper.make_node("Constant", [], ["shape"], name="const_shape", value=shape),
             helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "shape"], ["y"], name="reshape0")]
    return _model(nodes, [_io("x", shape=(1, 1, 4, 4))], [_io("y", shape=(1, 32))])


def local_function():
    """A model-local function called once (kept as a function by the importer)."""
    body = [helper.make_node("Mul", ["a", "a"], ["sq"]), helper.make_node("Relu", ["sq"], ["out"])]
    fn = helper.make_function("local", "SquareRelu", ["a"], ["out"], body, [helper.make_opsetid("", OPSET)])
    nodes = [helper.make_node("SquareRelu", ["x"], ["y"], name="call0", domain="local")]
    model = _model(nodes, [_io("x")], [_io("y")], domains=["local"])
    model.functions.append(fn)
    return model


def legacy_axis_broadcast():
    """Opset 6 Add with broadcast=1, axis=1: b[4] is aligned to dim 1 of x[1,4,2], not to the last."""
    b = numpy_helper.from_array(np.ones((4,), np.float32), "b")
    nodes = [helper.make_node("Add", ["x", "b"], ["y"], name="add_axis", broadcast=1, axis=1)]
    return _model(nodes, [_io("x", shape=(1, 4, 2))], [_io("y", shape=(1, 4, 2))], [b], opset=6)


def colliding_output_names():
    """Two outputs, 'a/b' and 'a_b', that `vitq run --output-dir` would both save as a_b.npy."""
    nodes = [helper.make_node("Relu", ["x"], ["a/b"], name="relu0"),
             helper.make_node("Neg", ["x"], ["a_b"], name="neg0")]
    return _model(nodes, [_io("x")], [_io("a/b"), _io("a_b")])


def declared_input(dims):
    """y = Identity(x) for an input x of the given declared dims (ints, or names for open dims)."""
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="identity0")]
    return _model(nodes, [_io("x", shape=dims)], [_io("y", shape=dims)])


def open_dims_relu():
    """y = Relu(x) with x float[N, M]: any 2-D sample passes the shape check, one of 0 elements too."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0")]
    return _model(nodes, [_io("x", shape=("N", "M"))], [_io("y", shape=("N", "M"))])


def hostile_names():
    """linear() with a node, an activation and the output named with Markdown and HTML syntax."""
    model = linear()
    renames = {"h": "h|x\n<b>bold</b>", "z": "z|\r\n<i>it</i>", "y": "y|<!--<script>"}
    for node in model.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    model.graph.node[0].name = "a|b<script>alert(1)</script>"
    model.graph.output[0].name = renames["y"]
    return model


def zero_size_weight(op):
    """A good layer, then a layer of the same op whose weight has a zero-size dim (no output
    channels: MatMul [4, 0], Gemm transB [0, 4], Conv [0, 4, 1, 1]), concatenated to it: a valid
    model, the empty layer adds nothing to y."""
    if op == "Conv":
        good = numpy_helper.from_array(np.eye(4, dtype=np.float32).reshape(4, 4, 1, 1), "w")
        empty = numpy_helper.from_array(np.zeros((0, 4, 1, 1), np.float32), "w_empty")
        shape = (1, 4, 2, 2)
    else:
        good, shape = weights(), (1, 4)
        empty = numpy_helper.from_array(np.zeros((4, 0) if op == "MatMul" else (0, 4), np.float32), "w_empty")
    extra = {"transB": 1} if op == "Gemm" else {}
    nodes = [helper.make_node(op, ["x", "w"], ["h"], name=f"{op.lower()}0"),
             helper.make_node(op, ["h", "w_empty"], ["e"], name=f"{op.lower()}_empty", **extra),
             helper.make_node("Concat", ["h", "e"], ["y"], name="concat0", axis=1)]
    return _model(nodes, [_io("x", shape=shape)], [_io("y", shape=shape)], [good, empty])

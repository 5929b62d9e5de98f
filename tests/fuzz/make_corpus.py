#!/usr/bin/env python3
"""Writes the importer fuzzer's seed corpus (tests/fuzz/corpus/): small valid models of the shapes
real exports have, and broken ones from the robustness tests, a few KB each. Deterministic, so a
rerun rewrites the same bytes; crash inputs the fuzzer found are added by hand beside these."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))
import hostile_models as hm  # noqa: E402

SEEDS = {
    "linear": hm.linear(),
    "constant_activation": hm.constant_activation(),
    "tiny_attention": hm.tiny_attention(),
    "constants_and_conv": hm.constants_and_conv(),
    "local_function": hm.local_function(),
    "nested_if_3": hm.nested_subgraphs(3),
    "external_weights": hm.external_weights("w.bin"),
    "external_escape": hm.external_weights("../secret.bin"),
    "huge_dims": hm.with_initializer(hm.declared_tensor([100000, 100000, 10])),
    "overflow_dims": hm.with_initializer(hm.declared_tensor([1 << 32, 1 << 32, 1 << 32])),
    "negative_dim": hm.with_initializer(hm.declared_tensor([4, -4])),
    "dtype_99": hm.with_initializer(hm.declared_tensor([4], dtype=99, raw=b"\0" * 4)),
    "dangling_input": hm.dangling_input(),
    "cycle": hm.cycle(),
    "self_loop": hm.self_loop(),
    "duplicate_output": hm.duplicate_output(),
    "duplicate_initializer": hm.duplicate_initializer(),
    "unknown_op": hm.unknown_op("com.example"),
    "opset_99": hm.opset(99),
    "op_newer_than_opset": hm.op_newer_than_opset(),
    "wrong_attribute_type": hm.wrong_attribute_type(),
    "huge_runtime_tensor": hm.huge_runtime_tensor(),
    "absurd_length_prefix": hm.absurd_length_prefix(),
    "deeply_nested": hm.deeply_nested_bytes(150),
}


def main():
    folder = os.path.join(HERE, "corpus")
    os.makedirs(folder, exist_ok=True)
    for name, model in SEEDS.items():
        data = model if isinstance(model, bytes) else model.SerializeToString()
        with open(os.path.join(folder, f"seed_{name}.onnx"), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {folder}")


if __name__ == "__main__":
    main()

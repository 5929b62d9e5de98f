#!/usr/bin/env python3
"""Bad input to the vitq CLI: every case must exit 2 (or 0 for help/version) with a message that
names the problem, never crash, never modify the input and never leave an output behind."""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

failures = []


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def small_model(path, dangling=False, external=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(1, 4), "w")
    if external:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", external), ("offset", "0"), ("length", "16")):
            e = w.external_data.add()
            e.key, e.value = k, v
    second = "ghost" if dangling else "w"
    node = helper.make_node("Add", ["x", second], ["y"], name="add0")
    graph = helper.make_graph([node], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def topk_bridge_model(path):
    """Conv features -> tokens -> LayerNorm -> linear -> TopK (no gradient) -> residual Add: one
    conv -> transformer bridge block, and TopK on the path of both weights' gradients."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (16, 8, 1, 1)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.3, (16, 16)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.array([1, 16, 16], dtype=np.int64), "shape"),
             numpy_helper.from_array(np.array([16], dtype=np.int64), "k"),
             numpy_helper.from_array(np.ones(16, dtype=np.float32), "gamma"),
             numpy_helper.from_array(np.zeros(16, dtype=np.float32), "beta")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
             helper.make_node("Transpose", ["r"], ["t"], name="tokens", perm=[0, 2, 1]),
             helper.make_node("LayerNormalization", ["t", "gamma", "beta"], ["n"], name="ln", axis=-1),
             helper.make_node("MatMul", ["n", "w2"], ["m"], name="fc"),
             helper.make_node("TopK", ["m", "k"], ["v", "i"], name="topk", axis=-1),
             helper.make_node("Add", ["v", "t"], ["y"], name="residual")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def expect(vitq, args, code, message, case, protect=(), absent=()):
    before = {p: sha(p) for p in protect}
    proc = subprocess.run([vitq] + args, capture_output=True, text=True)
    problems = []
    if proc.returncode != code:
        problems.append(f"exit {proc.returncode}, expected {code}")
    if message and message not in proc.stderr + proc.stdout:
        problems.append(f"message lacks {message!r}")
    for p in protect:
        if sha(p) != before[p]:
            problems.append(f"{p} was modified")
    for p in absent:
        if os.path.exists(p):
            problems.append(f"{p} was left behind")
    leftovers = [n for n in os.listdir(os.path.dirname(absent[0]))] if absent else []
    if any(".tmp-" in n for n in leftovers):
        problems.append("temporary file left behind")
    status = "ok  " if not problems else "FAIL"
    print(f"{status} {case}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    if problems:
        failures.append(case)
        print("     " + "; ".join(problems))


def usable_cores():
    """What vitq's --threads defaults to: the affinity mask's CPUs, capped by the smallest CPU quota
    on the way from the process's cgroup up to the root (v2 cpu.max, v1 cpu.cfs_quota_us), at most 256."""
    cores = min(len(os.sched_getaffinity(0)), 256)
    paths = {}
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        paths["" if not controllers else ("cpu" if "cpu" in controllers.split(",") else controllers)] = path

    def parents(path):
        while True:
            yield path
            if path in ("", "/"):
                return
            path = path[:path.rfind("/")]

    def read(path):
        try:
            return open(path).read().split()
        except OSError:
            return None
    for path in parents(paths.get("", "/")) if "" in paths else []:
        text = read(f"/sys/fs/cgroup{path}/cpu.max")
        if text and text[0] != "max":
            cores = min(cores, max(1, -(-int(text[0]) // int(text[1] if len(text) > 1 else 100000))))
    for path in parents(paths["cpu"]) if "cpu" in paths else []:
        for root in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
            quota, period = read(f"{root}{path}/cpu.cfs_quota_us"), read(f"{root}{path}/cpu.cfs_period_us")
            if quota and period:
                if int(quota[0]) > 0:
                    cores = min(cores, max(1, -(-int(quota[0]) // int(period[0]))))
                break
    return cores


def check_case(ok, case):
    print(f"{'ok  ' if ok else 'FAIL'} {case}")
    if not ok:
        failures.append(case)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    with tempfile.TemporaryDirectory() as d:
        good = os.path.join(d, "good.onnx")
        small_model(good)
        out = os.path.join(d, "out.onnx")
        expect(vitq, ["inspect", os.path.join(d, "missing.onnx")], 2, "does not exist", "missing file")
        data = open(good, "rb").read()
        trunc = os.path.join(d, "truncated.onnx")
        open(trunc, "wb").write(data[: len(data) // 2])
        expect(vitq, ["convert", trunc, "-o", out], 2, "truncated.onnx", "truncated file", [trunc], [out])
        text = os.path.join(d, "notes.onnx")
        open(text, "w").write("this is not a model\n" * 10)
        expect(vitq, ["inspect", text], 2, "notes.onnx", "non-ONNX file", [text])
        empty = os.path.join(d, "empty.onnx")
        open(empty, "wb").close()
        expect(vitq, ["inspect", empty], 2, "is empty", "empty file")
        dangling = os.path.join(d, "dangling.onnx")
        small_model(dangling, dangling=True)
        expect(vitq, ["convert", dangling, "-o", out], 2, "input 'ghost' is never produced",
               "dangling node input", [dangling], [out])
        os.makedirs(os.path.join(d, "m"))
        open(os.path.join(d, "secret.bin"), "wb").write(b"\0" * 16)
        escape = os.path.join(d, "m", "escape.onnx")
        small_model(escape, external="../secret.bin")
        expect(vitq, ["inspect", escape], 2, "leaves the model's folder", "external data outside the folder")
        expect(vitq, ["convert", good, "-o", good], 2, "is the input model", "output equal to input", [good])
        expect(vitq, ["convert", good, "-o", os.path.join(d, "nodir", "x.onnx")], 2, "does not exist",
               "missing output folder", [good])
        expect(vitq, ["inspect", good, "--no-such-flag"], 2, "--no-such-flag", "unknown flag")
        expect(vitq, ["convert", good, "-o", out, "--external-data", "sometimes"], 2, "sometimes", "bad flag value",
               [good], [out])
        expect(vitq, [], 2, "subcommand", "no subcommand")
        expect(vitq, ["nosuch", good], 2, "unknown subcommand 'nosuch' (the subcommands: convert,", "unknown subcommand")
        expect(vitq, ["--version"], 0, "vitq 0.", "--version")
        for sub in ("inspect", "convert"):
            expect(vitq, [sub, "--help"], 0, "Usage", f"{sub} --help")
        # --help shows every option's default (#32): the recipe, the auto budget, the calibration samples.
        for default in ("--recipe TEXT=auto", "--auto-budget TEXT=5m", "--wbits INT:INT in [2 - 8]=8"):
            expect(vitq, ["quantize", "--help"], 0, default, f"quantize --help shows {default}")
        samples = os.path.join(d, "x.npy")
        np.save(samples, np.ones((2, 1, 4), dtype=np.float32))
        # --threads defaults to the cores the process may use (#32), and the report records the count.
        cores = usable_cores()
        for sub in ("quantize", "calibrate", "run", "bench", "report", "sensitivity"):
            expect(vitq, [sub, "--help"], 0, f"--threads INT:INT in [1 - 256]={cores}", f"{sub} --help: --threads={cores}")
        rows = os.path.join(d, "rows.npy")
        np.save(rows, np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32))
        for pinned in (None, {min(os.sched_getaffinity(0))}):
            report = os.path.join(d, "threads.json")
            proc = subprocess.run([vitq, "-q", "quantize", good, "--data", rows, "-o", out, "--report", report],
                                  capture_output=True, text=True,
                                  preexec_fn=(lambda: os.sched_setaffinity(0, pinned)) if pinned else None)
            want = 1 if pinned else cores
            got = json.load(open(report)).get("threads") if proc.returncode == 0 else proc.stderr
            check_case(got == want, f"the report's threads is {want} {'on one pinned CPU' if pinned else 'by default'}: {got}")
            os.remove(out)
        quantize = ["quantize", good, "--data", samples, "-o", out]
        expect(vitq, quantize + ["--report", os.path.join(d, "r.txt")], 2, ".json, .md or .html",
               "report extension refused before any work", [good], [out])
        expect(vitq, quantize + ["--budget", "top1>3"], 2, "expected top1_drop<=POINTS", "bad --budget", [good], [out])
        expect(vitq, quantize + ["--recipe", "i-vit", "--format", "integer", "--budget", "cosine>=0.9"], 2,
               "--format integer keeps one width", "--budget with --format integer", [good], [out])
        expect(vitq, quantize + ["--recipe", "minmax", "--ranges", "mean-minmax"], 2,
               "--ranges chooses the activation ranges of --recipe i-vit", "--ranges without i-vit", [good], [out])
        expect(vitq, quantize + ["--recipe", "mse", "--pipeline", "plan, calibrate, materialize-qdq"], 2,
               "--pipeline names the steps itself: give it or --recipe, not both", "--pipeline with --recipe",
               [good], [out])
        expect(vitq, quantize + ["--pipeline", "plan, calibrate{range=mse}, bias-correction{strength=2}, materialize-qdq"],
               2, "--pipeline 'plan, calibrate{range=mse}, bias-correction{strength=2}, materialize-qdq': step "
               "'bias-correction' has no option 'strength' (it takes none)", "unknown option in --pipeline", [good], [out])
        expect(vitq, quantize + ["--pipeline", "ln-reparam, plan, calibrate{range=minmax}, integer-lowering"], 2,
               "integer-lowering runs after plan and calibrate alone: step 'ln-reparam' changes the QDQ model",
               "integer-lowering after a reparameterization", [good], [out])
        expect(vitq, quantize + ["--recipe", "repq-vit", "--weight-only"], 2,
               "weight-only quantization leaves the activations float; step 'ln-reparam' works on activation "
               "quantizers", "--weight-only with repq-vit", [good], [out])
        expect(vitq, quantize + ["--group-size", "32"], 2,
               "--group-size (plan{group-size}) sets the weight groups of weight-only quantization: add --weight-only",
               "--group-size without --weight-only", [good], [out])
        expect(vitq, quantize + ["--recipe", "i-vit", "--format", "integer", "--gptq"], 2,
               "integer-lowering runs after plan and calibrate alone: step 'gptq'", "--gptq with --format integer",
               [good], [out])
        expect(vitq, quantize + ["--recipe", "minmax", "--depthwise-inputs", "per-channel"], 2,
               "--depthwise-inputs per-channel needs --placement inputs", "per-channel depthwise inputs, integer placement",
               [good], [out])
        expect(vitq, quantize + ["--recipe", "i-vit", "--format", "integer", "--reconstruct", "all"], 2,
               "--reconstruct all learns weight rounding for QDQ models", "--reconstruct with --format integer",
               [good], [out])
        expect(vitq, quantize + ["--recipe", "repq-vit", "--symmetric-activations"], 2,
               "grid with a zero point (RepQ-ViT's z~); add --no-ln-reparam", "symmetric activations with repq-vit",
               [good], [out])
        # Numbers CLI11 alone would let through: NaN passes every range, "-1" wraps to 2^64 - 1.
        for flag, value, message in (("--percentile", "nan", "'nan' is not a finite number"),
                                     ("--smooth-quant", "nan", "'nan' is not a finite number"),
                                     ("--recon-lr", "inf", "'inf' is not a finite number"),
                                     ("--recon-drop", "nan", "'nan' is not a finite number"),
                                     ("--calib-samples", "-1", "'-1' is not a whole number of at least 1"),
                                     ("--eval-samples", "0", "'0' is not a whole number of at least 1"),
                                     ("--holdout", "-1", "'-1' is not a whole number of at least 0"),
                                     ("--seed", "-1", "'-1' is not a whole number of at least 0"),
                                     ("--noise-seed", "-5", "'-5' is not a whole number of at least 0")):
            expect(vitq, quantize + [flag, value], 2, f"{flag}: {message}", f"{flag} {value}", [good], [out])
        # Repeatable options take one value each, so a path after one is not swallowed into it.
        np.save(os.path.join(d, "x1.npy"), np.ones((2, 4), dtype=np.float32))
        expect(vitq, ["quantize", "--exclude", "add0", good, "--data", os.path.join(d, "x1.npy"), "-o", out], 0, "",
               "--exclude before the model path", [good])
        if os.path.exists(out):
            os.remove(out)
        # Tuning options the recipe never reads are refused, not ignored.
        # (auto, the default, would take --percentile as a choice of the percentile candidates)
        for extra, message in ((["--recipe", "minmax", "--percentile", "99.9"],
                                "--percentile sets the range of --recipe percentile"),
                               (["--noise-seed", "3"], "--noise-seed tunes NoisyQuant"),
                               (["--recon-iters", "5"], "--recon-iters tunes the reconstruction"),
                               (["--seed", "3"], "--seed seeds the sample draws"),
                               (["--median-scale"], "--median-scale sets the reference scale of RepQ-ViT's post-LayerNorm"),
                               (["--no-log-softmax"], "--no-log-softmax removes RepQ-ViT's log-sqrt2"),
                               (["--float-boundary"], "--float-boundary keeps ops without an integer form in float")):
            expect(vitq, quantize + extra, 2, message, f"{extra[0]} with minmax", [good], [out])
        # More calibration samples asked for than there are: used as they are, and said.
        rows = os.path.join(d, "rows.npy")
        np.save(rows, np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32))
        counted = os.path.join(d, "counted.onnx")
        expect(vitq, ["quantize", good, "--data", rows, "-o", counted, "--calib-samples", "1000"], 0,
               "--calib-samples 1000: '" + rows + "' holds 3 calibration samples; using 3",
               "--calib-samples above the samples", [good])
        os.remove(counted)
        # A misspelt node pattern would silently quantize the layer it meant to keep.
        expect(vitq, quantize + ["--exclude", "nosuch"], 2, "--exclude 'nosuch' names no node of the model",
               "--exclude naming nothing", [good], [out])
        expect(vitq, quantize + ["--layer-bits", "nosuch=4"], 2, "--layer-bits 'nosuch=4': no node is named 'nosuch'",
               "--layer-bits naming nothing", [good], [out])
        # Gates and budgets are checked before any work, not after the model is written.
        for gate, message in (("foo<1", "the report has no metric 'foo'"),
                              ("top1_drop>1", "top1_drop needs --labels"),
                              ("sqnr_min_db<nan", "the threshold must be a finite number")):
            expect(vitq, quantize + ["--fail-if", gate], 2, message, f"--fail-if {gate}", [good], [out])
        for budget, message in (("cosine>=2", "a cosine is at most 1"), ("sqnr_db>=nan", "must be a finite number")):
            expect(vitq, quantize + ["--budget", budget], 2, message, f"--budget {budget}", [good], [out])
        expect(vitq, quantize + ["--dual-clip"], 2, "--dual-clip chooses the per-channel post-LayerNorm bounds of "
               "RepQ-ViT's reparameterization; recipe 'minmax' has none (use repq-vit, repquant or q-hyvit)",
               "--dual-clip without a reparameterizing recipe", [good], [out])
        expect(vitq, quantize + ["--recipe", "repquant", "--no-ln-reparam", "--dual-clip"], 2,
               "recipe 'repquant' with --no-ln-reparam has none", "--dual-clip with --no-ln-reparam", [good], [out])
        expect(vitq, quantize + ["--recipe", "repq-vit", "--no-ln-reparam", "--median-scale"], 2,
               "recipe 'repq-vit' with --no-ln-reparam has none", "--median-scale with --no-ln-reparam", [good], [out])
        expect(vitq, quantize + ["--recipe", "minmax", "--format", "integer"], 2, "--format integer is the I-ViT "
               "integer export: use it with --recipe i-vit (got 'minmax')", "--format integer with minmax", [good], [out])
        expect(vitq, quantize + ["--recipe", "i-vit+noisy", "--format", "integer"], 2, "NoisyQuant (+noisy) is a pass "
               "of the QDQ export", "--format integer with +noisy", [good], [out])
        # The integer export does not read the QDQ export's options: refused, not ignored.
        for extra in (["--placement", "inputs"], ["--smooth-quant", "0.5"], ["--bias-correction"],
                      ["--symmetric-activations"], ["--reduce-range"], ["--exclude", "add0"]):
            expect(vitq, quantize + ["--recipe", "i-vit", "--format", "integer"] + extra, 2,
                   f"{extra[0]} shapes the QDQ export; --format integer lowers every layer", f"{extra[0]} with "
                   "--format integer", [good], [out])
        expect(vitq, quantize + ["--recon-act-scales"], 2, "--recon-act-scales learns activation scales block by "
               "block with --reconstruct all; recipe 'minmax' reconstructs nothing", "--recon-act-scales without "
               "reconstruction", [good], [out])
        expect(vitq, quantize + ["--recipe", "q-hyvit", "--recon-act-scales"], 2, "recipe 'q-hyvit' reconstructs the "
               "bridge blocks only", "--recon-act-scales with bridge blocks", [good], [out])
        expect(vitq, quantize + ["--int4"], 2, "--int4 stores tensors of 4 bits or fewer in INT4/UINT4, and none has "
               "(--wbits 8 --abits 8)", "--int4 at W8A8", [good], [out])
        expect(vitq, quantize + ["--recipe", "i-vit", "--format", "integer", "--wbits", "4", "--abits", "4", "--int4"], 2,
               "--int4 chooses the QDQ export's storage types", "--int4 with --format integer", [good], [out])
        expect(vitq, quantize + ["--layer-bits", "add0=9"], 2, "NODE=BITS with BITS from 2 to 8", "bad --layer-bits",
               [good], [out])
        # Reconstruction through an op without a gradient is refused before any work (calibration,
        # the LayerNorm fold, the blocks before it), naming the node and the layers to keep float;
        # doing what the message says then works. --reconstruct all ends a block before TopK where
        # it can (after the tokens' Transpose), so only fc feeds it there.
        topk = os.path.join(d, "topk.onnx")
        topk_bridge_model(topk)
        topk_x = os.path.join(d, "topk_x.npy")
        np.save(topk_x, np.random.default_rng(1).standard_normal((4, 8, 4, 4)).astype(np.float32))
        refused = ("node 'topk' (TopK): no gradient (vector-Jacobian product) for op TopK; reconstruction cannot "
                   "pass through it (--reconstruct none, or keep the layers that feed it in float: ")
        for recipe, layers in ((["--recipe", "q-hyvit"], ["conv", "fc"]),
                               (["--recipe", "minmax", "--reconstruct", "all"], ["fc"])):
            args = ["quantize", topk, "--data", topk_x, "-o", out] + recipe
            exclude = [a for layer in layers for a in ("--exclude", layer)]
            start = time.time()
            expect(vitq, args, 2, refused + " ".join(exclude) + ")", f"{' '.join(recipe)} through TopK", [topk], [out])
            seconds = time.time() - start
            print(("ok   " if seconds < 10 else "FAIL ") + f"refused in {seconds:.2f} s")
            if seconds >= 10:
                failures.append(f"{' '.join(recipe)} refusal time")
            expect(vitq, args + exclude + ["--recon-iters", "5"], 0, "", f"{' '.join(recipe)} {' '.join(exclude)}",
                   [topk])
            if os.path.exists(out):
                os.remove(out)
        listed = subprocess.run([vitq, "passes"], capture_output=True, text=True).stdout
        unknown = subprocess.run([vitq] + quantize + ["--recipe", "nope"], capture_output=True, text=True).stderr
        names = unknown.split("available: ")[-1].split(", each")[0].split(",")
        names = [n.strip().split(" ")[0] for n in names if n.strip()]
        missing = [n for n in names if f"  {n}: " not in listed]
        print(("ok   " if names and not missing else "FAIL ") + f"vitq passes lists the {len(names)} recipes {missing}")
        if not names or missing:
            failures.append("vitq passes")
        expect(vitq, ["convert", good, "-o", out], 0, "", "a good conversion", [good])
    print(f"{len(failures)} failed" if failures else "all CLI error cases passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

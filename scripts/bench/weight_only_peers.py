#!/usr/bin/env python3
"""Weight-only 4-bit quantization: vitq against ONNX Runtime's MatMul4BitsQuantizer and NNCF's
compress_weights, in one run on the same models, calibration samples and evaluation code.

    weight_only_peers.py [--models gloss-lm,minilm] [--groups 32,128] [--schemes sym,asym]
                         [--methods all|M1,M2,...] [--vitq build/apps/vitq] [--json OUT]
                         [--out DIR --keep] [--timeout 900] [--torch-site /usr/lib/python3/dist-packages]

Environment (a plain venv, *not* --system-site-packages: Debian's onnx 1.12 would shadow onnx 1.17
and NNCF would import Debian's torch 1.13, too old for it):

    /usr/bin/python3 -m venv /tmp/venv-peers
    /tmp/venv-peers/bin/pip install -r scripts/requirements-peers.txt
    OMP_NUM_THREADS=1 /tmp/venv-peers/bin/python scripts/bench/weight_only_peers.py --json out/wo_peers.json

scripts/requirements-peers.txt pins what this was run with: numpy 1.26.4, onnx 1.17.0,
onnxruntime 1.20.1, nncf 3.4.0, and neural-compressor 2.6 (+ six): ORT's GPTQ calls
``neural_compressor.adaptor.ox_utils.weight_only.gptq_quantize`` (the 2.x API: 3.0-3.5 ship the
same code, 3.10 no longer has it). ORT's HQQ needs torch: where the venv has none, the HQQ child process
appends ``--torch-site`` (default: Debian's python3-torch 1.13 in /usr/lib/python3/dist-packages)
to its sys.path, after the venv's own packages; without any torch the HQQ cells say why.

What is compared (W4, block/group size G along the input dimension, symmetric and asymmetric):

* vitq (the binary is copied to a temporary folder first, since it may be rebuilt meanwhile):
  ``vitq -q quantize MODEL --data CALIB -o OUT --wbits 4 --weight-only --group-size G
  [--asymmetric-weights] [--awq] [--gptq] --calib-samples 64 --eval-samples 4 --threads 1``
  (recipe minmax, the default: RTN; sym is int4 [-7, 7], asym uint4 [0, 15] with zero points;
  written as DequantizeLinear with block_size, opset 21, which ORT fuses into MatMulNBits).
* ORT 1.20 ``MatMul4BitsQuantizer`` (QOperator: com.microsoft.MatMulNBits): RTN
  (``DefaultWeightOnlyQuantConfig(block_size=G, is_symmetric=...)``, sym [-8, 7]), GPTQ
  (``GPTQWeightOnlyQuantConfig``: neural-compressor's GPTQ, percdamp 0.01, lazy block 128, no act
  order, the 64 calibration samples; group size and scheme from the quantizer's block_size and
  is_symmetric) and HQQ (``HQQWeightOnlyQuantConfig(block_size=G, bits=4)``: asymmetric only, so
  the symmetric rows say n/a). All quantize every MatMul with a constant weight, as vitq does.
* NNCF ``compress_weights`` (ONNX backend) with mode INT4_SYM ([-8, 7]) / INT4_ASYM,
  ``group_size=G``, ``ratio=1.0``, ``all_layers=True`` (the last MatMul in 4 bits too, as vitq and
  ORT do) and Gather ignored (vitq and ORT keep embeddings float): data-free, ``awq=True``,
  ``scale_estimation=True``, both (``dataset`` = the 64 calibration samples, ``subset_size=64``),
  and ``gptq=True``, which NNCF 3.4's ONNX backend refuses (the message is recorded). These run on
  the model raised to opset 21 (onnx.version_converter, outputs checked equal), for which NNCF
  writes DequantizeLinear with block_size as vitq does; for the opset-17 files as given it writes
  MatMulNBits nodes that compute wrongly (COLUMN_NOTES), shown in one more column ``nncf-op17``
  (plain INT4). NNCF log lines saying a step was skipped are recorded as notes.

Every quantizer sees the same calibration samples, batch 1: gloss-lm the first 64 rows of
data/gloss_lm/calib_input_ids.npy, minilm the first 64 of data/minilm/calib_*.npy
(registry.calib_feeds / registry.vitq_data). Every produced model, and FP32, is scored by
scripts/eval/evaluate.py (ORT CPU, default optimization level ORT_ENABLE_ALL, 1 intra-op thread):
gloss-lm per-byte perplexity on the 256 held-out windows (lower is better), minilm mean cosine of
the 256 evaluation sentences' embeddings to FP32's (higher is better). Each peer quantization runs
in a child process of this script with ORT sessions forced to 1 thread (and OMP/BLAS/torch at 1
thread), so the whole run uses about one core.

Checks of the peers' MatMulNBits models (``nbits_weights``): zero points that are not packed two
per byte per column as ORT's kernel reads them, and a bias input whose Add is still in the graph,
are recorded as notes; ORT GPTQ's dequantized weights are compared with ORT RTN's (see
COLUMN_NOTES: neural-compressor's GPTQ propagates no error). Where vitq's fidelity guard refuses
a model (exit 3), it is written again with ``--no-guard`` and scored, and the guard's message is a
note.

Prints progress, then a Markdown table (model x group size x scheme; FP32 and one column per
method), the quantization times, the model sizes relative to FP32, the package versions and every
failure or refusal with its message. ``--json`` writes all of it (updated after each result).
"""
import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "eval"))
import registry  # noqa: E402

ROOT = registry.ROOT

# Column order of the table: (method id, header, family)
METHODS = [
    ("vitq-rtn", "vitq RTN", "vitq"),
    ("vitq-awq", "vitq AWQ", "vitq"),
    ("vitq-gptq", "vitq GPTQ", "vitq"),
    ("vitq-awq-gptq", "vitq AWQ+GPTQ", "vitq"),
    ("ort-rtn", "ORT RTN", "ort"),
    ("ort-gptq", "ORT GPTQ", "ort"),
    ("ort-hqq", "ORT HQQ", "ort"),
    ("nncf", "NNCF INT4", "nncf"),
    ("nncf-awq", "NNCF AWQ", "nncf"),
    ("nncf-se", "NNCF SE", "nncf"),
    ("nncf-awq-se", "NNCF AWQ+SE", "nncf"),
    ("nncf-gptq", "NNCF GPTQ", "nncf"),
    ("nncf-op17", "NNCF INT4 on the opset-17 file", "nncf"),
]
HEADER = {m: h for m, h, _ in METHODS}
VITQ_FLAGS = {"vitq-rtn": [], "vitq-awq": ["--awq"], "vitq-gptq": ["--gptq"], "vitq-awq-gptq": ["--awq", "--gptq"]}
NNCF_FLAGS = {"nncf": {}, "nncf-awq": {"awq": True}, "nncf-se": {"scale_estimation": True},
              "nncf-awq-se": {"awq": True, "scale_estimation": True}, "nncf-gptq": {"gptq": True},
              "nncf-op17": {}}
# Printed under the table when the method is a column.
COLUMN_NOTES = {
    "ort-gptq": "ORT GPTQ: ORT 1.20.1 hands GPTQ to neural-compressor's "
                "adaptor/ox_utils/weight_only.py (the same code in 2.6 and 3.0-3.5), whose gptq() keeps the weight "
                "as [K, N] but propagates each column's error with Hinv1[i:, i] and Hinv[i2:, i1:i2] of the "
                "*upper* Cholesky factor of H^-1, which are zero below the diagonal: no error is propagated and "
                "the result is round-to-nearest on GPTQ's grids (checked here: its dequantized weights against ORT "
                "RTN's). Symmetric, the grid is uint4 with zero point 8 and step 2 max|w|/15, and the result is "
                "rounded again onto a grid from its own min/max (quant_tensor), which moves most weights: worse "
                "than ORT RTN. Its MatMulNBits zero points are packed across columns, which is what ORT reads "
                "only when K/G is even (MiniLM at G=128: K=384 gives 3 blocks, and asymmetric GPTQ models come "
                "out broken).",
    "nncf-op17": "NNCF INT4 on the opset-17 file: NNCF compresses the model as given (opset 17), for which it "
                 "writes com.microsoft.MatMulNBits instead of DequantizeLinear. NNCF 3.4.0 writes those wrongly: "
                 "(1) it passes the bias of the Add that follows the MatMul as MatMulNBits' bias input but keeps "
                 "the Add, so the bias is added twice (sym and asym); (2) asym zero points are stored one uint8 "
                 "per block, [N, K/G], where MatMulNBits wants them packed two per byte, [N, ceil(K/G/2)]: "
                 "ORT 1.20.1 silently reads them as packed, ORT 1.32 refuses the model (\"zero_points "
                 "initializer shape {768,8} does not match attribute-derived shape [3072] or [768,4]\"). Every "
                 "other NNCF column quantizes the same model raised to opset 21 (outputs checked equal), where "
                 "NNCF writes DequantizeLinear with block_size (as vitq does) and these bugs do not arise.",
}
# model id -> (evaluate.py task, metric key, shown name, lower is better)
METRIC = {"gloss-lm": ("gloss-lm", "perplexity", "perplexity (lower is better)", True),
          "minilm": ("minilm", "cosine_mean", "mean cosine to FP32 (higher is better)", False)}
CALIB_SAMPLES = 64


# ----------------------------------------------------------------------------- child processes
def limit_ort_threads():
    """Every ORT session created after this call runs on one intra-op and one inter-op thread
    (neural-compressor and NNCF create their own sessions without thread settings)."""
    import onnxruntime as ort
    if getattr(ort, "_wo_peers_patched", False):
        return
    base_so, base_is = ort.SessionOptions, ort.InferenceSession

    class OneThreadOptions(base_so):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.intra_op_num_threads = 1
            self.inter_op_num_threads = 1

    class OneThreadSession(base_is):
        def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kw):
            if sess_options is None:
                sess_options = OneThreadOptions()
            else:
                sess_options.intra_op_num_threads = 1
                sess_options.inter_op_num_threads = 1
            super().__init__(path_or_bytes, sess_options, providers or ["CPUExecutionProvider"],
                             provider_options, **kw)

    ort.SessionOptions = OneThreadOptions
    ort.InferenceSession = OneThreadSession
    ort._wo_peers_patched = True


def calib_feeds(model_id, src):
    import onnxruntime as ort
    entry = registry.BY_ID[model_id]
    names = [i.name for i in ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()]
    feeds = registry.calib_feeds(entry, names)[:CALIB_SAMPLES]
    return [{k: np.ascontiguousarray(v) for k, v in f.items()} for f in feeds]


class ListReader:
    """ORT CalibrationDataReader over a list of feed dicts (deep-copyable, as ORT's GPTQ copies it)."""

    def __init__(self, feeds):
        self.feeds, self.i = feeds, 0

    def get_next(self):
        if self.i >= len(self.feeds):
            return None
        self.i += 1
        return self.feeds[self.i - 1]

    def rewind(self):
        self.i = 0

    def __iter__(self):
        return self

    def __next__(self):
        x = self.get_next()
        if x is None:
            raise StopIteration
        return x


def quantize_ort(spec):
    import onnx
    from onnxruntime.quantization.matmul_4bits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                  GPTQWeightOnlyQuantConfig,
                                                                  HQQWeightOnlyQuantConfig, MatMul4BitsQuantizer)
    logging.getLogger("onnxruntime.quantization.matmul_4bits_quantizer").setLevel(logging.WARNING)
    g, sym, method = spec["group"], spec["sym"], spec["method"]
    info = {}
    if method == "ort-hqq":
        if sym:
            raise NotApplicable("ORT's HQQ quantizer is asymmetric only (a zero point per block)")
        try:
            import torch
        except ImportError:
            if spec.get("torch_site") and os.path.isdir(spec["torch_site"]):
                sys.path.append(spec["torch_site"])
            import torch  # noqa: F811  (raises ImportError with its message when still missing)
        torch.set_num_threads(1)
        info["torch"] = f"{torch.__version__} ({os.path.dirname(torch.__file__)})"
        cfg = HQQWeightOnlyQuantConfig(block_size=g, bits=4)
        feeds = None
    elif method == "ort-rtn":
        cfg = DefaultWeightOnlyQuantConfig(block_size=g, is_symmetric=sym)
        feeds = None
    else:
        feeds = calib_feeds(spec["model_id"], spec["src"])
        cfg = GPTQWeightOnlyQuantConfig(calibration_data_reader=ListReader(feeds), percdamp=0.01, block_size=128,
                                        actorder=False, mse=False, perchannel=True)
        import neural_compressor
        info["neural_compressor"] = neural_compressor.__version__
        info["calib_samples"] = len(feeds)
    model = onnx.load(spec["src"])
    t0 = time.perf_counter()
    q = MatMul4BitsQuantizer(model if feeds is None else spec["src"], block_size=g, is_symmetric=sym,
                             algo_config=cfg)
    q.process()
    seconds = time.perf_counter() - t0
    out = q.model.model  # ModelProto (ORT's ONNXModel, or neural-compressor's for GPTQ)
    onnx.save(out, spec["out"])
    info["ops"] = sorted({n.op_type for n in out.graph.node if n.op_type in ("MatMulNBits", "DequantizeLinear")})
    return seconds, info


class NotApplicable(Exception):
    pass


def quantize_nncf(spec):
    import onnx
    import nncf
    notes = []

    class Keep(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if any(w in msg.lower() for w in ("skip", "not supported", "no matching", "cannot")):
                notes.append(msg.strip()[:300])

    logging.getLogger("nncf").addHandler(Keep())
    flags = NNCF_FLAGS[spec["method"]]
    feeds = calib_feeds(spec["model_id"], spec["src"]) if flags else None
    model = onnx.load(spec["src"])
    t0 = time.perf_counter()
    out = nncf.compress_weights(
        model,
        mode=nncf.CompressWeightsMode.INT4_SYM if spec["sym"] else nncf.CompressWeightsMode.INT4_ASYM,
        ratio=1.0, group_size=spec["group"], all_layers=True,
        ignored_scope=nncf.IgnoredScope(types=["Gather"], validate=False),
        dataset=nncf.Dataset(feeds) if feeds else None, subset_size=CALIB_SAMPLES, **flags)
    seconds = time.perf_counter() - t0
    onnx.save(out, spec["out"])
    info = {"nncf": nncf.__version__, "notes": sorted(set(notes)),
            "ops": sorted({n.op_type for n in out.graph.node if n.op_type in ("MatMulNBits", "DequantizeLinear")})}
    if feeds:
        info["calib_samples"] = len(feeds)
    return seconds, info


def worker(spec):
    """Child process: quantize one model with one peer method; print one RESULT/REFUSED/NA line."""
    limit_ort_threads()
    try:
        if spec["method"].startswith("ort-"):
            seconds, info = quantize_ort(spec)
        else:
            seconds, info = quantize_nncf(spec)
    except NotApplicable as e:
        print("\nNA " + json.dumps({"message": str(e)}), flush=True)
        return 0
    except Exception as e:  # noqa: BLE001  (a refusal or failure is a result: the message goes in the table)
        traceback.print_exc()
        kind = "REFUSED" if type(e).__name__ in ("ParameterNotSupportedError", "UnsupportedBackendError",
                                                  "ValidationError", "UnsupportedModelError") else "FAILED"
        print("\n" + kind + " " + json.dumps({"message": f"{type(e).__name__}: {str(e).strip()}"[:600]}), flush=True)
        return 0
    print("\nRESULT " + json.dumps({"seconds": seconds, **info}), flush=True)
    return 0


def run_child(spec, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "message": f"timeout after {timeout} s"}
    wall = time.perf_counter() - t0
    for line in reversed(re.split(r"[\r\n]", p.stdout)):
        for tag, status in (("RESULT ", "ok"), ("REFUSED ", "refused"), ("FAILED ", "failed"), ("NA ", "n/a")):
            if line.startswith(tag):
                r = json.loads(line[len(tag):])
                r["status"], r["process_s"] = status, wall
                if status == "failed":
                    r["stderr_tail"] = p.stderr[-1500:]
                return r
    last = (p.stderr.strip().splitlines() or ["?"])[-1][:400]
    return {"status": "failed", "message": f"exit {p.returncode}: {last}",
            "stderr_tail": p.stderr[-1500:]}


def opset21_copy(model_id, src, workdir):
    """NNCF's input: \p src raised to opset 21 with onnx.version_converter (for opset < 21 NNCF 3.4
    writes MatMulNBits nodes that compute wrongly, see the docstring; from 21 on it writes
    DequantizeLinear with block_size, as vitq does). Checked to give the same outputs on 4
    calibration samples."""
    import onnx
    import onnxruntime as ort
    from onnx import version_converter
    m = onnx.load(src)
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 21:
        return src, {"opset": opset}
    dst = os.path.join(workdir, f"{model_id}_op21.onnx")
    onnx.save(version_converter.convert_version(m, 21), dst)
    a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in (src, dst))
    diff = 0.0
    for feed in calib_feeds(model_id, src)[:4]:
        diff = max(diff, float(np.abs(a.run(None, feed)[0] - b.run(None, feed)[0]).max()))
    if diff > 1e-5:
        raise SystemExit(f"{model_id}: the opset-21 conversion changes the outputs (max abs diff {diff})")
    return dst, {"opset": opset, "converted_to": 21, "max_abs_diff_on_4_calib_samples": diff}


# ----------------------------------------------------------------------------- vitq
def run_vitq(vitq, src, data, dst, group, sym, method, timeout, no_guard=False):
    """One vitq command; where its fidelity guard refuses the model (exit 3), it is run again with
    --no-guard so that the table still has the number, and the guard's message is kept."""
    cmd = [vitq, "-q", "quantize", src, "--data", data, "-o", dst, "--wbits", "4", "--weight-only",
           "--group-size", str(group)] + ([] if sym else ["--asymmetric-weights"]) + VITQ_FLAGS[method] + \
          ["--calib-samples", str(CALIB_SAMPLES), "--eval-samples", "4", "--threads", "1"] + \
          (["--no-guard"] if no_guard else [])
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "message": f"timeout after {timeout} s", "cmd": cmd}
    seconds = time.perf_counter() - t0
    if p.returncode == 3 and "fidelity guard" in p.stderr and not no_guard:
        r = run_vitq(vitq, src, data, dst, group, sym, method, timeout, no_guard=True)
        guard = [ln for ln in p.stderr.splitlines() if "fidelity guard" in ln][0].strip()
        guard = guard.split("; most damaged")[0]
        r["notes"] = [f"without --no-guard vitq exits 3 ({guard}); written again with --no-guard and scored"]
        return r
    if p.returncode != 0:
        tail = (p.stderr.strip() or p.stdout.strip()).splitlines()
        return {"status": "failed", "message": f"vitq exit {p.returncode}: " + (tail[-1] if tail else "")[:400],
                "cmd": cmd}
    return {"status": "ok", "seconds": seconds, "cmd": cmd}


# ----------------------------------------------------------------------------- MatMulNBits checks
def nbits_weights(path):
    """The MatMulNBits nodes of a model (ORT's and NNCF-on-opset-17 outputs): node name -> dequantized
    weight [K, N] as ORT's CPU kernel reads it (or None), and notes on inputs that do not have the
    layout MatMulNBits reads (zero points not packed two per byte per column, a bias input whose Add
    is still in the graph)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    weights, notes = {}, []
    for n in m.graph.node:
        if n.op_type != "MatMulNBits":
            continue
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        k, nn, bs = a["K"], a["N"], a["block_size"]
        nb = (k + bs - 1) // bs
        if len(n.input) > 5 and n.input[5]:
            for c in consumers.get(n.output[0], []):
                if c.op_type == "Add" and n.input[5] in c.input:
                    notes.append(f"bias added twice: {n.name}: bias {n.input[5]} is MatMulNBits' bias input "
                                 f"and is added again by {c.name}")
        if a.get("bits", 4) != 4 or n.input[1] not in inits or n.input[2] not in inits:
            weights[n.name] = None
            continue
        b = numpy_helper.to_array(inits[n.input[1]]).reshape(nn, nb, bs // 2)
        codes = np.stack([b & 0xF, b >> 4], -1).reshape(nn, nb, bs).astype(np.float32)
        scale = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32).reshape(nn, nb)
        zp_name = n.input[3] if len(n.input) > 3 else ""
        zp = numpy_helper.to_array(inits[zp_name]) if zp_name in inits else None
        if zp is None:
            z = np.full((nn, nb), 8.0, np.float32)
        elif zp.dtype != np.uint8:
            z = zp.astype(np.float32).reshape(nn, nb)   # float zero points (HQQ): one per block
        else:
            per_col = (nb + 1) // 2
            if zp.size != nn * per_col:
                notes.append(f"zero points not packed as MatMulNBits reads them: {n.name}: zero_points hold "
                             f"{zp.size} bytes (shape {list(zp.shape)}), MatMulNBits "
                             f"reads N*ceil(K/G/2) = {nn}*{per_col} = {nn * per_col}, packed two per byte per column")
                weights[n.name] = None
                continue
            zb = zp.reshape(nn, per_col)
            z = np.stack([zb & 0xF, zb >> 4], -1).reshape(nn, 2 * per_col)[:, :nb].astype(np.float32)
        weights[n.name] = ((codes - z[:, :, None]) * scale[:, :, None]).reshape(nn, nb * bs)[:, :k].T
    return weights, notes


def same_codes(a, b):
    """Share of the weights of the MatMulNBits nodes common to \p a and \p b (nbits_weights results)
    that dequantize to the same value."""
    same = total = 0
    for name, wa in a.items():
        wb = b.get(name)
        if wa is None or wb is None or wa.shape != wb.shape:
            continue
        same += int(np.isclose(wa, wb, rtol=1e-5, atol=1e-8).sum())
        total += wa.size
    return same / total if total else None


# ----------------------------------------------------------------------------- evaluation
def score(model_id, path, fp32):
    import evaluate
    task, key, _, _ = METRIC[model_id]
    r = evaluate.evaluate(task, model=path, reference=fp32 if task == "minilm" else None, threads=1)
    return r["metrics"][key], r["metrics"]


def fmt(model_id, v):
    return f"{v:.4f}"


def versions():
    out = {"python": sys.version.split()[0]}
    for mod in ("numpy", "onnx", "onnxruntime", "nncf", "neural_compressor"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001
            out[mod] = f"missing ({type(e).__name__}: {e})"[:200]
    return out


def cell(model_id, r):
    if r is None:
        return "-"
    if r["status"] == "ok":
        return fmt(model_id, r["metric"])
    return {"n/a": "n/a", "refused": "refused", "failed": "failed"}[r["status"]] + f" [{r['note']}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="gloss-lm,minilm")
    ap.add_argument("--groups", default="32,128")
    ap.add_argument("--schemes", default="sym,asym")
    ap.add_argument("--methods", default="all", help="comma-separated method ids (default all): " +
                    ", ".join(m for m, _, _ in METHODS))
    ap.add_argument("--vitq", default=registry.path("build/apps/vitq"))
    ap.add_argument("--json", help="write the results here (updated after each result)")
    ap.add_argument("--out", help="folder for the quantized models (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the quantized models (default: deleted once scored)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per quantization (default 900)")
    ap.add_argument("--torch-site", default="/usr/lib/python3/dist-packages",
                    help="folder with a torch package for ORT's HQQ when the venv has none")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))

    t_start = time.time()
    methods = [m for m, _, _ in METHODS] if args.methods == "all" else args.methods.split(",")
    unknown = [m for m in methods if m not in HEADER]
    if unknown:
        ap.error(f"unknown methods {unknown}")
    models = args.models.split(",")
    for m in models:
        if m not in METRIC:
            ap.error(f"unknown model {m} (one of {', '.join(METRIC)})")
    groups = [int(g) for g in args.groups.split(",")]
    schemes = args.schemes.split(",")
    tmp = tempfile.mkdtemp(prefix="wo-peers-")
    work = args.out or tmp
    os.makedirs(work, exist_ok=True)
    vitq = os.path.join(tmp, "vitq")
    if any(m.startswith("vitq") for m in methods):
        shutil.copy2(args.vitq, vitq)   # the tree's binary may be rebuilt while this runs
        vitq_version = subprocess.run([vitq, "--version"], capture_output=True, text=True).stdout.strip()
    else:
        vitq_version = None
    results = {"meta": {"versions": versions(), "vitq": args.vitq, "vitq_version": vitq_version,
                        "vitq_mtime": time.ctime(os.path.getmtime(args.vitq)) if vitq_version else None,
                        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus_used": 1,
                        "calib_samples": CALIB_SAMPLES, "argv": sys.argv},
               "models": {}}

    def save():
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)

    print(f"versions: {results['meta']['versions']}; vitq {vitq_version} ({args.vitq})", flush=True)
    for mid in models:
        entry = registry.BY_ID[mid]
        src = registry.path(entry["model"])
        data = registry.vitq_data(entry, tmp)
        nncf_src, nncf_input = opset21_copy(mid, src, tmp) if any(
            m.startswith("nncf") and m != "nncf-op17" for m in methods) else (src, None)
        fp32_metric, fp32_all = score(mid, src, src)
        rec = results["models"][mid] = {"model": entry["model"], "metric": METRIC[mid][1], "fp32": fp32_metric,
                                        "fp32_metrics": fp32_all, "fp32_bytes": os.path.getsize(src),
                                        "nncf_input": nncf_input, "rows": {}}
        print(f"== {mid}: FP32 {METRIC[mid][1]} {fmt(mid, fp32_metric)}", flush=True)
        save()
        for g in groups:
            for scheme in schemes:
                sym = scheme == "sym"
                row = rec["rows"].setdefault(f"g{g}-{scheme}", {})
                row_files, rtn_weights = [], None
                for method in methods:
                    dst = os.path.join(work, f"{mid}_g{g}_{scheme}_{method}.onnx")
                    if method.startswith("vitq"):
                        r = run_vitq(vitq, src, data, dst, g, sym, method, args.timeout)
                    else:
                        peer_src = nncf_src if method.startswith("nncf") and method != "nncf-op17" else src
                        r = run_child({"method": method, "model_id": mid, "src": peer_src, "out": dst, "group": g,
                                       "sym": sym, "torch_site": args.torch_site}, args.timeout)
                    if r["status"] == "ok":
                        row_files.append(dst)
                        if method.startswith("ort-") or method == "nncf-op17":
                            weights, layout = nbits_weights(dst)
                            if layout:
                                kinds = {}
                                for x in layout:
                                    kinds[x.split(":")[0]] = kinds.get(x.split(":")[0], 0) + 1
                                r["notes"] = r.get("notes", []) + [
                                    f"MatMulNBits {k} ({c} of {len(weights)} nodes)" for k, c in kinds.items()]
                                r["layout_problems"] = layout
                            if method == "ort-rtn":
                                rtn_weights = weights
                            elif method == "ort-gptq" and rtn_weights:
                                share = same_codes(weights, rtn_weights)
                                r["same_weights_as_ort_rtn"] = share
                                if share is not None and share > 0.99:
                                    r["notes"] = r.get("notes", []) + [
                                        f"{100 * share:.3f} % of its dequantized weights equal ORT RTN's (nodes whose "
                                        "zero points ORT reads as written)"]
                        try:
                            r["bytes"] = os.path.getsize(dst)
                            r["metric"], r["metrics"] = score(mid, dst, src)
                        except Exception as e:  # noqa: BLE001  (a model ORT cannot run is a result too)
                            r["status"] = "failed"
                            r["message"] = f"produced model fails in ORT: {type(e).__name__}: {str(e)[:400]}"
                    row[method] = r
                    shown = fmt(mid, r["metric"]) if r["status"] == "ok" else \
                        f"{r['status'].upper()}: {r.get('message')}"
                    extra = f" ({r['seconds']:.1f} s)" if r.get("seconds") is not None else ""
                    notes = f" notes: {r['notes']}" if r.get("notes") else ""
                    print(f"   {mid} g{g} {scheme} {method}: {shown}{extra}{notes}", flush=True)
                    save()
                if not args.keep:
                    for f in row_files:
                        if os.path.exists(f):
                            os.remove(f)
    results["meta"]["total_s"] = time.time() - t_start
    save()
    print_tables(results, models, groups, schemes, methods)
    if not args.out:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True) if tmp != work else None
    return 0


def print_tables(results, models, groups, schemes, methods):
    # footnotes: one number per distinct message
    notes, note_ids = [], {}

    def note(msg):
        if msg not in note_ids:
            note_ids[msg] = len(notes) + 1
            notes.append(msg)
        return note_ids[msg]

    print("\n## Weight-only W4: task metric (ORT CPU, ORT_ENABLE_ALL, 1 thread)\n")
    print("| model | metric | G | weights | FP32 | " + " | ".join(HEADER[m] for m in methods) + " |")
    print("|---|---|---|---|---|" + "---|" * len(methods))
    for mid in models:
        rec = results["models"][mid]
        for g in groups:
            for scheme in schemes:
                row = rec["rows"][f"g{g}-{scheme}"]
                cells = []
                for m in methods:
                    r = row.get(m)
                    if r is not None and r["status"] != "ok":
                        r = dict(r, note=note(f"{HEADER[m]}: {r.get('message')}"))
                    elif r is not None and r.get("notes"):
                        cells.append(fmt(mid, r["metric"]) + f" [{note(HEADER[m] + ': ' + '; '.join(r['notes']))}]")
                        continue
                    cells.append(cell(mid, r))
                print(f"| {mid} | {METRIC[mid][2]} | {g} | {scheme} | {fmt(mid, rec['fp32'])} | " + " | ".join(cells) +
                      " |")
    if notes:
        print()
        for i, msg in enumerate(notes, 1):
            print(f"[{i}] {msg}")
    for m in methods:
        if m in COLUMN_NOTES:
            print(f"\n{COLUMN_NOTES[m]}")

    print("\n## Quantization time (s, wall, one thread; vitq: the whole command, peers: the quantizer call)\n")
    print("| model | G | weights | " + " | ".join(HEADER[m] for m in methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for mid in models:
        for g in groups:
            for scheme in schemes:
                row = results["models"][mid]["rows"][f"g{g}-{scheme}"]
                print(f"| {mid} | {g} | {scheme} | " + " | ".join(
                    f"{row[m]['seconds']:.1f}" if m in row and row[m].get("seconds") is not None else "-"
                    for m in methods) + " |")

    print("\n## Model file size relative to FP32 (MB, % of FP32)\n")
    fams = [m for m in ("vitq-rtn", "ort-rtn", "ort-gptq", "nncf") if m in methods]
    print("| model | FP32 MB | G | weights | " + " | ".join(HEADER[m] for m in fams) + " |")
    print("|---|---|---|---|" + "---|" * len(fams))
    for mid in models:
        rec = results["models"][mid]
        for g in groups:
            for scheme in schemes:
                row = rec["rows"][f"g{g}-{scheme}"]
                cells = []
                for m in fams:
                    b = row.get(m, {}).get("bytes")
                    cells.append(f"{b / 1e6:.2f} ({100 * b / rec['fp32_bytes']:.1f} %)" if b else "-")
                print(f"| {mid} | {rec['fp32_bytes'] / 1e6:.2f} | {g} | {scheme} | " + " | ".join(cells) + " |")
    v = results["meta"]["versions"]
    print(f"\nversions: {', '.join(f'{k} {x}' for k, x in v.items())}; vitq {results['meta']['vitq_version']} "
          f"(binary of {results['meta']['vitq_mtime']})")
    print(f"total time: {results['meta']['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())

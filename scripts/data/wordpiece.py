"""BERT uncased tokenizer (BasicTokenizer + WordPiece) in plain Python, for all-MiniLM-L6-v2.

Follows the reference BERT tokenizer (google-research/bert tokenization.py, the same rules as
Hugging Face ``BertTokenizer`` with ``do_lower_case=True``, ``tokenize_chinese_chars=True``,
``strip_accents=None``): clean control characters, put spaces around CJK characters, lower-case
and strip accents (NFD, drop Mn), split on whitespace and punctuation, then greedy
longest-match-first WordPiece with the ``##`` continuation prefix.
"""
import unicodedata

import numpy as np


def _is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPieceTokenizer:
    def __init__(self, vocab_path, max_chars_per_word=100):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.max_chars = max_chars_per_word
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]

    def basic_tokens(self, text):
        out = []
        for c in text:
            cp = ord(c)
            if cp == 0 or cp == 0xFFFD or _is_control(c):
                continue
            if _is_cjk(cp):
                out.append(f" {c} ")
            elif _is_whitespace(c):
                out.append(" ")
            else:
                out.append(c)
        tokens = []
        for word in "".join(out).split():
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
            cur = []
            for c in word:
                if _is_punctuation(c):
                    if cur:
                        tokens.append("".join(cur))
                        cur = []
                    tokens.append(c)
                else:
                    cur.append(c)
            if cur:
                tokens.append("".join(cur))
        return tokens

    def wordpiece(self, word):
        if len(word) > self.max_chars:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text, max_len=256):
        ids = [i for w in self.basic_tokens(text) for i in self.wordpiece(w)]
        return [self.cls_id] + ids[:max_len - 2] + [self.sep_id]

    def batch(self, texts, max_len=256, pad_to=None):
        """Returns int64 input_ids, attention_mask, token_type_ids [N, L] (right padding)."""
        enc = [self.encode(t, max_len) for t in texts]
        length = pad_to or max(len(e) for e in enc)
        ids = np.full((len(enc), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(enc), length), dtype=np.int64)
        for i, e in enumerate(enc):
            e = e[:length]
            ids[i, :len(e)] = e
            mask[i, :len(e)] = 1
        return ids, mask, np.zeros_like(ids)

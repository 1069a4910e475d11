"""Hashed character and word n-gram features of a request, computed over Arrow string buffers with numpy.

Why not scikit-learn's HashingVectorizer: it tokenises one document at a time in Python (a few thousand
documents a second with character n-grams). Here every n-gram hash is a handful of vectorised table look-ups
over the whole byte buffer of an Arrow batch, so a million requests take seconds and no Python loop runs per
row. The features are the usual ones for paraphrase-robust text classification:

- lower-cased character 3-5-grams over UTF-8 bytes with whitespace collapsed (they survive inflection,
  synonym swaps that keep a stem, re-layout into bullets or numbered lines, and typos);
- word unigrams and bigrams (a word is a run of ASCII letters, digits or non-ASCII bytes);
- the tool names of the request as words, in their own salted hash space;
- flags: an image is attached, there is no system prompt, tools are declared, the user message holds code, it
  holds an error message or stack trace.

The system prompt and the first user message are two blocks in the *same* hash space, so an instruction
learnt in a system prompt is recognised when a client moves it into the user turn. Each block is scaled by
1 / sqrt(its number of n-grams), which makes every block's contribution to a linear score independent of the
others: a long pasted document in the user turn cannot dilute a chain-of-thought instruction in the system
prompt. That additivity is also what makes inference cheap: a batch's distinct system prompts are scored
once and shared by every request carrying them.

Hashing is XOR tabulation (random 32-bit tables per byte position, seeded), which is 3-independent and needs
no multiplication; a bucket is the top `n_bits` bits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

REQUEST_COLUMNS = {
    "system_prompt": pa.string(),
    "first_user_message": pa.string(),
    "tool_names": pa.list_(pa.string()),
    "image_count": pa.int32(),
}
FLAGS = ("image", "no_system", "tools", "code", "error")
# Pasted code and error output say "programming" in any language and with any vocabulary, which word n-grams
# learnt from a few thousand prompts cannot; two RE2 patterns over the start of the first user message (its
# first `head_chars`) catch most of it.
CODE_PATTERN = (
    r"```|(^|\n)(    |\t)\S|[{;]\s*(\n|$)|=>|\bdef \w+\(|\bfunction\b\s*\w*\s*\(|\bimport [\w.]+|"
    r"\bclass \w+\s*[:({]|#include|console\.log|System\.out|\bprint(ln|f)?\(|\w+\.\w+\([^)]*\)|"
    r"\bselect\b.+\bfrom\b"
)
ERROR_PATTERN = (
    r"traceback \(most recent call last\)|\b\w+(error|exception)\b|\berror:|exit (code|status) \d|"
    r"segmentation fault|stack ?trace|\bpanic:|undefined reference|cannot find (module|symbol)|not found"
)
_WORD_POSITIONS = 32  # word-hash tables; a byte's position inside its word is taken modulo this
_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[ord("a") : ord("z") + 1] = True
_WORD_BYTE[ord("0") : ord("9") + 1] = True
_WORD_BYTE[128:] = True  # every byte of a non-ASCII character: words in any script
_SPACE = np.arange(256, dtype=np.uint8)
_SPACE[[9, 10, 11, 12, 13]] = 32  # tabs and line breaks become spaces


@dataclass(frozen=True)
class HashSpec:
    """Everything that fixes the feature space; stored with a model so the loader rebuilds it exactly."""

    n_bits: int = 18
    char_min: int = 3
    char_max: int = 5
    head_chars: int = 1500  # of a long message keep the start (instructions, wrappers) ...
    tail_chars: int = 500  # ... and the end (a trailing "Think step by step." or "Score:")
    seed: int = 20260201

    @property
    def n_features(self) -> int:
        return 1 << self.n_bits

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Hasher:
    """Turns Arrow string arrays into sparse n-gram count matrices in the `HashSpec` feature space."""

    def __init__(self, spec: HashSpec) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        self._char_tables = rng.integers(0, 2**32, (spec.char_max, 256), dtype=np.uint32)
        self._char_salts = rng.integers(0, 2**32, spec.char_max + 1, dtype=np.uint32)
        self._word_tables = rng.integers(0, 2**32, _WORD_POSITIONS * 256, dtype=np.uint32)
        self._length_table = rng.integers(0, 2**32, 64, dtype=np.uint32)
        self._salts = {name: rng.integers(0, 2**32, dtype=np.uint32) for name in ("w1", "w2", "tools")}
        self._bigram_mult = np.uint32(rng.integers(0, 2**31, dtype=np.uint32) * 2 + 1)
        buckets = rng.integers(0, spec.n_features, len(FLAGS))
        self.flag_buckets = {f: int(b) for f, b in zip(FLAGS, buckets, strict=True)}
        self._shift = np.uint32(32 - spec.n_bits)

    def text_matrices(
        self, texts: pa.Array, *, words_only: bool = False, salt: str = ""
    ) -> tuple[np.ndarray, Iterator[sp.csr_matrix]]:
        """The n-grams per text, and the count matrices (word unigrams, bigrams, then one per character n-gram
        size; duplicates not summed), built one at a time as they are consumed: `X @ W` works on each as is and
        only one character matrix (8 bytes per input byte) is alive at a time."""
        data, offsets = encode_texts(texts, self.spec.head_chars, self.spec.tail_chars)
        lengths = np.diff(offsets)
        words, per_text = self._word_ngrams(data, offsets, lengths, salt)
        if words_only:
            return per_text, iter(words)
        for size in range(self.spec.char_min, self.spec.char_max + 1):
            per_text = per_text + np.maximum(lengths - size + 1, 0)
        return per_text, itertools.chain(words, self._char_ngrams(data, offsets))

    def _bucket(self, h: np.ndarray, salt: np.uint32) -> np.ndarray:
        """Top n_bits bits of the salted hash, as the int32 column index scipy wants (a view, no copy)."""
        return ((h ^ salt) >> self._shift).view(np.int32)

    def _char_ngrams(self, data: np.ndarray, offsets: np.ndarray) -> Iterator[sp.csr_matrix]:
        """One matrix per size char_min..char_max in which every byte position starts one n-gram, so a text's
        entries are its own byte range and the matrix needs no sorting; an n-gram running past the end of its
        text gets value 0 (it is counted nowhere)."""
        total = len(data)
        padded = np.zeros(total + self.spec.char_max, dtype=np.uint8)
        padded[:total] = data
        indptr = _compact(offsets)
        ends, starts = offsets[1:], offsets[:-1]
        h = np.zeros(total, dtype=np.uint32)
        for j in range(self.spec.char_max):
            h ^= self._char_tables[j][padded[j : j + total]]
            size = j + 1
            if size < self.spec.char_min:
                continue
            values = np.ones(total, dtype=np.float32)
            for back in range(1, size):  # the last size-1 positions of a text start no full n-gram
                pos = ends - back
                values[pos[pos >= starts]] = 0.0
            buckets = self._bucket(h, self._char_salts[size])
            yield sp.csr_matrix((values, buckets, indptr), shape=(len(ends), self.spec.n_features))

    def _word_ngrams(
        self, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, salt: str
    ) -> tuple[list[sp.csr_matrix], np.ndarray]:
        """Word unigram and bigram matrices (a bigram never spans two texts)."""
        n = len(lengths)
        is_word = _WORD_BYTE[data]
        nonempty = lengths > 0
        prev = np.zeros_like(is_word)
        prev[1:] = is_word[:-1]
        prev[offsets[:-1][nonempty]] = False
        nxt = np.zeros_like(is_word)
        nxt[:-1] = is_word[1:]
        nxt[offsets[1:][nonempty] - 1] = False
        start = np.flatnonzero(is_word & ~prev)
        word_len = np.flatnonzero(is_word & ~nxt) + 1 - start
        in_word = np.flatnonzero(is_word)
        pos = (in_word - np.repeat(start, word_len)) % _WORD_POSITIONS
        vals = self._word_tables[pos * 256 + data[in_word]]
        if len(start):
            first = np.zeros(len(start), dtype=np.int64)
            np.cumsum(word_len[:-1], out=first[1:])
            wh = np.bitwise_xor.reduceat(vals, first) ^ self._length_table[np.minimum(word_len, 63)]
        else:
            wh = np.zeros(0, dtype=np.uint32)
        doc = np.searchsorted(offsets, start, side="right") - 1
        extra = self._salts[salt] if salt else np.uint32(0)
        unigrams = self._bucket(wh, self._salts["w1"] ^ extra)
        bigrams = self._bucket((wh[:-1] * self._bigram_mult) ^ wh[1:], self._salts["w2"] ^ extra)
        same_text = doc[1:] == doc[:-1]
        words_per_text = np.bincount(doc, minlength=n)
        bigrams_per_text = np.maximum(words_per_text - 1, 0)
        matrices = [self._csr(unigrams, words_per_text), self._csr(bigrams[same_text], bigrams_per_text)]
        return matrices, words_per_text + bigrams_per_text

    def _csr(self, buckets: np.ndarray, per_text: np.ndarray) -> sp.csr_matrix:
        indptr = np.zeros(len(per_text) + 1, dtype=np.int64)
        np.cumsum(per_text, out=indptr[1:])
        return sp.csr_matrix(
            (np.ones(len(buckets), dtype=np.float32), buckets, _compact(indptr)),
            shape=(len(per_text), self.spec.n_features),
        )


def _compact(indptr: np.ndarray) -> np.ndarray:
    """int32 row pointers when they fit: scipy would otherwise widen the int32 column indices to int64 (a copy
    of every entry)."""
    return indptr.astype(np.int32) if indptr[-1] < 2**31 else indptr


def encode_texts(texts: pa.Array | pa.ChunkedArray, head: int, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of each text (nulls as empty), truncated to head + tail characters, lower-cased, with runs
    of whitespace collapsed to one space and leading whitespace dropped; returns (bytes, offsets)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    long = pc.greater(pc.utf8_length(texts), head + tail)
    if pc.any(long).as_py():
        joined = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(texts, 0, head),
            pc.utf8_slice_codeunits(texts, -tail),
            pa.scalar(" ", pa.large_string()),
        )
        texts = pc.if_else(long, joined, texts)
    texts = pc.utf8_lower(texts)
    _, off_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    raw = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = _SPACE[raw[offsets[0] : offsets[-1]]]
    offsets = offsets - offsets[0]
    space = data == 32
    drop = np.zeros_like(space)
    drop[1:] = space[1:] & space[:-1]
    starts = offsets[:-1][np.diff(offsets) > 0]
    drop[starts] = space[starts]  # a text's leading whitespace is dropped
    dropped = np.flatnonzero(drop)  # few: only repeated whitespace
    return np.delete(data, dropped), offsets - np.searchsorted(dropped, offsets)


def request_columns(batch: pa.Table | pa.RecordBatch) -> dict[str, pa.Array]:
    """The request fields the classifiers read, cast to their `events` types; a missing column is all-null."""
    out: dict[str, pa.Array] = {}
    for name, kind in REQUEST_COLUMNS.items():
        if name not in batch.column_names:
            out[name] = pa.nulls(batch.num_rows, kind)
            continue
        col = batch.column(name)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        out[name] = col if col.type == kind else col.cast(kind)
    return out


class RequestFeaturizer:
    """Request fields → features. `transform` builds the sparse matrix (training); `linear_scores` computes
    `X @ W + b` without building it, scoring each distinct system prompt, message and tool list once."""

    def __init__(self, spec: HashSpec | None = None) -> None:
        self.spec = spec or HashSpec()
        self.hasher = Hasher(self.spec)

    @property
    def n_features(self) -> int:
        return self.spec.n_features

    def transform(self, batch: pa.Table | pa.RecordBatch) -> sp.csr_matrix:
        """The (requests × 2**n_bits) feature matrix, duplicates summed."""
        cols = request_columns(batch)
        x = sp.csr_matrix((batch.num_rows, self.n_features), dtype=np.float32)
        for indices, counts, mats in self._blocks(cols):
            block = _scaled(sum(mats, sp.csr_matrix((len(counts), self.n_features), dtype=np.float32)), counts)
            x = x + block[indices]
        x = x + self._flags(cols)
        x.sum_duplicates()
        x.eliminate_zeros()
        return x

    def linear_scores(self, batch: pa.Table | pa.RecordBatch, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """`transform(batch) @ coef + intercept` for a dense (n_features, k) float32 `coef`, computed per
        distinct block value; returns (requests, k) float64."""
        cols = request_columns(batch)
        out = np.tile(np.asarray(intercept, dtype=np.float64), (batch.num_rows, 1))
        for indices, counts, mats in self._blocks(cols):
            partial = np.zeros((len(counts), coef.shape[1]), dtype=np.float64)
            for m in mats:
                partial += m @ coef
            partial /= np.sqrt(np.maximum(counts, 1))[:, None]
            out += partial[indices]
        flags = self._flag_values(cols)
        for j, flag in enumerate(FLAGS):
            out += flags[:, j : j + 1] * coef[self.hasher.flag_buckets[flag]][None, :]
        return out

    # ----------------------------------------------------------------------------------------- helpers

    def _blocks(self, cols: dict[str, pa.Array]) -> Iterator[tuple[np.ndarray, np.ndarray, Iterator[sp.csr_matrix]]]:
        """(row → distinct-value index, n-grams per distinct value, their count matrices) per block."""
        for name in ("system_prompt", "first_user_message"):
            indices, uniques = _distinct(cols[name])
            yield indices, *self.hasher.text_matrices(uniques)
        indices, uniques = _distinct(pc.binary_join(cols["tool_names"], " "))
        yield indices, *self.hasher.text_matrices(uniques, words_only=True, salt="tools")

    def _flag_values(self, cols: dict[str, pa.Array]) -> np.ndarray:
        image = pc.fill_null(pc.greater(cols["image_count"], 0), False)
        system = pc.fill_null(cols["system_prompt"], "")
        no_system = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(system)), 0)
        tools = pc.fill_null(pc.greater(pc.list_value_length(cols["tool_names"]), 0), False)
        user = pc.utf8_slice_codeunits(pc.fill_null(cols["first_user_message"], ""), 0, self.spec.head_chars)
        code = pc.match_substring_regex(user, CODE_PATTERN, ignore_case=True)
        error = pc.match_substring_regex(user, ERROR_PATTERN, ignore_case=True)
        flags = (image, no_system, tools, code, error)
        return np.stack([np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float32) for a in flags], axis=1)

    def _flags(self, cols: dict[str, pa.Array]) -> sp.csr_matrix:
        values = self._flag_values(cols)
        rows, which = np.nonzero(values)
        buckets = np.array([self.hasher.flag_buckets[f] for f in FLAGS], dtype=np.int64)[which]
        return sp.csr_matrix((values[rows, which], (rows, buckets)), shape=(len(values), self.n_features))


def _distinct(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(index of each row's value among the distinct values, the distinct values); null counts as empty."""
    encoded = pc.dictionary_encode(pc.fill_null(values, ""))
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _scaled(x: sp.csr_matrix, counts: np.ndarray) -> sp.csr_matrix:
    return sp.diags(1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32) @ x

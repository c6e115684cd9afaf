"""GPT-2 tokenizer through tiktoken's standard loader, and the optional compact vocabulary.

The compact vocabulary keeps the K most frequent training tokens (ties broken by
GPT-2 id) and maps every other token to one ``<unk>`` id, K. It shrinks the
embedding and unembedding (50257 × d_model each) for CPU-sized runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from phrenology.pipeline.errors import DataError

UNK = "<unk>"
TIKTOKEN_HINT = (
    "Point TIKTOKEN_CACHE_DIR at a folder holding tiktoken's cached GPT-2 files "
    "(on this project's machines: export TIKTOKEN_CACHE_DIR=$PWD/../shared/data/tiktoken_cache), "
    "or run once on a machine with internet so tiktoken can download them."
)


# What tiktoken downloads for the GPT-2 encoding and the sha256 it pins for each file
# (tiktoken_ext/openai_public.py). Checked before tiktoken reads its cache, because on a
# mismatch tiktoken deletes the cached file and tries to download it again.
_PINNED_FILES = {
    "gpt2": {
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe":
            "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json":
            "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    },
}  # fmt: skip


def tiktoken_cache_dir() -> str | None:
    """The folder tiktoken caches downloads in (its own rule, ``tiktoken/load.py``); None: no cache."""
    import os
    import tempfile

    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var] or None  # "" disables tiktoken's cache
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cached_files(name: str) -> list[tuple[str, str, str]]:
    """(url, cache path, pinned sha256) of every file encoding ``name`` loads; [] if unknown."""
    import os

    cache = tiktoken_cache_dir()
    if cache is None:
        return []
    return [
        (url, os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()), expected)
        for url, expected in _PINNED_FILES.get(name, {}).items()
    ]


def encoding_cached(name: str) -> bool:
    """Whether ``load_encoding(name)`` can load without the network (every file cached).

    Lets a start-up check use the tokenizer only when that is quick: tiktoken downloads
    without a timeout, which can hang on a compute node with no internet.
    """
    import os

    files = _cached_files(name)
    return bool(files) and all(os.path.isfile(path) for _, path, _ in files)


def check_tiktoken_cache(name: str) -> None:
    """Raise DataError naming a cached tokenizer file that fails its pinned hash."""
    import os

    from phrenology.pipeline.io import sha256_file

    for url, path, expected in _cached_files(name):
        if os.path.isfile(path) and sha256_file(path) != expected:
            raise DataError(
                f"tokenizer cache file {path} ({url.rsplit('/', 1)[-1]}) fails its sha256 check; "
                "replace it with a good copy (delete it to let tiktoken download it on a machine with internet). "
                + TIKTOKEN_HINT
            )


def load_encoding(name: str = "gpt2"):
    """``tiktoken.get_encoding(name)``, with a clear error when it cannot be loaded offline."""
    import tiktoken

    check_tiktoken_cache(name)
    try:
        return tiktoken.get_encoding(name)
    except Exception as e:  # network errors, hash mismatch, missing cache
        raise DataError(
            f"could not load the '{name}' tokenizer ({type(e).__name__}: {e}). {TIKTOKEN_HINT}"
        ) from e


def encoding_sha256(encoding) -> str:
    """Content hash of every token's bytes: identifies the vocabulary whatever its storage."""
    h = hashlib.sha256()
    for i in range(encoding.n_vocab):
        try:
            b = encoding.decode_single_token_bytes(i)
        except KeyError:  # ids without a token (none in GPT-2)
            b = b""
        h.update(len(b).to_bytes(2, "little"))
        h.update(b)
    return h.hexdigest()


def token_strings(encoding) -> list[str]:
    """Readable text of every GPT-2 token (invalid UTF-8 fragments shown with U+FFFD)."""
    return [
        encoding.decode_single_token_bytes(i).decode("utf-8", errors="replace")
        for i in range(encoding.n_vocab)
    ]


@dataclass(frozen=True)
class Vocabulary:
    """Model vocabulary: model id i is GPT-2 token ``gpt2_ids[i]`` (−1 for ``<unk>``).

    gpt2_ids: int64[d_vocab]
    tokens:   list[str], len d_vocab, readable token text
    counts:   int64[d_vocab], occurrences in the training split
    """

    gpt2_ids: np.ndarray
    tokens: list[str]
    counts: np.ndarray

    @property
    def size(self) -> int:
        return len(self.gpt2_ids)

    @property
    def unk_id(self) -> int | None:
        hits = np.flatnonzero(self.gpt2_ids < 0)
        return int(hits[0]) if len(hits) else None

    def lookup_table(self, n_gpt2: int) -> np.ndarray:
        """int32[n_gpt2]: GPT-2 id → model id (``<unk>`` for dropped tokens)."""
        unk = self.unk_id
        table = np.full(n_gpt2, -1 if unk is None else unk, dtype=np.int32)
        known = self.gpt2_ids >= 0
        table[self.gpt2_ids[known]] = np.flatnonzero(known).astype(np.int32)
        return table

    def encode(self, gpt2_tokens: np.ndarray, n_gpt2: int) -> np.ndarray:
        """Map GPT-2 ids to model ids."""
        return self.lookup_table(n_gpt2)[gpt2_tokens]


def build_vocabulary(
    train_tokens: np.ndarray, all_tokens: list[str], size: int | None
) -> Vocabulary:
    """Full GPT-2 vocabulary (``size`` None) or the ``size`` most frequent training tokens + ``<unk>``.

    train_tokens: int[n] GPT-2 ids of the training split
    all_tokens:   readable text of every GPT-2 id
    """
    n_gpt2 = len(all_tokens)
    counts = np.bincount(train_tokens, minlength=n_gpt2).astype(np.int64)
    if size is None:
        return Vocabulary(np.arange(n_gpt2, dtype=np.int64), list(all_tokens), counts)
    if size >= n_gpt2:
        raise DataError(f"corpus.vocab_size {size} is not below the tokenizer's {n_gpt2} tokens")
    # stable sort on −count: ties keep ascending GPT-2 id, so the choice is deterministic
    keep = np.argsort(-counts, kind="stable")[:size]
    dropped = counts.sum() - counts[keep].sum()
    gpt2_ids = np.concatenate([keep, [-1]]).astype(np.int64)
    tokens = [all_tokens[i] for i in keep] + [UNK]
    return Vocabulary(gpt2_ids, tokens, np.concatenate([counts[keep], [dropped]]))

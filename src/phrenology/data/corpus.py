"""Brown corpus → detokenized sentences → token streams → fixed-length windows.

Windows are built as the paper's code did: sentence ``r`` is drawn at random,
then it and the sentences after it are detokenized, tokenized one by one and
concatenated until the window is full. Because each sentence is tokenized on its
own, the concatenation is a contiguous slice of the split's token stream, so a
window is a gather: ``stream[offsets[r] : offsets[r] + length]`` (wrapping at the
end of the split; the authors' ``s[r + i % len(s)]`` had a precedence bug there).

The analysis prompts are held-out windows; :func:`prompt_table` lists them with their
token text, for figures and for people.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


_WORD_START = re.compile(r"^[a-zA-Z0-9]")

NLTK_HINT = (
    "Point NLTK_DATA at a folder holding corpora/{name}.zip "
    "(on this project's machines: export NLTK_DATA=$PWD/../shared/data/nltk_data), "
    "or run python -m nltk.downloader {name} on a machine with internet."
)


def detokenize(words: Sequence[str]) -> str:
    """Join corpus words into text: a space goes before a word that starts with a letter or digit.

    >>> detokenize(["They", "sit", "alone", ",", "don't", "they", "?"])
    "They sit alone, don't they?"
    """
    parts: list[str] = []
    for word in words:
        if parts and _WORD_START.match(word):
            parts.append(" ")
        parts.append(word)
    return "".join(parts)


def load_sentences(name: str = "brown", download: bool = True) -> list[list[str]]:
    """All sentences of an NLTK corpus, each a list of words, through the standard loader.

    When the corpus is missing, tries ``nltk.download`` (works with internet);
    otherwise fails with a message that says how to point NLTK at a local copy.
    """
    import nltk

    try:
        return _read_sentences(name)
    except LookupError:
        if not download:
            raise DataError(
                f"NLTK corpus '{name}' not found. " + NLTK_HINT.format(name=name)
            ) from None
    try:
        ok = nltk.download(name, quiet=True, raise_on_error=True)
    except Exception:  # no network: urllib raises a URLError, or worse
        ok = False
    if not ok:
        raise DataError(
            f"NLTK corpus '{name}' not found and could not be downloaded. "
            + NLTK_HINT.format(name=name)
        )
    return _read_sentences(name)


def _read_sentences(name: str) -> list[list[str]]:
    """Read through nltk; a damaged corpus file becomes a DataError naming it (LookupError passes)."""
    import zipfile

    import nltk

    try:
        return [list(s) for s in getattr(nltk.corpus, name).sents()]
    except LookupError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, ValueError) as e:
        where = corpus_file(name) or f"corpora/{name}"
        raise DataError(
            f"the NLTK corpus file {where} is damaged ({type(e).__name__}: {e}); replace it with a "
            f"fresh copy (python -m nltk.downloader {name}, or the project's offline copy)"
        ) from e


def corpus_file(name: str = "brown") -> str | None:
    """Path of the corpus file the NLTK loader reads (for provenance and error messages).

    Searched on ``nltk.data.path`` directly, so it also names a file too damaged to open.
    """
    import os

    import nltk

    for root in nltk.data.path:
        for candidate in (
            os.path.join(root, "corpora", f"{name}.zip"),
            os.path.join(root, "corpora", name),
        ):
            if os.path.exists(candidate):
                return candidate
    return None


def split_sentences(
    sentences: Sequence[list[str]], train_fraction: float
) -> tuple[list[list[str]], list[list[str]]]:
    """First ``train_fraction`` of sentences (in corpus order) train, the rest are held out."""
    cutoff = int(len(sentences) * train_fraction)
    return list(sentences[:cutoff]), list(sentences[cutoff:])


@dataclass(frozen=True)
class TokenStream:
    """A split's sentences tokenized one by one and concatenated.

    tokens:  int32[n_tokens]       token ids in sentence order
    offsets: int64[n_sentences+1]  sentence i is tokens[offsets[i]:offsets[i+1]]
    """

    tokens: np.ndarray
    offsets: np.ndarray

    @property
    def n_sentences(self) -> int:
        return len(self.offsets) - 1


def encode_sentences(
    texts: Sequence[str], encode_batch: Callable[[list[str]], list[list[int]]]
) -> TokenStream:
    """Tokenize each text separately (as the paper did) and concatenate."""
    encoded = encode_batch(list(texts))
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    if (lengths == 0).any():
        raise DataError(f"{int((lengths == 0).sum())} sentences tokenized to nothing")
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter((t for e in encoded for t in e), dtype=np.int32, count=int(offsets[-1]))
    return TokenStream(tokens=tokens, offsets=offsets)


def sample_starts(n_sentences: int, n: int, seed: int) -> list[int]:
    """``random.seed(seed); random.sample(range(n_sentences), n)``, as the authors drew them."""
    if n > n_sentences:
        raise DataError(f"asked for {n} windows but the split has only {n_sentences} sentences")
    return random.Random(seed).sample(range(n_sentences), k=n)


def windows_at(stream: TokenStream, starts: Sequence[int], length: int) -> np.ndarray:
    """Windows of ``length`` tokens starting at the given sentences → int64[len(starts), length]."""
    first = stream.offsets[np.asarray(starts, dtype=np.int64)]
    index = (first[:, None] + np.arange(length)[None, :]) % len(stream.tokens)
    return stream.tokens[index].astype(np.int64)


def sample_windows(stream: TokenStream, n: int, length: int, seed: int) -> np.ndarray:
    """``n`` windows of ``length`` tokens from random start sentences → int64[n, length]."""
    return windows_at(stream, sample_starts(stream.n_sentences, n, seed), length)


def sentences_sha256(sentences: Sequence[Sequence[str]]) -> str:
    """Content hash of the sentence list, independent of how the corpus is stored."""
    h = hashlib.sha256()
    for s in sentences:
        h.update("\x1f".join(s).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def load_stream(tokens_path: str, offsets_path: str) -> TokenStream:
    """Read a split written by the corpus rule, checking the two files agree."""
    from phrenology.pipeline.io import REBUILD_HINT, load_npy

    tokens = load_npy(tokens_path, ndim=1)
    offsets = load_npy(offsets_path, ndim=1)
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(tokens):
        raise DataError(f"{offsets_path} does not match {tokens_path}; {REBUILD_HINT}")
    return TokenStream(tokens=tokens, offsets=offsets)


def prompt_table(windows: np.ndarray, vocab: pd.DataFrame) -> pd.DataFrame:
    """One row per (prompt, position): ``prompt, position, token_id, gpt2_id, token``.

    windows: int[n_prompts, n_ctx] model token ids
    vocab:   vocab.tsv (``id, gpt2_id, token``), row i = model id i
    """
    import pandas as pd

    n_prompts, n_ctx = windows.shape
    ids = windows.reshape(-1)
    return pd.DataFrame({
        "prompt": np.repeat(np.arange(n_prompts), n_ctx),
        "position": np.tile(np.arange(n_ctx), n_prompts),
        "token_id": ids,
        "gpt2_id": vocab["gpt2_id"].to_numpy()[ids],
        "token": vocab["token"].to_numpy()[ids],
    })  # fmt: skip


def prompt_tokens(table: pd.DataFrame) -> list[list[str]]:
    """Token text per prompt, in position order, from a :func:`prompt_table`."""
    ordered = table.sort_values(["prompt", "position"])
    return [list(group["token"]) for _, group in ordered.groupby("prompt", sort=True)]

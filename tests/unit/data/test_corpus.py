import random

import numpy as np
import pytest

from phrenology.data import corpus
from phrenology.pipeline.errors import DataError

# A tiny fixture in the Brown corpus's own shape: sentences as lists of words.
SENTENCES = [
    ["The", "Fulton", "County", "Grand", "Jury", "said", "Friday", "."],
    ["``", "Only", "a", "relative", "handful", "''", ",", "it", "said", "."],
    ["It", "'s", "1960", "'s", "plan", ":", "don't", "stop", "!"],
    ["They", "sit", "alone", "in", "their", "rooms"],
    ["(", "Done", ")"],
]


def test_detokenize_puts_space_only_before_letters_and_digits():
    assert corpus.detokenize(SENTENCES[0]) == "The Fulton County Grand Jury said Friday."
    assert corpus.detokenize(SENTENCES[1]) == "`` Only a relative handful'', it said."
    assert corpus.detokenize(SENTENCES[2]) == "It's 1960's plan: don't stop!"
    assert corpus.detokenize(["(", "Done", ")"]) == "( Done)"
    assert corpus.detokenize([]) == ""


def test_split_is_first_fraction_in_corpus_order():
    train, heldout = corpus.split_sentences(SENTENCES, 0.8)
    assert train == SENTENCES[:4] and heldout == SENTENCES[4:]


def _char_encode(texts):
    """A stand-in tokenizer (one token per character) that makes offsets easy to check."""
    return [[ord(c) for c in t] for t in texts]


def test_encode_sentences_concatenates_per_sentence_tokens():
    texts = ["ab", "c", "def"]
    stream = corpus.encode_sentences(texts, _char_encode)
    assert stream.tokens.tolist() == [ord(c) for c in "abcdef"]
    assert stream.offsets.tolist() == [0, 2, 3, 6]
    assert stream.n_sentences == 3


def test_windows_join_following_sentences_and_wrap_at_the_end():
    stream = corpus.encode_sentences(["ab", "c", "def"], _char_encode)
    windows = corpus.windows_at(stream, [1, 2], length=4)
    as_text = ["".join(map(chr, w)) for w in windows]
    # from sentence 1: "c" + "def"; from sentence 2: "def" then wraps to the split's start
    assert as_text == ["cdef", "defa"]
    assert windows.dtype == np.int64


def test_windows_match_the_papers_join_then_tokenize_loop():
    """Independent route: the authors' loop (tokenize sentence by sentence until full)."""
    texts = [corpus.detokenize(s) for s in SENTENCES]
    stream = corpus.encode_sentences(texts, _char_encode)
    length = 23
    for r in range(len(texts)):
        tokens, i = [], 0
        while len(tokens) < length:
            tokens += _char_encode([texts[(r + i) % len(texts)]])[0]
            i += 1
        assert corpus.windows_at(stream, [r], length)[0].tolist() == tokens[:length]


def test_sample_starts_reproduces_random_seed_then_sample():
    random.seed(9992)
    expected = random.sample(range(1000), k=50)
    assert corpus.sample_starts(1000, 50, 9992) == expected
    assert corpus.sample_starts(1000, 50, 9993) != expected


def test_sample_windows_rejects_more_windows_than_sentences():
    stream = corpus.encode_sentences(["ab", "c"], _char_encode)
    with pytest.raises(DataError, match="only 2 sentences"):
        corpus.sample_windows(stream, 3, 2, seed=0)


def test_empty_sentence_is_an_error():
    with pytest.raises(DataError, match="tokenized to nothing"):
        corpus.encode_sentences(["ab", ""], _char_encode)


def test_load_stream_detects_mismatched_files(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(5, dtype=np.int32))
    np.save(tmp_path / "o.npy", np.array([0, 2, 4]))
    with pytest.raises(DataError, match="does not match"):
        corpus.load_stream(str(tmp_path / "t.npy"), str(tmp_path / "o.npy"))


def test_brown_corpus_loads_through_nltk():
    sentences = corpus.load_sentences("brown", download=False)
    assert len(sentences) == 57340
    assert corpus.detokenize(sentences[0]).startswith("The Fulton County Grand Jury said Friday")


def _run_loader(nltk_data, tmp_path):
    """load_sentences in a fresh interpreter (nltk reads NLTK_DATA once, at import)."""
    import os
    import subprocess
    import sys

    code = "from phrenology.data import corpus\ncorpus.load_sentences('brown')"
    env = {**os.environ, "NLTK_DATA": str(nltk_data), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_truncated_corpus_zip_is_named(tmp_path):
    import os
    from pathlib import Path

    good = Path(os.environ["NLTK_DATA"]) / "corpora" / "brown.zip"
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "brown.zip").write_bytes(good.read_bytes()[:1_000_000])
    proc = _run_loader(tmp_path, tmp_path)
    assert proc.returncode != 0
    assert "DataError" in proc.stderr and "brown.zip is damaged" in proc.stderr


def test_missing_corpus_says_how_to_point_nltk_at_a_copy(tmp_path):
    proc = _run_loader(tmp_path / "empty", tmp_path)
    assert proc.returncode != 0
    assert "NLTK_DATA" in proc.stderr and "DataError" in proc.stderr

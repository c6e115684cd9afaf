import numpy as np
import pytest

from phrenology.data import vocab
from phrenology.pipeline.errors import DataError


@pytest.fixture(scope="module")
def gpt2():
    return vocab.load_encoding("gpt2")


def test_gpt2_token_ids(gpt2):
    assert gpt2.n_vocab == 50257
    assert gpt2.encode_ordinary("They sit alone in their rooms") == [
        2990,
        1650,
        3436,
        287,
        511,
        9519,
    ]


def test_token_strings_round_trip(gpt2):
    strings = vocab.token_strings(gpt2)
    assert len(strings) == 50257
    assert [strings[i] for i in (2990, 1650, 9519)] == ["They", " sit", " rooms"]


def test_full_vocabulary_is_identity():
    tokens = [f"t{i}" for i in range(10)]
    v = vocab.build_vocabulary(np.array([3, 3, 1]), tokens, None)
    assert v.size == 10 and v.unk_id is None
    assert v.encode(np.array([0, 9, 3]), 10).tolist() == [0, 9, 3]
    assert v.counts[3] == 2


def test_compact_vocabulary_keeps_most_frequent_and_maps_rest_to_unk():
    tokens = [f"t{i}" for i in range(10)]
    train = np.array([5, 5, 5, 2, 2, 7, 7, 9])  # counts: 5→3, 2→2, 7→2, 9→1
    v = vocab.build_vocabulary(train, tokens, 3)
    # ties (2 and 7, two each) are broken by GPT-2 id
    assert v.gpt2_ids.tolist() == [5, 2, 7, -1]
    assert v.tokens == ["t5", "t2", "t7", vocab.UNK]
    assert v.unk_id == 3
    assert v.counts.tolist() == [3, 2, 2, 1]  # <unk> counts the dropped occurrences
    assert v.encode(np.array([5, 7, 9, 0]), 10).tolist() == [0, 2, 3, 3]


def test_compact_vocabulary_must_be_smaller_than_tokenizer():
    with pytest.raises(DataError, match="vocab_size"):
        vocab.build_vocabulary(np.array([0]), ["a", "b"], 2)


def test_encoding_hash_is_stable(gpt2):
    assert vocab.encoding_sha256(gpt2) == vocab.encoding_sha256(vocab.load_encoding("r50k_base"))


def test_corrupt_tokenizer_cache_is_named_and_left_in_place(tmp_path, monkeypatch):
    import os
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(os.environ["TIKTOKEN_CACHE_DIR"], cache)
    bad = cache / "6d1cbeee0f20b3d9449abfede4726ed8212e3aee"  # vocab.bpe
    bad.chmod(0o644)
    bad.write_bytes(bad.read_bytes()[:-10])
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    with pytest.raises(
        DataError, match=r"6d1cbeee0f20b3d9449abfede4726ed8212e3aee \(vocab\.bpe\) fails its sha256"
    ):
        vocab.load_encoding("gpt2")
    assert bad.exists()  # tiktoken would have deleted it


def test_missing_tokenizer_cache_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # forget the encoding loaded earlier
    with pytest.raises(DataError, match="TIKTOKEN_CACHE_DIR"):
        vocab.load_encoding("gpt2")

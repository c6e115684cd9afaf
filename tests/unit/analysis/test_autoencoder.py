"""Autoencoder architecture, token-pair features, training, determinism, save/load."""

import itertools

import numpy as np
import pytest
import torch

from phrenology.analysis.autoencoder import (
    AESettings,
    build_autoencoder,
    encode,
    encoder_widths,
    layer_widths,
    load_autoencoder,
    n_dense_layers,
    reconstruction_mse,
    save_autoencoder,
    split_rows,
    train_autoencoder,
)
from phrenology.analysis.heads import (
    PatternRows,
    load_patterns,
    n_pairs,
    open_patterns,
    pair_index,
    pairs_to_square,
    pattern_rows,
)


@pytest.mark.parametrize(
    ("bottleneck", "first_width", "expected"),
    [
        (2, 128, [128, 64, 32, 16, 8, 4, 2]),
        (4, 128, [128, 64, 32, 16, 8, 4]),
        (64, 128, [128, 64]),
        (32, 64, [64, 32]),
        (3, 16, [16, 8, 4, 3]),  # not a power of two: stop halving above it, then the bottleneck
        (5, 100, [100, 50, 25, 12, 6, 5]),
        (8, 8, [8]),
    ],
)
def test_encoder_widths_halve_down_to_the_bottleneck(bottleneck, first_width, expected):
    assert encoder_widths(bottleneck, first_width) == expected


@pytest.mark.parametrize(
    ("bottleneck", "layers"), [(64, 4), (32, 6), (16, 8), (8, 10), (4, 12), (2, 14)]
)
def test_dense_layer_count_matches_paper_keras_layers(bottleneck, layers):
    assert n_dense_layers(bottleneck, 128) == layers


@pytest.mark.parametrize(("bottleneck", "first_width"), [(2, 128), (8, 32), (3, 16)])
def test_model_layers_follow_the_widths(bottleneck, first_width):
    n_features = 136
    model = build_autoencoder(n_features, bottleneck, first_width, seed=0)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    widths = layer_widths(n_features, bottleneck, first_width)
    assert shapes == list(itertools.pairwise(widths))
    assert len(linears) == n_dense_layers(bottleneck, first_width)
    assert widths[0] == widths[-1] == n_features
    assert widths == widths[::-1]  # the decoder mirrors the encoder
    # tanh after every Linear but the last; the encoder ends at the bottleneck
    tanhs = [m for m in model.modules() if isinstance(m, torch.nn.Tanh)]
    assert len(tanhs) == len(linears) - 1
    assert model.encoder[-2].out_features == bottleneck
    assert isinstance(model.encoder[-1], torch.nn.Tanh)
    assert isinstance(model.decoder[-1], torch.nn.Linear)


@pytest.mark.parametrize("n_ctx", [1, 2, 5, 16])
def test_feature_count_is_the_causal_cells(n_ctx):
    causal = [(q, k) for q in range(n_ctx) for k in range(n_ctx) if k <= q]
    assert n_pairs(n_ctx) == len(causal) == n_ctx * (n_ctx + 1) // 2
    q, k = pair_index(n_ctx)
    assert sorted(zip(q.tolist(), k.tolist(), strict=True)) == causal


def test_pattern_rows_are_prompt_major_causal_cells():
    rng = np.random.default_rng(0)
    patterns = rng.random((3, 4, 5, 5)).astype(np.float32)
    rows = pattern_rows(patterns)
    assert rows.shape == (12, 15)
    for p in range(3):
        for h in range(4):
            expected = [patterns[p, h, q, k] for q in range(5) for k in range(q + 1)]
            np.testing.assert_array_equal(rows[p * 4 + h], expected)
    square = pairs_to_square(rows[5], 5)
    np.testing.assert_array_equal(np.tril(square), np.tril(patterns[1, 1]))
    assert np.isnan(square[0, 1])


def test_split_rows_is_seeded_disjoint_and_complete():
    train, val = split_rows(100, 0.1, seed=3)
    assert len(val) == 10 and len(train) == 90
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(range(100))
    again = split_rows(100, 0.1, seed=3)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, split_rows(100, 0.1, seed=4)[1])
    train0, val0 = split_rows(10, 0.0, seed=0)
    assert len(val0) == 0 and len(train0) == 10
    assert len(split_rows(5, 0.01, seed=0)[1]) == 1  # a positive fraction holds out ≥ 1 row


def low_rank_rows(n=768, n_features=21, seed=0):
    """Rows that a 2-D code can explain: a fixed nonlinear map of 2 latent factors."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, (n, 2))
    a = rng.normal(size=(2, n_features))
    return (1 / (1 + np.exp(-2 * z @ a))).astype(np.float32)


SETTINGS = AESettings(
    first_width=16, epochs=25, batch_size=64, lr=3e-3, seed=7, validation_fraction=0.2
)


def test_training_lowers_reconstruction_error():
    rows = low_rank_rows()
    untrained = build_autoencoder(rows.shape[1], 2, SETTINGS.first_width, SETTINGS.seed)
    _, val = split_rows(len(rows), SETTINGS.validation_fraction, SETTINGS.seed)
    before = reconstruction_mse(untrained, rows[val])
    model, history, metrics = train_autoencoder(rows, 2, SETTINGS)
    assert metrics["mse"] == pytest.approx(reconstruction_mse(model, rows[val]))
    assert metrics["mse"] < 0.5 * before
    # and better than predicting every column's mean, the best a code-blind model can do
    assert metrics["mse"] < ((rows[val] - rows.mean(axis=0)) ** 2).mean()
    assert history[-1]["train_mse"] < history[0]["train_mse"]
    assert len(history) == SETTINGS.epochs
    assert metrics["n_validation"] == len(val) and metrics["n_train"] == len(rows) - len(val)
    assert metrics["n_layers"] == n_dense_layers(2, SETTINGS.first_width)
    codes = encode(model, rows)
    assert codes.shape == (len(rows), 2) and np.abs(codes).max() <= 1  # tanh bottleneck


def test_training_is_deterministic_for_a_seed():
    rows = low_rank_rows(n=256)
    settings = AESettings(16, 3, 32, 1e-3, 11, 0.1)
    a, hist_a, _ = train_autoencoder(rows, 4, settings)
    b, hist_b, _ = train_autoencoder(rows, 4, settings)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    assert hist_a == hist_b
    c, _, _ = train_autoencoder(rows, 4, AESettings(16, 3, 32, 1e-3, 12, 0.1))
    assert not torch.equal(a.state_dict()["encoder.0.weight"], c.state_dict()["encoder.0.weight"])


def pattern_files(tmp_path, heads=(2, 3, 2), n_prompts=40, n_ctx=6, dtype=np.float32):
    """Causal softmax-like patterns, one file per model (models of different head counts)."""
    rng = np.random.default_rng(5)
    paths = []
    for m, h in enumerate(heads):
        a = np.tril(rng.random((n_prompts, h, n_ctx, n_ctx)))
        np.save(tmp_path / f"m{m}.npy", (a / a.sum(-1, keepdims=True)).astype(dtype))
        paths.append(str(tmp_path / f"m{m}.npy"))
    return paths


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_pattern_rows_streamed_from_the_files_equal_the_stacked_rows(tmp_path, dtype):
    paths = pattern_files(tmp_path, dtype=dtype)
    want = pattern_rows(load_patterns(paths))
    rows = PatternRows(open_patterns(paths))
    assert rows.shape == want.shape == (40 * 7, n_pairs(6)) and len(rows) == len(want)
    index = np.random.default_rng(0).integers(0, len(want), 500)  # any order, with repeats
    got = rows.take(index)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want[index])
    np.testing.assert_array_equal(rows[3:250:7], want[3:250:7])
    np.testing.assert_array_equal(rows[:], want)


def test_pattern_rows_read_in_chunks_equal_one_read(tmp_path, monkeypatch):
    from phrenology.analysis import heads

    paths = pattern_files(tmp_path)
    index = np.random.default_rng(1).permutation(40 * 7)
    whole = PatternRows(open_patterns(paths)).take(index)
    monkeypatch.setattr(heads, "TAKE_CHUNK", 7)  # many small reads per model
    np.testing.assert_array_equal(PatternRows(open_patterns(paths)).take(index), whole)


def test_streamed_training_gives_the_same_model_as_rows_in_memory(tmp_path):
    paths = pattern_files(tmp_path)
    settings = AESettings(16, 3, 32, 1e-3, 11, 0.1)
    a, hist_a, metrics_a = train_autoencoder(pattern_rows(load_patterns(paths)), 2, settings)
    rows = PatternRows(open_patterns(paths))
    b, hist_b, metrics_b = train_autoencoder(rows, 2, settings)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name  # the same batches, bit for bit
    assert hist_a == hist_b
    assert {k: v for k, v in metrics_a.items() if k != "seconds"} == {
        k: v for k, v in metrics_b.items() if k != "seconds"
    }
    np.testing.assert_array_equal(encode(a, pattern_rows(load_patterns(paths))), encode(b, rows))


def test_save_and_load_round_trip(tmp_path):
    rows = low_rank_rows(n=64)
    model, _, metrics = train_autoencoder(rows, 2, AESettings(16, 1, 32, 1e-3, 0, 0.25))
    save_autoencoder(tmp_path / "model.pt", model, metrics)
    again = load_autoencoder(tmp_path / "model.pt")
    np.testing.assert_array_equal(encode(model, rows), encode(again, rows))


def test_load_rejects_a_foreign_file(tmp_path):
    from phrenology.pipeline.errors import DataError

    torch.save({"something": 1}, tmp_path / "x.pt")
    with pytest.raises(DataError, match="not a"):
        load_autoencoder(tmp_path / "x.pt")
    with pytest.raises(DataError, match="missing"):
        load_autoencoder(tmp_path / "absent.pt")

"""Fig. 1 data: token-pair importance by noise perturbation and the decoding grid."""

import numpy as np
import pytest
import torch

from phrenology.analysis.autoencoder import build_autoencoder, decode, encode
from phrenology.analysis.heads import pair_index
from phrenology.analysis.importance import (
    code_grid,
    decoded_grid,
    importance_table,
    perturbation_mse,
)


def test_perturbation_mse_matches_a_direct_computation():
    n_ctx = 3
    model = build_autoencoder(6, 2, 8, seed=0)
    rows = np.random.default_rng(1).random((40, 6)).astype(np.float32)
    mse, clean = perturbation_mse(model, rows, seed=9, batch_size=7)  # batching must not matter
    rng = np.random.default_rng(9)
    with torch.no_grad():
        recon = model(torch.from_numpy(rows)).numpy()
        assert clean == pytest.approx(((recon - rows) ** 2).mean(), rel=1e-5)
        for j in range(6):
            noisy = rows.copy()
            noisy[:, j] = rng.random(40, dtype=np.float32)
            out = model(torch.from_numpy(noisy)).numpy()
            assert mse[j] == pytest.approx(((out - rows) ** 2).mean(), rel=1e-5)
    table = importance_table(mse, clean, n_ctx)
    assert list(table["rank"]) == [1, 2, 3, 4, 5, 6]
    assert (np.diff(table["mse"]) <= 0).all()
    q, k = pair_index(n_ctx)
    top = int(np.argmax(mse))
    assert (table["query"][0], table["key"][0]) == (q[top], k[top])
    np.testing.assert_allclose(table["mse_increase"], table["mse"] - clean)


def test_a_column_the_model_ignores_is_least_important():
    # weights reading column 0 set to zero: noise there cannot change the output
    model = build_autoencoder(3, 1, 4, seed=0)
    with torch.no_grad():
        model.encoder[0].weight[:, 0] = 0
    rows = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    mse, clean = perturbation_mse(model, rows, seed=0)
    assert mse[0] == pytest.approx(clean, rel=1e-6)
    assert abs(mse[1] - clean) > 1e-6 and abs(mse[2] - clean) > 1e-6  # the others matter


def test_code_grid_spans_the_codes_and_holds_other_axes_at_their_mean():
    codes = np.random.default_rng(0).uniform(-0.5, 0.8, (100, 4)).astype(np.float32)
    a1, a2, grid = code_grid(codes, 5)
    assert grid.shape == (25, 4)
    assert a1[0] == pytest.approx(codes[:, 0].min()) and a1[-1] == pytest.approx(codes[:, 0].max())
    assert a2[0] == pytest.approx(codes[:, 1].min()) and a2[-1] == pytest.approx(codes[:, 1].max())
    np.testing.assert_allclose(grid[:, 2:], np.tile(codes[:, 2:].mean(axis=0), (25, 1)), rtol=1e-6)
    assert len(np.unique(grid[:, 0])) == 5 and len(np.unique(grid[:, 1])) == 5
    _, a2_one, grid_one = code_grid(codes[:, :1], 4)  # 1-D bottleneck: a single line
    assert grid_one.shape == (4, 1) and len(a2_one) == 1


def test_decoded_grid_reports_the_decoder_output_of_the_top_pairs():
    n_ctx = 3
    model = build_autoencoder(6, 2, 8, seed=0)
    rows = np.random.default_rng(1).random((30, 6)).astype(np.float32)
    mse, clean = perturbation_mse(model, rows, seed=0)
    ranked = importance_table(mse, clean, n_ctx)
    codes = encode(model, rows)
    grid = decoded_grid(model, codes, ranked, n_ctx, n_top=2, grid_size=3)
    assert len(grid) == 2 * 9 and sorted(grid["rank"].unique()) == [1, 2]
    q, k = pair_index(n_ctx)
    row = grid.iloc[4]
    column = next(j for j in range(6) if (q[j], k[j]) == (row["query"], row["key"]))
    expected = decode(model, np.array([[row["code1"], row["code2"]]], dtype=np.float32))[0, column]
    assert row["value"] == pytest.approx(expected, abs=1e-6)  # batched vs single-row float32


@pytest.mark.parametrize("in_memory_bytes", [0, 1 << 30], ids=["streamed", "read-once"])
def test_rows_from_the_memory_maps_give_the_same_importance(tmp_path, in_memory_bytes):
    # 0 bytes: every column is a pass over the files, batch by batch (bounded memory)
    from test_autoencoder import pattern_files

    from phrenology.analysis.heads import PatternRows, load_patterns, open_patterns, pattern_rows

    paths = pattern_files(tmp_path)
    in_memory = pattern_rows(load_patterns(paths))
    model = build_autoencoder(in_memory.shape[1], 2, 8, seed=0)
    want = perturbation_mse(model, in_memory, seed=3, batch_size=64)
    rows = PatternRows(open_patterns(paths))
    got = perturbation_mse(model, rows, seed=3, batch_size=64, in_memory_bytes=in_memory_bytes)
    np.testing.assert_array_equal(got[0], want[0])  # the same batches, bit for bit
    assert got[1] == want[1]
    np.testing.assert_array_equal(encode(model, rows, batch_size=64), encode(model, in_memory))

"""heads.tsv and the attention files are checked against the config before any comparison."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.heads import head_table, load_head_patterns, load_heads
from phrenology.pipeline import io
from phrenology.pipeline.errors import DataError


def write_inputs(tmp_path, seeds=(3, 4), n_layers=2, n_heads=3, n_prompts=2, n_ctx=4):
    paths = []
    for i, seed in enumerate(seeds):
        path = tmp_path / f"seed{seed}.npy"
        np.save(path, np.full((n_prompts, n_layers * n_heads, n_ctx, n_ctx), i, np.float32))
        paths.append(str(path))
    heads_path = tmp_path / "heads.tsv"
    io.write_tsv(heads_path, head_table(list(seeds), n_layers, n_heads))
    return paths, str(heads_path)


def test_patterns_come_back_in_heads_order(tmp_path):
    paths, heads_path = write_inputs(tmp_path)
    patterns, heads = load_head_patterns(paths, heads_path, [3, 4], 2, 3)
    assert patterns.shape == (2, 12, 4, 4)
    assert list(heads["seed"]) == [3] * 6 + [4] * 6
    np.testing.assert_array_equal(patterns[0, :, 0, 0], [0] * 6 + [1] * 6)


def test_heads_table_from_another_config_is_rejected(tmp_path):
    _, heads_path = write_inputs(tmp_path)
    with pytest.raises(DataError, match=r"heads\.tsv does not list 2 seeds × 2 layers × 4 heads"):
        load_heads(heads_path, [3, 4], 2, 4)
    with pytest.raises(DataError, match="does not list"):
        load_heads(heads_path, [4, 3], 2, 3)  # same heads, other seed order


def test_attention_file_of_the_wrong_size_is_rejected(tmp_path):
    paths, heads_path = write_inputs(tmp_path, n_heads=3)  # files hold 2 × 3 heads per model
    (tmp_path / "other").mkdir()
    _, heads4_path = write_inputs(tmp_path / "other", n_heads=4)  # a heads.tsv for 4 heads
    with pytest.raises(DataError, match="holds 6 heads, expected 8"):
        load_head_patterns(paths, heads4_path, [3, 4], 2, 4)
    with pytest.raises(DataError, match="2 attention files for 3 seeds"):
        load_head_patterns(paths, heads_path, [3, 4, 5], 2, 3)

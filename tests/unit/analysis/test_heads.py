import numpy as np

from phrenology.analysis.heads import head_label, head_table, head_vectors, load_patterns


def test_head_table_is_seed_major_then_layer_then_head():
    table = head_table([7, 3], n_layers=2, n_heads=3)
    assert len(table) == 12
    assert table.columns.tolist() == ["head_index", "seed", "layer", "head"]
    assert table.iloc[4].tolist() == [4, 7, 1, 1]
    assert table.iloc[6].tolist() == [6, 3, 0, 0]
    assert head_label(990, 0, 1) == "990 L0H1"


def test_stacked_patterns_follow_the_head_table(tmp_path):
    rng = np.random.default_rng(0)
    per_seed = [rng.random((5, 6, 4, 4), dtype=np.float32) for _ in range(2)]  # 2 layers × 3 heads
    paths = []
    for i, a in enumerate(per_seed):
        paths.append(str(tmp_path / f"seed{i}.npy"))
        np.save(paths[-1], a)
    patterns = load_patterns(paths, heads_per_model=6)
    table = head_table([0, 1], 2, 3)
    for row in table.itertuples():
        np.testing.assert_array_equal(
            patterns[:, row.head_index], per_seed[row.seed][:, row.layer * 3 + row.head]
        )
    vectors = head_vectors(patterns)
    assert vectors.shape == (12, 5 * 16)
    np.testing.assert_array_equal(vectors[7], patterns[:, 7].reshape(-1))

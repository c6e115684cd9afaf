import numpy as np
import pytest

from phrenology.pipeline import io
from phrenology.pipeline.errors import DataError


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.npy"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        np.save(tmp, np.zeros(3))
        assert tmp.exists() and tmp.suffix == ".npy"
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary left behind either
    io.save_npy(target, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]


def test_memmap_writer_streams_to_the_final_name(tmp_path):
    target = tmp_path / "big.npy"
    with io.npy_memmap(target, (4, 3)) as arr:
        assert not target.exists()
        arr[:2] = 1.0
        arr[2:] = 2.0
    np.testing.assert_array_equal(
        np.load(target), np.repeat([[1.0], [1.0], [2.0], [2.0]], 3, axis=1)
    )


def test_load_npy_checks_shape_and_detects_truncation(tmp_path):
    path = tmp_path / "a.npy"
    io.save_npy(path, np.zeros((4, 2, 3, 3), dtype=np.float32))
    assert io.load_npy(path, shape=(None, 2, 3, 3)).shape == (4, 2, 3, 3)
    with pytest.raises(DataError, match=r"shape \(4, 2, 3, 3\), expected \(\*, 8, 3, 3\)"):
        io.load_npy(path, shape=(None, 8, 3, 3))
    with pytest.raises(DataError, match="expected 2"):
        io.load_npy(path, ndim=2)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated"):
        io.load_npy(path)
    with pytest.raises(DataError, match="missing"):
        io.load_npy(tmp_path / "none.npy")


def test_tsv_keeps_tokens_that_look_like_missing_values(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"token": ["NaN", "null", "\t", "a\nb", " the"], "id": range(5)})
    io.write_tsv(tmp_path / "v.tsv", frame)
    back = io.read_tsv(tmp_path / "v.tsv", columns=["token", "id"])
    assert back["token"].tolist() == frame["token"].tolist()
    with pytest.raises(DataError, match="lacks columns"):
        io.read_tsv(tmp_path / "v.tsv", columns=["count"])

"""File I/O that never leaves a half-written result under its final name.

Every writer goes through :func:`atomic_path`: the data are written to a hidden
temporary sibling and renamed onto the final name only when complete, so a job
killed mid-write leaves no file that looks finished. Readers check what they
load and raise :class:`DataError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

REBUILD_HINT = "delete it and rerun the pipeline to rebuild it"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps the suffix, because numpy and matplotlib choose the
    format (or append an extension) from it.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(final)
    tmp = final.with_name(f".{final.stem}.partial-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)  # atomic on POSIX within one filesystem
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_partials(final: Path) -> None:
    """Delete temporaries of ``final`` left by writers that were killed (kill -9, OOM, node loss).

    Only those whose process is gone on this host: Snakemake runs one job per output at a
    time, and a live writer's temporary must not be touched.
    """
    prefix, suffix = f".{final.stem}.partial-", final.suffix
    for leftover in final.parent.glob(f"{prefix}*{suffix}"):
        pid = leftover.name[len(prefix) : len(leftover.name) - len(suffix)]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _existing(path: str | os.PathLike) -> Path:
    """``path`` as a Path; DataError naming it when there is no such file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing; rerun the pipeline to produce it")
    return path


def _require_columns(path: Path, frame: pd.DataFrame, columns: Sequence[str] | None) -> None:
    """DataError naming ``path`` when the table read from it lacks any of ``columns``."""
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{path} lacks columns {missing}; {REBUILD_HINT}")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)


@contextlib.contextmanager
def npy_memmap(
    path: str | os.PathLike, shape: Sequence[int], dtype: Any = np.float32
) -> Iterator[np.memmap]:
    """A writable, disk-backed ``.npy`` array: fill it in slices, renamed into place on success.

    Lets a job stream results larger than RAM straight to their final format.
    """
    with atomic_path(path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
        try:
            yield array
            array.flush()
        finally:
            del array


def load_npy(
    path: str | os.PathLike,
    *,
    shape: Sequence[int | None] | None = None,
    ndim: int | None = None,
    mmap: bool = False,
) -> np.ndarray:
    """Load a ``.npy`` file, checking it is complete and of the expected shape.

    ``shape`` may hold ``None`` for a free axis.
    """
    path = _existing(path)
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path} is truncated or not a .npy file ({e}); {REBUILD_HINT}") from e
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{path} has {array.ndim} dimensions, expected {ndim}; {REBUILD_HINT}")
    if shape is not None:
        ok = len(shape) == array.ndim and all(
            want is None or want == got for want, got in zip(shape, array.shape, strict=False)
        )
        if not ok:
            want = ", ".join("*" if s is None else str(s) for s in shape)
            raise DataError(f"{path} has shape {array.shape}, expected ({want}); {REBUILD_HINT}")
    return array


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` atomically, to a file object: given a path, torch names the archive's
    root folder after the file, i.e. after the temporary (with its pid), and identical
    tensors would give different bytes from run to run."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def load_torch(path: str | os.PathLike, what: str) -> Any:
    """``torch.load`` (tensors and plain data only) with the checks every reader needs:
    a missing file or one that is not a readable torch file ("a truncated zip", "a pickle
    error") becomes a DataError naming the file and ``what`` it should have been."""
    import torch

    path = _existing(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, another format, pickle error
        raise DataError(
            f"{path} is not a readable {what} ({type(e).__name__}: {e}); {REBUILD_HINT}"
        ) from e


def write_tsv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.8g")


def read_tsv(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    path = _existing(path)
    # keep_default_na=False: a token such as "NaN" or "null" is text, not a missing value
    try:
        frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError) as e:  # empty, binary or garbled (ParserError)
        raise DataError(f"{path} is not a readable table ({e}); {REBUILD_HINT}") from e
    _require_columns(path, frame, columns)
    return frame


def read_parquet(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A Parquet table, checked: missing, truncated or lacking ``columns`` → DataError."""
    import pandas as pd

    path = _existing(path)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path} is truncated or not a Parquet file ({e}); {REBUILD_HINT}") from e
    _require_columns(path, frame, columns)
    return frame


def write_parquet(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise DataError(f"{path} is missing; rerun the pipeline to produce it") from e
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); {REBUILD_HINT}") from e


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()

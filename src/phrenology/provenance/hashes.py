"""Content hashes of a run's tensors and tables, to show that two runs gave the same numbers.

``phrenology hashes`` writes one line per product — ``path, sha256`` — and compares two such
manifests. What a rerun is expected to change is left out of the hash, nothing else:

* fields that time the run or name the machine (:data:`VOLATILE_KEYS`: ``seconds``,
  ``tokens_per_s``, ``device``, and ``file``, the corpus file's path, whose sha256 is kept);
* figures (PNG metadata records when and where a job ran: :mod:`phrenology.provenance.records`),
  provenance records (``*.prov.json``) and their summaries for the HTML report
  (``results/report/``), logs and resumable checkpoints.

``.npy`` and ``.parquet`` files are hashed byte for byte; tables, JSON and torch files by their
content without the volatile fields.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phrenology.pipeline.errors import DataError

VOLATILE_KEYS = frozenset({"seconds", "tokens_per_s", "device", "file"})
BYTE_HASHED_SUFFIXES = (".npy", ".parquet", ".md", ".rst")  # no volatile fields: the bytes
HASHED_SUFFIXES = (*BYTE_HASHED_SUFFIXES, ".tsv", ".json", ".pt")
SKIPPED = (".prov.json",)
SKIPPED_DIRS = ("checkpoints", "report")  # resumable state; provenance summaries
MANIFEST_NAME = "hashes.tsv"  # a manifest kept beside the results is not itself hashed


def _stable(value: Any) -> Any:
    """JSON-able form of a loaded object without volatile keys; tensors become their hash."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"dtype": str(data.dtype), "shape": list(data.shape),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}  # fmt: skip
    if isinstance(value, float) and value != value:
        return "nan"
    return value


def _digest(value: Any) -> str:
    blob = json.dumps(_stable(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of a product's content, volatile fields left out (see the module docstring)."""
    from phrenology.pipeline.io import read_json, read_tsv, sha256_file

    path = Path(path)
    if path.suffix in BYTE_HASHED_SUFFIXES:
        return sha256_file(path)
    if path.suffix == ".json":
        return _digest(read_json(path))
    if path.suffix == ".tsv":
        frame = read_tsv(path)
        volatile = [c for c in frame.columns if c in VOLATILE_KEYS]
        if not volatile:
            return sha256_file(path)
        text = frame.drop(columns=volatile).to_csv(sep="\t", index=False)
        return hashlib.sha256(text.encode()).hexdigest()
    if path.suffix == ".pt":
        import torch

        try:
            return _digest(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as e:
            raise DataError(f"{path} is not a readable torch file ({e})") from e
    raise DataError(f"{path}: no content hash for {path.suffix} files")


def products(results: str | os.PathLike) -> list[Path]:
    """Every hashed product under ``results``, sorted; hidden files (temporaries) excluded."""
    results = Path(results)
    if not results.is_dir():
        raise DataError(f"{results} is not a folder of results")
    found = []
    for path in results.rglob("*"):
        rel = path.relative_to(results)
        if (
            path.is_file()
            and path.suffix in HASHED_SUFFIXES
            and not path.name.endswith(SKIPPED)
            and not any(part.startswith(".") for part in rel.parts)
            and rel.parts[0] not in SKIPPED_DIRS
            and rel != Path(MANIFEST_NAME)
        ):
            found.append(path)
    return sorted(found)


def manifest(results: str | os.PathLike) -> dict[str, str]:
    """{path relative to the parent of ``results`` (e.g. ``results/heads.tsv``): content hash}."""
    base = Path(results).parent
    return {str(p.relative_to(base)): content_hash(p) for p in products(results)}


def write_manifest(path: str | os.PathLike, hashes: Mapping[str, str]) -> None:
    from phrenology.pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{p}\t{h}\n" for p, h in sorted(hashes.items())))


def read_manifest(path: str | os.PathLike) -> dict[str, str]:
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read the hash manifest {path} ({e})") from e
    out = {}
    for n, line in enumerate(lines, 1):
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[1]) != 64:
            raise DataError(f"{path}:{n} is not a 'path<TAB>sha256' line")
        out[parts[0]] = parts[1]
    return out


def compare(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, list[str]]:
    """``differ``: paths in both with different hashes; ``only_a`` / ``only_b``: in one only."""
    return {
        "differ": sorted(p for p in a.keys() & b.keys() if a[p] != b[p]),
        "only_a": sorted(a.keys() - b.keys()),
        "only_b": sorted(b.keys() - a.keys()),
    }

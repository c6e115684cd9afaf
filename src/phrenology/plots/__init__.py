"""Shared figure plumbing: one look for every figure, model colours, atomic PNG writes.

Each figure module draws on a Matplotlib ``Figure`` built from arrays and tables;
:func:`save_figure` writes it atomically (and is the one place PNG metadata is
added). Figures must stand on their own: axis labels, a title, a legend or colour
bar, and model / head identities.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 150


def new_figure(width: float = 7.0, height: float = 5.0, **kwargs) -> Figure:
    """A Figure not attached to pyplot's global state (safe in jobs and tests)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained", **kwargs)


def model_colors(seeds: Sequence[int]) -> dict[int, tuple[float, float, float, float]]:
    """A distinct colour per model seed (tab10, then tab20 for more than ten models)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(seeds) <= 10 else "tab20"]
    return {seed: cmap(i % cmap.N) for i, seed in enumerate(seeds)}


def save_figure(
    fig: Figure, path: str | os.PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``fig`` as PNG atomically; ``metadata`` becomes PNG text chunks.

    Inside a Snakemake job a PNG also gets the job's key provenance (rule, git commit,
    config hash, input hashes; see :mod:`phrenology.provenance.records`); read it back with
    ``PIL.Image.open(path).text``.
    """
    from phrenology.pipeline.io import atomic_path

    with atomic_path(path) as tmp:
        embedded = _provenance_metadata() if tmp.suffix.lower() == ".png" else {}
        fig.savefig(tmp, dpi=DPI, metadata={**embedded, **(metadata or {})})


def _provenance_metadata() -> dict[str, str]:
    from phrenology.provenance import records

    try:
        return records.png_metadata()
    except Exception as e:  # a figure without embedded provenance beats a failed job
        print(f"warning: no provenance embedded in the figure ({e!r})", file=sys.stderr)
        return {}

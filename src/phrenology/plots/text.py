"""Token text made safe and readable as Matplotlib labels, and labels placed without overlap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def display_token(token: str) -> str:
    """Token text for a tick label or annotation.

    GPT-2 tokens carry their leading space (" the"); it is dropped for readability.
    Whitespace-only tokens are shown escaped ("\\n") or as "␣", and "$" is escaped so
    Matplotlib does not read the text as mathtext.
    """
    text = token.strip()
    if not text:
        text = token.encode("unicode_escape").decode("ascii").replace(" ", "␣") or "∅"
    return text.replace("$", r"\$")


def wrap_title(text: str, width_inches: float, fontsize: float = 10.0) -> str:
    """Break each line of ``text`` so that it fits ``width_inches`` at ``fontsize`` points.

    Keeps long titles and captions inside small figures (e.g. a toy with few prompts).
    """
    import textwrap

    chars = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def non_overlapping(anchors: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Which labels to draw so that no two drawn labels overlap (greedy, in the given order).

    anchors: float[n, 2] lower-left corner of each label's box; sizes: float[n, 2] its
    width and height, both in the same display units (points) → bool[n]. Put the labels
    that matter most first: each is kept unless its box meets the box of one kept before.
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    keep = np.zeros(len(anchors), dtype=bool)
    for i, (lo, size) in enumerate(zip(anchors, sizes, strict=True)):
        kept_lo, kept_hi = anchors[keep], anchors[keep] + sizes[keep]
        meets = np.all((lo < kept_hi) & (kept_lo < lo + size), axis=1)
        keep[i] = not meets.any()
    return keep


def annotate_without_overlap(
    ax: Axes,
    xy: np.ndarray,
    labels: Sequence[str],
    fontsize: float,
    offset: tuple[float, float] = (2.0, 2.0),
    colors: Sequence[Any] | None = None,
    **text_kw: Any,
) -> int:
    """Label the points xy: float[n, 2] (data coordinates) where the labels do not overlap.

    Call once the axis limits are final (after plotting and margins): the boxes are
    measured in points on the laid-out figure, estimated from the label length. Dense
    clusters of 72 heads otherwise turn into an unreadable blot. Returns how many labels
    were left out, so that the figure can say so.
    """
    if len(labels) == 0:
        return 0
    fig = ax.get_figure()
    fig.draw_without_rendering()  # settle the layout so that transData is the final one
    anchors = ax.transData.transform(np.asarray(xy, dtype=float)) * 72.0 / fig.dpi
    anchors = anchors + np.asarray(offset)
    # Average glyph ≈ 0.6 em wide; line ≈ 1.2 em high (DejaVu Sans).
    sizes = np.array([[0.6 * fontsize * max(len(lab), 1), 1.2 * fontsize] for lab in labels])
    keep = non_overlapping(anchors, sizes)
    for i in np.flatnonzero(keep):
        if colors is not None:
            text_kw["color"] = colors[i]
        ax.annotate(labels[i], tuple(xy[i]), xytext=offset, textcoords="offset points",
                    fontsize=fontsize, **text_kw)  # fmt: skip
    return int((~keep).sum())


def omitted_note(n_omitted: int, n_total: int) -> str:
    """Caption text for labels left out by :func:`annotate_without_overlap` ('' when none)."""
    if n_omitted == 0:
        return ""
    return f"{n_total - n_omitted} of {n_total} points labelled; labels that would overlap are left out"

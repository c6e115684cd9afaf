"""Label placement without overlap (phrenology.plots.text)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np

from phrenology.plots import new_figure
from phrenology.plots.text import annotate_without_overlap, non_overlapping, omitted_note


def test_a_box_that_meets_an_earlier_kept_box_is_dropped():
    anchors = np.array([[0, 0], [5, 5], [20, 0], [10, 0]])
    sizes = np.full((4, 2), 10.0)
    # box 1 meets box 0; box 2 is clear; box 3 (x 10–20) only touches box 0 (x 0–10) and
    # box 2 (x 20–30) at their edges, which is not an overlap
    assert non_overlapping(anchors, sizes).tolist() == [True, False, True, True]


def test_order_decides_which_of_two_overlapping_labels_is_kept():
    anchors = np.array([[0, 0], [1, 1]])
    sizes = np.full((2, 2), 5.0)
    assert non_overlapping(anchors, sizes).tolist() == [True, False]
    assert non_overlapping(anchors[::-1], sizes).tolist() == [True, False]


def test_a_box_dropped_does_not_block_later_ones():
    # 1 overlaps 0 and is dropped; 2 overlaps only 1, so it is kept
    anchors = np.array([[0, 0], [8, 0], [16, 0]])
    sizes = np.array([[10, 5], [10, 5], [10, 5]])
    assert non_overlapping(anchors, sizes).tolist() == [True, False, True]


def _labels_drawn(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_points_on_top_of_each_other_get_one_label():
    fig = new_figure(4, 4)
    ax = fig.add_subplot()
    xy = np.zeros((20, 2)) + np.linspace(0, 1e-3, 20)[:, None]
    ax.scatter(xy[:, 0], xy[:, 1])
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    omitted = annotate_without_overlap(ax, xy, [f"head {i}" for i in range(20)], 8.0)
    assert _labels_drawn(ax) == ["head 0"]
    assert omitted == 19
    assert omitted_note(omitted, 20).startswith("1 of 20 points labelled")


def test_points_far_apart_are_all_labelled():
    fig = new_figure(6, 6)
    ax = fig.add_subplot()
    xy = np.array([[0, 0], [1, 1], [2, 2], [3, 0], [0, 3]], dtype=float)
    ax.scatter(xy[:, 0], xy[:, 1])
    colors = ["red", "green", "blue", "black", "grey"]
    omitted = annotate_without_overlap(ax, xy, list("abcde"), 8.0, colors=colors)
    assert omitted == 0 and omitted_note(0, 5) == ""
    assert _labels_drawn(ax) == list("abcde")
    assert [t.get_color() for t in ax.texts] == colors


def test_no_points_no_labels():
    fig = new_figure(3, 3)
    ax = fig.add_subplot()
    assert annotate_without_overlap(ax, np.zeros((0, 2)), [], 8.0) == 0
    assert _labels_drawn(ax) == []

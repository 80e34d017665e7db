"""Slice propagation's pure parts: the stop rule, prompts from a mask, the walk (with a scripted
step: where the object ends the walk stops, and that slice is not kept), ranges, mask input."""

from __future__ import annotations

import numpy as np

from segmentation.propagation import (
    StepOutput,
    StopRule,
    mask_to_low_res,
    prompts_from_mask,
    propagate_direction,
    stop_reason,
    walk_indices,
)


def disc(radius: float, size: int = 64, cx: float = 32, cy: float = 32) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def out(mask: np.ndarray, iou: float = 0.9, stability: float = 0.95) -> StepOutput:
    return StepOutput(mask=mask, predicted_iou=iou, stability=stability)


def test_stop_rule_names_each_reason():
    rule = StopRule()
    area = int(disc(10).sum())
    assert stop_reason(out(disc(10)), area, rule) is None
    assert "object ended" in stop_reason(out(np.zeros((64, 64), bool)), area, rule)
    assert "predicted IoU 0.40" in stop_reason(out(disc(10), iou=0.4), area, rule)
    assert "stability" in stop_reason(out(disc(10), stability=0.3), area, rule)
    assert "stability" in stop_reason(out(disc(10), stability=float("nan")), area, rule)
    assert "area changed" in stop_reason(out(disc(20)), area, rule)  # 4x larger: leaked
    assert "area changed" in stop_reason(out(disc(5)), area, rule)  # a quarter: another object
    assert stop_reason(out(disc(11)), area, rule) is None  # a real object grows slowly


def test_prompts_are_the_box_and_interior_points():
    mask = np.zeros((40, 60), bool)
    mask[10:30, 5:45] = True
    prompts = prompts_from_mask(mask, points=3)
    assert prompts["box"] == [5, 10, 45, 30]
    assert len(prompts["points"]) == 3
    for x, y in prompts["points"]:
        assert mask[y, x]
    assert prompts["points"][0] == [24, 19] or mask[19, 24]  # the deepest point first
    assert prompts_from_mask(np.zeros((5, 5), bool)) == {"box": None, "points": []}


def test_walk_stops_where_the_object_ends_and_keeps_what_came_before():
    radii = {21: 10, 22: 9, 23: 8, 24: 0, 25: 8}  # the object ends at slice 24
    seen = []

    def step(index, previous, prompts):
        seen.append((index, int(previous.sum()), prompts["box"]))
        return out(disc(radii[index]) if radii[index] else np.zeros((64, 64), bool))

    result = propagate_direction(step, seed_mask=disc(10), indices=[21, 22, 23, 24, 25], rule=StopRule())
    assert [s.index for s in result.slices] == [21, 22, 23]
    assert result.stop_reason.startswith("slice 24: object ended")
    assert [i for i, *_ in seen] == [21, 22, 23, 24]  # slice 25 never tried
    assert seen[1][1] == int(disc(10).sum())  # each step gets the previous slice's mask
    assert seen[2][1] == int(disc(9).sum())


def test_walk_ends_at_the_range():
    result = propagate_direction(lambda i, p, q: out(disc(10)), seed_mask=disc(10), indices=[3, 4], rule=StopRule())
    assert [s.index for s in result.slices] == [3, 4] and "range" in result.stop_reason


def test_walk_indices_both_ways_within_range_and_series():
    assert walk_indices(5, 10, 2) == ([6, 7], [4, 3])
    assert walk_indices(0, 3, 20) == ([1, 2], [])
    assert walk_indices(2, 3, 20) == ([], [1, 0])


def test_mask_input_follows_the_encoders_resize_and_padding():
    mask = np.zeros((100, 200), bool)
    mask[:, :100] = True  # left half
    low = mask_to_low_res(mask, img_size=512, low_res_side=128)
    assert low.shape == (1, 1, 128, 128) and low.dtype == np.float32
    # The image fills the top half of the padded square; its left half is inside.
    assert low[0, 0, 10, 10] > 0 and low[0, 0, 10, 100] < 0 and low[0, 0, 100, 10] < 0

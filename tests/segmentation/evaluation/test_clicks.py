"""The click simulator on hand-made masks (no model, no database)."""

import numpy as np
import pytest

from segmentation.evaluation.clicks import Click, EvalObject, iou, next_click, noc, simulate, summarize


def _obj(fg: np.ndarray, ignore: np.ndarray | None = None) -> EvalObject:
    return EvalObject("img", fg, np.zeros_like(fg) if ignore is None else ignore)


def _square(size=100, y0=20, y1=60, x0=30, x1=80) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[y0:y1, x0:x1] = True
    return m


class FixedPredictor:
    """Returns a fixed mask per object, recording the clicks it was given."""

    def __init__(self, masks):
        self.masks, self.seen = masks, []

    def predict(self, requests):
        self.seen.extend(requests)
        return [self.masks[i] for i, _ in requests]


def test_perfect_predictor_scores_one_at_the_first_click():
    objects = [_obj(_square()), _obj(_square(y0=5, y1=15))]
    ious = simulate(FixedPredictor([o.foreground for o in objects]), objects, max_clicks=5)
    assert ious[:, 0] == pytest.approx([1.0, 1.0])
    assert list(noc(ious, 0.9)) == [1, 1]
    assert summarize(ious)["NoC@90"] == 1.0


def test_empty_predictor_scores_zero_and_needs_max_clicks():
    objects = [_obj(_square())]
    predictor = FixedPredictor([np.zeros((100, 100), bool)])
    ious = simulate(predictor, objects, max_clicks=4)
    assert ious.tolist() == [[0.0, 0.0, 0.0, 0.0]]
    assert noc(ious, 0.85)[0] == 4
    summary = summarize(ious)
    assert summary["mIoU@1"] == 0.0 and summary["fail@90"] == 1.0
    # Every click of an unchanged empty prediction is a positive one at the object's centre.
    last_clicks = predictor.seen[-1][1]
    assert len(last_clicks) == 4 and all(c.positive for c in last_clicks)


def test_first_click_is_the_object_point_farthest_from_its_border():
    click = next_click(np.zeros((100, 100), bool), _obj(_square(x1=70)))
    assert click is not None and click.positive
    assert 38 <= click.y <= 41 and 48 <= click.x <= 51  # centre of rows 20..59, cols 30..69


def test_click_goes_to_the_largest_error_region():
    fg = _square(y0=10, y1=30, x0=10, x1=30) | _square(y0=50, y1=90, x0=50, x1=90)
    pred = fg.copy()
    pred[50:90, 50:90] = False  # big missed region (40x40)
    pred[0:8, 90:98] = True  # small false positive (8x8)
    click = next_click(pred, _obj(fg))
    assert click.positive and 50 <= click.y < 90 and 50 <= click.x < 90
    assert abs(click.y - 69.5) <= 1.5 and abs(click.x - 69.5) <= 1.5


def test_negative_click_on_a_larger_false_positive():
    fg = _square()
    pred = fg.copy()
    pred[70:100, 0:30] = True  # false positive touching the image corner
    click = next_click(pred, _obj(fg))
    assert not click.positive and 70 <= click.y < 100 and 0 <= click.x < 30
    # The image edge counts as a border: the click is not pushed into the corner.
    assert click.y < 95 and click.x > 5


def test_ignored_pixels_count_neither_way():
    fg = _square()
    ignore = np.zeros_like(fg)
    ignore[60:70, 30:80] = True
    pred = fg | ignore
    assert iou(pred, _obj(fg, ignore)) == 1.0
    assert next_click(pred, _obj(fg, ignore)) is None


def test_noc_counts_the_first_click_reaching_the_threshold():
    ious = np.array([[0.5, 0.86, 0.91, 0.95], [0.2, 0.3, 0.4, 0.5]])
    assert noc(ious, 0.85).tolist() == [2, 4]
    assert noc(ious, 0.90).tolist() == [3, 4]


def test_clicks_are_recorded_in_order():
    obj = _obj(_square())
    predictor = FixedPredictor([np.zeros((100, 100), bool)])
    simulate(predictor, [obj], max_clicks=2)
    assert isinstance(predictor.seen[0][1][0], Click)
    assert len(predictor.seen[0][1]) == 1 and len(predictor.seen[1][1]) == 2

"""Pure geometry: mask <-> polygons (holes, several parts) <-> COCO RLE, bbox, area."""

import cv2
import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator import geometry


def ring_mask():
    mask = np.zeros((40, 50), np.uint8)
    mask[5:30, 5:35] = 1  # outer square
    mask[12:20, 12:22] = 0  # hole
    mask[14:17, 15:18] = 1  # island inside the hole: a separate part
    mask[33:38, 40:48] = 1  # another part
    return mask


def test_mask_to_polygons_parts_and_holes():
    polygons = geometry.mask_to_polygons(ring_mask())
    assert len(polygons) == 3
    assert sorted(len(part) for part in polygons) == [1, 1, 2]  # one part has one hole
    for part in polygons:
        for ring in part:
            assert len(ring) >= 6 and len(ring) % 2 == 0


@pytest.mark.parametrize("seed", range(8))
def test_mask_polygon_round_trip_is_exact(seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((64, 80), np.uint8)
    for _ in range(5):
        center = (int(rng.integers(0, 80)), int(rng.integers(0, 64)))
        cv2.ellipse(
            mask,
            center,
            (int(rng.integers(2, 20)), int(rng.integers(2, 14))),
            float(rng.integers(0, 180)),
            0,
            360,
            1,
            -1,
        )
    cv2.circle(mask, (40, 32), 5, 0, -1)
    mask[0, 0] = 1  # single pixel at a corner
    mask[63, 79] = 1
    back = geometry.polygons_to_mask(geometry.mask_to_polygons(mask), width=80, height=64)
    assert np.array_equal(mask, back)


def test_epsilon_simplifies_with_fewer_points_and_high_iou():
    mask = np.zeros((200, 200), np.uint8)
    cv2.circle(mask, (100, 100), 80, 1, -1)
    exact = geometry.mask_to_polygons(mask)
    simple = geometry.mask_to_polygons(mask, epsilon=1.5)
    assert len(simple[0][0]) < len(exact[0][0]) / 2
    assert geometry.mask_iou(mask, geometry.polygons_to_mask(simple, width=200, height=200)) > 0.98


def test_min_area_drops_specks():
    mask = ring_mask()
    mask[0, 49] = 1
    assert len(geometry.mask_to_polygons(mask)) == 4
    assert len(geometry.mask_to_polygons(mask, min_area=4)) == 3


def test_empty_mask_has_no_polygons():
    assert geometry.mask_to_polygons(np.zeros((5, 5), np.uint8)) == []


def test_hand_drawn_polygon_rasterizes_like_pycocotools():
    ring = [2.3, 1.7, 17.9, 4.2, 12.5, 14.8, 3.1, 11.0]
    expected = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([ring], 20, 25)))
    assert np.array_equal(geometry.polygons_to_mask([[ring]], width=25, height=20), expected)


def test_hole_is_subtracted_and_parts_unite():
    polygons = [[[0, 0, 10, 0, 10, 10, 0, 10], [3, 3, 7, 3, 7, 7, 3, 7]], [[12, 0, 14, 0, 14, 2, 12, 2]]]
    mask = geometry.polygons_to_mask(polygons, width=16, height=12)
    assert mask.sum() == 100 - 16 + 4
    assert mask[5, 5] == 0 and mask[1, 1] == 1 and mask[1, 13] == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' decode under numpy 2
@pytest.mark.parametrize("seed", range(4))
def test_polygons_to_rle_without_holes_equals_encoding_the_dense_mask(seed):
    # The fast path (RLE union, no dense mask) must give exactly the runs of the dense one, also for
    # parts that overlap, touch the border or lie partly outside it.
    rng = np.random.default_rng(seed)
    for _ in range(200):
        width, height = (int(v) for v in rng.integers(1, 200, size=2))
        polygons = [
            [list(np.round(rng.uniform(-0.5, [width + 0.5, height + 0.5], size=(rng.integers(3, 10), 2)), 2).ravel())]
            for _ in range(rng.integers(1, 4))
        ]
        dense = geometry.rle_encode(geometry.polygons_to_mask(polygons, width=width, height=height))
        assert geometry.polygons_to_rle(polygons, width=width, height=height) == dense


def test_polygons_to_rle_without_holes_builds_no_dense_mask(monkeypatch):
    # A save of a hole-free polygon on a large image once rasterised and re-encoded the whole image
    # (~10 ms of ~25 ms CPU per save, bench/load_saves.py); with a hole it still does.
    monkeypatch.setattr(geometry, "polygons_to_mask", lambda *a, **k: pytest.fail("dense mask built"))
    rle = geometry.polygons_to_rle([[[20, 20, 60, 20, 60, 60, 20, 60]]], width=8000, height=6000)
    assert rle["size"] == [6000, 8000] and geometry.rle_area(rle) == 1600
    with pytest.raises(pytest.fail.Exception):
        geometry.polygons_to_rle([[[0, 0, 9, 0, 9, 9, 0, 9], [3, 3, 6, 3, 6, 6, 3, 6]]], width=10, height=10)


def test_rle_round_trip_area_and_bbox():
    mask = np.zeros((30, 40), np.uint8)
    mask[5:15, 10:30] = 1
    rle = geometry.rle_encode(mask)
    assert rle["size"] == [30, 40] and isinstance(rle["counts"], str)
    assert np.array_equal(geometry.rle_decode(rle), mask)
    assert geometry.rle_area(rle) == 200
    assert geometry.rle_bbox(rle) == [10.0, 5.0, 20.0, 10.0]


def test_uncompressed_rle_is_normalized():
    mask = np.zeros((4, 3), np.uint8)
    mask[1:3, 1] = 1
    # Column-major runs: 5 zeros, 2 ones, 5 zeros.
    normal = geometry.rle_normalize({"size": [4, 3], "counts": [5, 2, 5]})
    assert np.array_equal(geometry.rle_decode(normal), mask)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"size": [4, 3]},
        {"size": [4], "counts": "abc"},
        {"size": [4, 3], "counts": [1, 2]},
        {"size": [4, 3], "counts": 7},
        {"size": [-1, 3], "counts": "0"},
    ],
)
def test_bad_rle_raises_geometry_error(bad):
    with pytest.raises(geometry.GeometryError):
        geometry.rle_decode(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [[]],
        [[[0, 0, 1, 1]]],  # two points
        [[[0, 0, 1, 1, 2]]],  # odd count
        [[[0, 0, "a", 1, 2, 2]]],
        [[[0, 0, 5, 0, 5, 50]]],  # outside a 10x10 image
        [[[0, 0, -1, 0, 5, 5]]],
        [[[0, 0, True, 0, 5, 5]]],
        [[[0, 0, float("nan"), 0, 5, 5]]],
    ],
)
def test_bad_polygons_raise_geometry_error(bad):
    with pytest.raises(geometry.GeometryError):
        geometry.validate_polygons(bad, width=10, height=10)

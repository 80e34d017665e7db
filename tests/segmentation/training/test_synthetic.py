"""Procedural scenes: deterministic per seed, masks disjoint and consistent with the training sample."""

import numpy as np

from segmentation.training.data import make_sample
from segmentation.training.synthetic import SHAPE_KINDS, _shape_mask, generate_scene


def test_same_seed_same_scene_other_seed_other_scene():
    a = generate_scene(np.random.default_rng(3), size=128)
    b = generate_scene(np.random.default_rng(3), size=128)
    c = generate_scene(np.random.default_rng(4), size=128)
    assert np.array_equal(a.image, b.image) and len(a.masks) == len(b.masks)
    assert all(np.array_equal(m, n) for m, n in zip(a.masks, b.masks))
    assert not np.array_equal(a.image, c.image)


def test_masks_are_disjoint_visible_parts():
    for seed in range(5):
        scene = generate_scene(np.random.default_rng(seed), size=256)
        assert scene.image.shape == (256, 256, 3) and scene.image.dtype == np.uint8
        assert len(scene.masks) == len(scene.kinds)
        stack = np.stack(scene.masks) if scene.masks else np.zeros((0, 256, 256), bool)
        assert (stack.sum(0) <= 1).all()  # occluded parts belong to the occluder only
        assert all(m.sum() >= 120 for m in scene.masks)


def test_every_shape_kind_draws_something():
    rng = np.random.default_rng(0)
    for kind in SHAPE_KINDS:
        assert any(_shape_mask(rng, 256, kind).sum() > 0 for _ in range(10)), kind


def test_training_sample_shapes_boxes_and_padding():
    rng = np.random.default_rng(1)
    for _ in range(4):
        s = make_sample(rng, img_size=256, targets=3)
        assert s["image"].shape == (256, 256, 3) and s["gt"].shape == (3, 128, 128)
        vh, vw = s["valid"]
        assert not s["image"][vh:].any() and not s["image"][:, vw:].any()  # padding is empty
        for gt, (x0, y0, x1, y1) in zip(s["gt"], s["boxes"]):
            ys, xs = np.nonzero(gt >= 128)
            if len(ys):  # the box (input pixels) encloses the low-res mask (half resolution)
                assert xs.min() * 2 >= x0 - 2 and xs.max() * 2 < x1 + 2
                assert ys.min() * 2 >= y0 - 2 and ys.max() * 2 < y1 + 2

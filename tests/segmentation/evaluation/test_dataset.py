"""make_eval_set writes the evaluate_clicks folder format, and the reader reads it back."""

import cv2
import numpy as np

from segmentation.evaluation.dataset import load_click_dataset
from segmentation.training.make_eval_set import write_eval_set


def test_eval_set_round_trip(tmp_path):
    n = write_eval_set(seed=5, count=7, out=tmp_path)
    assert n == 7
    objects, images, stems = load_click_dataset(tmp_path)
    assert len(objects) == 7 and len(stems) == 7
    assert len(images) < 7  # objects of one scene share one image (keyed by content)
    for obj in objects:
        assert obj.foreground.shape == images[obj.image_key].shape[:2]
        assert obj.foreground.sum() >= 400 and not obj.ignore.any()


def test_ignore_label_is_read(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((20, 30, 3), np.uint8))
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:10] = 255
    mask[12:14, :] = 128
    cv2.imwrite(str(tmp_path / "masks" / "a.png"), mask)
    objects, _images, stems = load_click_dataset(tmp_path)
    assert stems == ["a"]
    assert objects[0].foreground.sum() == 25 and objects[0].ignore.sum() == 60

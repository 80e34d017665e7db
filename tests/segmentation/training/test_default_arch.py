"""The default architecture is a real Sam: predictor-compatible, checkpoint round trip, shapes."""

import numpy as np
import torch
from segment_anything import SamPredictor

from segmentation.sam.default_arch import EMBED_DIM, EMBED_HW, IMG_SIZE, build_default_sam
from segmentation.training.train import save_checkpoint


def test_encoder_output_shape():
    sam = build_default_sam()
    with torch.no_grad():
        out = sam.image_encoder(torch.zeros(1, 3, IMG_SIZE, IMG_SIZE))
    assert out.shape == (1, EMBED_DIM, EMBED_HW, EMBED_HW)
    assert sam.prompt_encoder.image_embedding_size == (EMBED_HW, EMBED_HW)


def test_fp16_checkpoint_round_trip_under_25_mb(tmp_path):
    torch.manual_seed(1)
    sam = build_default_sam()
    path = save_checkpoint(sam, tmp_path)
    assert path.stat().st_size <= 25 * 1024 * 1024
    loaded = build_default_sam(path)
    for (k, a), (_, b) in zip(sam.state_dict().items(), loaded.state_dict().items()):
        tol = 1e-2 * float(a.abs().max()) + 1e-6 if a.is_floating_point() else 0
        assert torch.allclose(a.float(), b.float(), atol=tol), k


def test_sam_predictor_runs_on_a_non_square_image():
    sam = build_default_sam()
    predictor = SamPredictor(sam)
    predictor.set_image(np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8))
    masks, scores, low = predictor.predict(point_coords=np.array([[100, 150]]), point_labels=np.array([1]))
    assert masks.shape == (3, 300, 200) and scores.shape == (3,) and low.shape == (3, 4 * EMBED_HW, 4 * EMBED_HW)

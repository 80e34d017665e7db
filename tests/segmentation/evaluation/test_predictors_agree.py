"""The training run's batched PyTorch evaluation and evaluate_clicks' ONNX path give the same numbers."""

import numpy as np
import pytest
import torch

from segmentation.evaluation.clicks import simulate
from segmentation.evaluation.onnx_predictor import OnnxClickPredictor
from segmentation.sam.default_arch import build_default_sam
from segmentation.sam.encoder import encode_images
from segmentation.sam.onnx_decoder import OnnxDecoder
from segmentation.sam.onnx_export import export_decoder
from segmentation.sam.torch_predictor import TorchClickPredictor
from segmentation.training.eval_set import generate_eval_set


@pytest.mark.slow
def test_torch_and_onnx_click_predictors_agree(tmp_path):
    torch.manual_seed(3)
    sam = build_default_sam()
    with torch.no_grad():  # random weights give empty masks; a positive bias gives prompt-dependent blobs
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].bias.add_(0.3)
    objects, images = generate_eval_set(seed=21, count=4)
    # A non-square image too: coordinates and crops must map the same way in both paths.
    key = objects[0].image_key
    images["tall"] = np.ascontiguousarray(images[key][:, 100:400])
    objects.append(type(objects[0])("tall", objects[0].foreground[:, 100:400], objects[0].ignore[:, 100:400]))
    device = torch.device("cpu")
    torch_ious = simulate(TorchClickPredictor(sam, objects, images, device), objects, max_clicks=3)
    export_decoder(sam, tmp_path / "d.onnx")
    decoder = OnnxDecoder(tmp_path / "d.onnx", img_size=sam.image_encoder.img_size)
    onnx_predictor = OnnxClickPredictor(decoder, objects, images, lambda im: encode_images(sam, [im], device)[0])
    onnx_ious = simulate(onnx_predictor, objects, max_clicks=3)
    # float16 embeddings and ONNX kernels differ slightly from fp32 PyTorch: compare loosely.
    assert torch_ious.min() > 0.001  # non-empty masks, so the comparison means something
    assert np.abs(torch_ious - onnx_ious).mean() < 0.02, (torch_ious, onnx_ious)

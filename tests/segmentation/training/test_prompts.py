"""The training-time prompt path equals the exported decoder's; corrective clicks land on errors."""

import torch
from segment_anything.utils.onnx import SamOnnxModel

from segmentation.sam.default_arch import EMBED_DIM, EMBED_HW, IMG_SIZE, build_default_sam
from segmentation.training import prompts


def test_batched_decode_matches_the_onnx_wrapper():
    torch.manual_seed(0)
    sam = build_default_sam()
    emb = torch.randn(2, EMBED_DIM, EMBED_HW, EMBED_HW)
    coords = torch.tensor([[[100.0, 200.0], [300.0, 50.0], [0.0, 0.0]], [[10.0, 20.0], [40.0, 60.0], [400.0, 500.0]]])
    labels = torch.tensor([[1, 0, -1], [1, 2, 3]])
    mask_in = torch.randn(2, 1, 4 * EMBED_HW, 4 * EMBED_HW)
    has_mask = torch.tensor([1.0, 0.0])
    wrapper = SamOnnxModel(sam, return_single_mask=False)
    with torch.no_grad():
        sparse = prompts.embed_points(sam.prompt_encoder, coords, labels, IMG_SIZE)
        dense = prompts.embed_mask(sam.prompt_encoder, mask_in, has_mask)
        masks, iou = prompts.decode(sam.mask_decoder, emb, sam.prompt_encoder.get_dense_pe(), sparse, dense)
        for i in range(2):
            _, ref_iou, ref_low = wrapper(
                emb[i : i + 1],
                coords[i : i + 1],
                labels[i : i + 1].float(),
                mask_in[i : i + 1],
                has_mask[i : i + 1],
                torch.tensor([float(IMG_SIZE), float(IMG_SIZE)]),
            )
            assert torch.allclose(masks[i], ref_low[0], atol=1e-4)
            assert torch.allclose(iou[i], ref_iou[0], atol=1e-5)


def test_corrective_clicks_land_in_the_error_with_the_right_label():
    gt = torch.zeros(3, 256, 256, dtype=torch.bool)
    gt[:, 50:150, 60:200] = True
    pred = torch.zeros_like(gt)
    pred[0] = gt[0]
    pred[0, 50:150, 140:200] = False  # missed part
    pred[1] = gt[1]
    pred[1, 0:20, 0:20] = True  # false positive in the corner
    pred[2] = gt[2]  # no error at all
    error = pred != gt
    for p_center in (1.0, 0.0):
        xy, lab = prompts.sample_clicks(error, gt, p_center=p_center)
        x, y = (xy[:, 0] // 2).long(), (xy[:, 1] // 2).long()
        assert error[0, y[0], x[0]] and lab[0] == 1
        assert error[1, y[1], x[1]] and lab[1] == 0
        assert gt[2, y[2], x[2]] and lab[2] == 1
    xy, _ = prompts.sample_clicks(error, gt, p_center=1.0)
    assert abs(xy[1, 0] - 20) <= 4 and abs(xy[1, 1] - 20) <= 4  # deepest, not the image corner


def test_box_jitter_is_bounded():
    boxes = torch.tensor([[100.0, 100.0, 300.0, 200.0]]).repeat(200, 1)
    out = prompts.jitter_boxes(boxes, IMG_SIZE)
    assert (out - boxes).abs().max() <= 20 + 1e-4 and (out - boxes).abs().mean() > 1

"""The exported decoder against PyTorch (segment_anything's own modules) on several aspect ratios."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from segmentation.sam.encoder import encode_images  # noqa: E402
from segmentation.sam.loader import build_sam  # noqa: E402
from segmentation.sam.onnx_decoder import (  # noqa: E402
    OnnxDecoder,
    image_to_model_coords,
    model_scale,
    official_mask_index,
)
from segmentation.sam.onnx_export import export_decoder  # noqa: E402

ASPECTS = [(1024, 768), (600, 1400), (333, 1000)]  # (height, width): portrait, wide, 1:3


def _seeded(architecture: str):
    torch.manual_seed(1234)
    return build_sam(architecture)


@pytest.fixture(scope="module", params=["default", "vit_t"])
def exported(request, tmp_path_factory):
    sam = _seeded(request.param)
    folder = tmp_path_factory.mktemp(f"onnx-{request.param}")
    fp32 = folder / "decoder-fp32.onnx"
    int8 = folder / "decoder-int8.onnx"
    export_decoder(sam, fp32)
    export_decoder(sam, int8, quantize=True)
    return sam, fp32, int8


def _embedding(sam, seed: int) -> np.ndarray:
    """A real encoder output for a smooth random image, so the decoder sees embedding statistics."""
    from skimage import data as samples

    if sam.image_encoder.img_size <= 512:
        image = samples.astronaut() if seed % 2 == 0 else samples.coffee()
        return encode_images(sam, [image], "cpu")[0].astype(np.float32)
    # vit_t's encoder is slow-ish here; its decoder is the part under test.
    return np.random.default_rng(seed).standard_normal((256, 64, 64)).astype(np.float32)


def _random_prompt(rng: np.random.Generator, height: int, width: int, *, with_box: bool):
    count = int(rng.integers(1, 6))
    points = np.stack([rng.uniform(0, width - 1, count), rng.uniform(0, height - 1, count)], axis=1)
    labels = rng.integers(0, 2, count)
    labels[0] = 1
    box = None
    if with_box:
        x0, x1 = sorted(rng.uniform(0, width - 1, 2))
        y0, y1 = sorted(rng.uniform(0, height - 1, 2))
        box = [x0, y0, x1, y1]
    return points, labels, box


def _torch_reference(sam, feeds: dict[str, np.ndarray], height: int, width: int):
    """segment_anything's own prompt encoder + decoder + postprocess_masks, all 4 mask tokens."""
    coords = torch.from_numpy(feeds["point_coords"])
    labels = torch.from_numpy(feeds["point_labels"])
    has_box = bool((labels == 2).any())
    if has_box:
        # The official path embeds the box separately (corner labels 2/3), points without padding.
        points = (coords[:, :-2], labels[:, :-2].int())
        boxes = coords[:, -2:].reshape(1, 4)
    else:
        points = (coords[:, :-1], labels[:, :-1].int())  # PromptEncoder adds the padding point itself
        boxes = None
    masks = torch.from_numpy(feeds["mask_input"]) if feeds["has_mask_input"][0] > 0 else None
    with torch.no_grad():
        sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=masks)
        low_res, iou = sam.mask_decoder.predict_masks(
            torch.from_numpy(feeds["image_embeddings"]), sam.prompt_encoder.get_dense_pe(), sparse, dense
        )
        scale = model_scale(height, width, sam.image_encoder.img_size)
        input_size = (int(height * scale + 0.5), int(width * scale + 0.5))
        upscaled = sam.postprocess_masks(low_res, input_size, (height, width))
    # The official single-mask choice: best multimask output for <= 2 prompt points, else token 0.
    num_points = coords.shape[1]
    best = int(torch.argmax(iou[0, 1:])) + 1 if num_points <= 2 else 0
    return upscaled[0, best].numpy(), float(iou[0, best]), low_res[0, best].numpy()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.mark.slow
@pytest.mark.parametrize("height,width", ASPECTS)
def test_onnx_matches_pytorch_on_random_prompts(exported, height, width):
    sam, fp32_path, int8_path = exported
    img_size = sam.image_encoder.img_size
    fp32 = OnnxDecoder(fp32_path, img_size=img_size, threads=2)
    int8 = OnnxDecoder(int8_path, img_size=img_size, threads=2)
    rng = np.random.default_rng(height * 7 + width)
    embedding = _embedding(sam, seed=height + width)
    int8_ious = []
    # Every combination once: points only, points + box, each with and without a previous mask.
    for case in range(4):
        points, labels, box = _random_prompt(rng, height, width, with_box=case % 2 == 1)
        mask_input = rng.standard_normal((1, 1, *fp32.mask_input_size)).astype(np.float32) * 4 if case >= 2 else None
        feeds = fp32.feeds(
            embedding, height=height, width=width, points=points, labels=labels, box=box, mask_input=mask_input
        )
        out = fp32.run_feeds(feeds)
        assert out.masks.shape == (1, height, width)
        ref_masks, ref_iou, ref_low_res = _torch_reference(sam, feeds, height, width)
        assert np.abs(out.masks[0] - ref_masks).max() <= 1e-3
        assert np.abs(out.low_res_masks[0] - ref_low_res).max() <= 1e-3
        assert abs(float(out.iou_predictions[0]) - ref_iou) <= 1e-3
        quantized = int8.run_feeds(feeds)
        int8_ious.append(_iou(quantized.masks[0] > 0, out.masks[0] > 0))
    assert min(int8_ious) >= 0.95, int8_ious


def test_multimask_export_returns_all_tokens(tmp_path):
    sam = _seeded("default")
    path = tmp_path / "multi.onnx"
    export_decoder(sam, path, return_single_mask=False)
    decoder = OnnxDecoder(path, img_size=sam.image_encoder.img_size)
    out = decoder.predict(np.zeros((256, 64, 64), np.float32), height=300, width=700, points=[[10, 20]], labels=[1])
    assert out.masks.shape == (4, 300, 700)
    assert out.iou_predictions.shape == (4,)
    assert out.low_res_masks.shape == (4, 256, 256)


def test_multimask_export_with_official_choice_equals_single_mask_export(tmp_path):
    """What the registered (multimask) decoder gives after the client's choice is exactly what the
    single-mask graph gives: one click -> best of tokens 1..3, more prompts -> token 0."""
    sam = _seeded("default")
    with torch.no_grad():  # random weights give empty masks; a bias gives prompt-dependent ones
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].bias.add_(0.3)
    export_decoder(sam, tmp_path / "multi.onnx", return_single_mask=False)
    export_decoder(sam, tmp_path / "single.onnx")
    img_size = sam.image_encoder.img_size
    multi = OnnxDecoder(tmp_path / "multi.onnx", img_size=img_size)
    single = OnnxDecoder(tmp_path / "single.onnx", img_size=img_size)
    embedding = _embedding(sam, seed=2)
    prompts = [
        {"points": [[100, 120]], "labels": [1]},
        {"points": [], "labels": [], "box": [50, 60, 300, 200]},
        {"points": [[100, 120], [200, 90]], "labels": [1, 0]},
        {"points": [[100, 120]], "labels": [1], "box": [50, 60, 300, 200]},
    ]
    for prompt in prompts:
        best, out = multi.predict_official(embedding, height=333, width=500, **prompt)
        reference = single.predict(embedding, height=333, width=500, **prompt)
        assert out.masks.shape[0] == 4
        np.testing.assert_allclose(out.masks[best], reference.masks[0], atol=1e-3)
        assert abs(float(out.iou_predictions[best]) - float(reference.iou_predictions[0])) <= 1e-4


def test_official_mask_index_rule():
    ious = np.array([0.9, 0.2, 0.7, 0.5])
    assert official_mask_index(ious, 2) == 2  # one click + padding: best multimask token
    assert official_mask_index(ious, 3) == 0  # more prompts: the single-mask token
    assert official_mask_index(np.array([0.4]), 2) == 0  # single-mask export


def test_export_returns_sha256_of_written_file(tmp_path):
    import hashlib

    sam = _seeded("default")
    path = tmp_path / "sub" / "decoder.onnx"
    digest = export_decoder(sam, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in path.parent.iterdir()] == ["decoder.onnx"]  # no temp files left


def test_image_to_model_coords_scales_by_longest_side():
    coords = image_to_model_coords(np.array([[1400, 600], [0, 0]]), height=600, width=1400, img_size=1024)
    np.testing.assert_allclose(coords, [[1024, 438.857143], [0, 0]], rtol=1e-6)
    assert model_scale(2000, 500, 512) == 512 / 2000


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["default", "vit_t"])
def test_low_res_export_upscaled_outside_matches_plain_export(tmp_path, architecture):
    """The low-res graph (what the browser runs) + upscale_low_res against the plain official-style
    export with the upscaling in the graph: every officially chosen mask at IoU >= 0.98."""
    sam = _seeded(architecture)
    export_decoder(sam, tmp_path / "plain.onnx", return_single_mask=False)
    export_decoder(sam, tmp_path / "low.onnx", return_single_mask=False, upscale_in_graph=False)
    img_size = sam.image_encoder.img_size
    plain = OnnxDecoder(tmp_path / "plain.onnx", img_size=img_size, threads=2)
    low = OnnxDecoder(tmp_path / "low.onnx", img_size=img_size, threads=2)
    assert not low.upscales_in_graph and "orig_im_size" not in low.input_names
    embedding = _embedding(sam, seed=3)
    rng = np.random.default_rng(7)
    ious = []
    for height, width in [*ASPECTS, (360, 480)]:
        for case in range(4):
            points, labels, box = _random_prompt(rng, height, width, with_box=case % 2 == 1)
            mask_input = (
                rng.standard_normal((1, 1, *plain.mask_input_size)).astype(np.float32) * 4 if case >= 2 else None
            )
            feeds = plain.feeds(
                embedding, height=height, width=width, points=points, labels=labels, box=box, mask_input=mask_input
            )
            ref, out = plain.run_feeds(feeds), low.run_feeds(feeds)
            np.testing.assert_allclose(out.low_res_masks, ref.low_res_masks, atol=1e-4)
            np.testing.assert_allclose(out.iou_predictions, ref.iou_predictions, atol=1e-5)
            index = official_mask_index(ref.iou_predictions, feeds["point_coords"].shape[1])
            assert out.masks.shape == ref.masks.shape
            np.testing.assert_allclose(out.masks, ref.masks, atol=2e-3)  # the same upscaling, one pass
            # Random weights give near-empty or near-full masks at 0: also cut both maps at the
            # reference's median logit, so the IoU is of a mask covering half the image.
            cut = float(np.median(ref.masks[index]))
            ious.append(_iou(out.masks[index] > cut, ref.masks[index] > cut))
            chosen = low.predict_official_mask(
                embedding, height=height, width=width, points=points, labels=labels, box=box, mask_input=mask_input
            )
            np.testing.assert_allclose(chosen, ref.masks[index], atol=2e-3)
    assert min(ious) >= 0.98, ious


def test_upscale_low_res_crops_the_padding_and_keeps_constant_maps():
    from segmentation.sam.onnx_decoder import upscale_low_res

    low = np.full((1, 256, 256), -3.0, np.float32)
    low[:, :, 128:] = 5.0  # right half positive in the padded square
    # A 2:1 wide image fills the top half of the square: the right half stays the right half.
    up = upscale_low_res(low, 500, 1000, 1024)
    assert up.shape == (1, 500, 1000)
    assert (up[0, :, :495] < 0).all() and (up[0, :, 505:] > 0).all()
    # A 1:2 tall image covers the left half of the square only: all negative.
    assert (upscale_low_res(low, 1000, 500, 1024) < 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["default", "vit_t"])
def test_first_click_graphs_match_plain_export(tmp_path, architecture):
    """The per-image prep graph + the first-click graph (what the browser runs for prompts without a
    mask input) against the plain export: the same low-res logits, and every officially chosen mask
    at IoU >= 0.98 on random prompts and 4 aspect ratios; int8 (the registry's scheme) too."""
    from segmentation.sam.onnx_decoder import upscale_low_res
    from segmentation.sam.onnx_export import FIRST_CLICK_INPUT_NAMES, PREP_OUTPUT_NAMES, export_first_click
    from segmentation.services.models import FIRST_CLICK_QUANTIZE_UPSCALING, FIRST_CLICK_UPSCALING, INT8_SCHEME

    sam = _seeded(architecture)
    export_decoder(sam, tmp_path / "plain.onnx", return_single_mask=False)
    # As the registry exports them (token-layout upscaling, its int8 scheme).
    export_first_click(sam, tmp_path / "prep.onnx", tmp_path / "first.onnx", upscaling=FIRST_CLICK_UPSCALING)
    export_first_click(
        sam,
        tmp_path / "prep.onnx",
        tmp_path / "first-int8.onnx",
        quantize=True,
        int8_scheme=INT8_SCHEME,
        upscaling=FIRST_CLICK_UPSCALING,
        quantize_upscaling=FIRST_CLICK_QUANTIZE_UPSCALING,
    )
    img_size = sam.image_encoder.img_size
    plain = OnnxDecoder(tmp_path / "plain.onnx", img_size=img_size, threads=2)
    prep = ort.InferenceSession(str(tmp_path / "prep.onnx"), providers=["CPUExecutionProvider"])
    first = ort.InferenceSession(str(tmp_path / "first.onnx"), providers=["CPUExecutionProvider"])
    first_int8 = ort.InferenceSession(str(tmp_path / "first-int8.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in first.get_inputs()] == FIRST_CLICK_INPUT_NAMES
    embedding = _embedding(sam, seed=5)
    prepared = dict(zip(PREP_OUTPUT_NAMES, prep.run(PREP_OUTPUT_NAMES, {"image_embeddings": embedding[None]})))
    rng = np.random.default_rng(11)
    ious, int8_ious = [], []
    for height, width in [*ASPECTS, (360, 480)]:
        for case in range(4):
            points, labels, box = _random_prompt(rng, height, width, with_box=case % 2 == 1)
            feeds = plain.feeds(embedding, height=height, width=width, points=points, labels=labels, box=box)
            ref = plain.run_feeds(feeds)
            index = official_mask_index(ref.iou_predictions, feeds["point_coords"].shape[1])
            cut = float(np.median(ref.masks[index]))  # random weights: see the low-res test
            prompt = {"point_coords": feeds["point_coords"], "point_labels": feeds["point_labels"], **prepared}
            for session, bucket in ((first, ious), (first_int8, int8_ious)):
                scores, low_res = session.run(["iou_predictions", "low_res_masks"], prompt)
                if session is first:
                    np.testing.assert_allclose(low_res[0], ref.low_res_masks, atol=1e-3)
                    np.testing.assert_allclose(scores[0], ref.iou_predictions, atol=1e-4)
                chosen = official_mask_index(scores[0], feeds["point_coords"].shape[1])
                mask = upscale_low_res(low_res[0, chosen : chosen + 1], height, width, img_size)[0]
                bucket.append(_iou(mask > cut, ref.masks[index] > cut))
    assert min(ious) >= 0.98, ious
    assert float(np.mean(int8_ious)) >= 0.98 and min(int8_ious) >= 0.95, int8_ious


@pytest.mark.parametrize("architecture", ["default", "vit_t"])
def test_first_click_upscaling_rewrites_are_exact_in_fp32(tmp_path, architecture):
    """The output upscaling written as MatMul + DepthToSpace ("matmul") or in token layout ("token")
    gives the ConvTranspose2d graph's outputs (fp32, <= 1e-4), and has no ConvTranspose left."""
    import onnx

    from segmentation.sam.onnx_export import PREP_OUTPUT_NAMES, export_first_click

    sam = _seeded(architecture)
    outputs = {}
    for upscaling in ("conv", "matmul", "token"):
        export_first_click(sam, tmp_path / "prep.onnx", tmp_path / f"{upscaling}.onnx", upscaling=upscaling)
        ops = {node.op_type for node in onnx.load(str(tmp_path / f"{upscaling}.onnx")).graph.node}
        assert ("ConvTranspose" in ops) == (upscaling == "conv"), ops
        prep = ort.InferenceSession(str(tmp_path / "prep.onnx"), providers=["CPUExecutionProvider"])
        prepared = dict(
            zip(PREP_OUTPUT_NAMES, prep.run(PREP_OUTPUT_NAMES, {"image_embeddings": _embedding(sam, seed=3)[None]}))
        )
        session = ort.InferenceSession(str(tmp_path / f"{upscaling}.onnx"), providers=["CPUExecutionProvider"])
        feeds = {
            "point_coords": np.array([[[300.0, 200.0], [0.0, 0.0]]], np.float32),
            "point_labels": np.array([[1.0, -1.0]], np.float32),
            **prepared,
        }
        outputs[upscaling] = session.run(["iou_predictions", "low_res_masks"], feeds)
    for upscaling in ("matmul", "token"):
        for got, ref in zip(outputs[upscaling], outputs["conv"]):
            np.testing.assert_allclose(got, ref, atol=1e-4)
    with pytest.raises(ValueError, match="unknown upscaling"):
        export_first_click(sam, tmp_path / "prep.onnx", tmp_path / "x.onnx", upscaling="fft")


def test_optimize_for_runtime_keeps_the_outputs(tmp_path):
    """The registry stores the first-click graphs pre-optimised by onnxruntime: same outputs."""
    import onnx

    from segmentation.sam.onnx_export import PREP_OUTPUT_NAMES, export_first_click
    from segmentation.sam.onnx_quantize import optimize_for_runtime

    sam = _seeded("default")
    export_first_click(
        sam,
        tmp_path / "prep.onnx",
        tmp_path / "int8.onnx",
        quantize=True,
        int8_scheme="dynamic-s8",
        upscaling="token",
        quantize_upscaling=False,
    )
    prep = ort.InferenceSession(str(tmp_path / "prep.onnx"), providers=["CPUExecutionProvider"])
    feeds = {
        "point_coords": np.array([[[120.0, 300.0], [0.0, 0.0]]], np.float32),
        "point_labels": np.array([[1.0, -1.0]], np.float32),
        **dict(
            zip(PREP_OUTPUT_NAMES, prep.run(PREP_OUTPUT_NAMES, {"image_embeddings": _embedding(sam, seed=4)[None]}))
        ),
    }
    before = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)
    optimize_for_runtime(tmp_path / "int8.onnx")
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    assert any(node.domain == "com.microsoft" for node in graph.node)
    after = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)
    for got, ref in zip(after, before):
        np.testing.assert_allclose(got, ref, atol=1e-5)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_quantize_graph_rejects_unknown_scheme_and_static_without_calibration(tmp_path):
    from segmentation.sam.onnx_quantize import quantize_graph

    sam = _seeded("default")
    export_decoder(sam, tmp_path / "low.onnx", return_single_mask=False, upscale_in_graph=False)
    with pytest.raises(ValueError, match="unknown int8 scheme"):
        quantize_graph(tmp_path / "low.onnx", tmp_path / "x.onnx", "fp8")
    with pytest.raises(ValueError, match="calibration"):
        quantize_graph(tmp_path / "low.onnx", tmp_path / "x.onnx", "static-qdq")
    quantize_graph(tmp_path / "low.onnx", tmp_path / "s8.onnx", "dynamic-s8")
    assert (tmp_path / "s8.onnx").stat().st_size < (tmp_path / "low.onnx").stat().st_size / 2


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["default", "vit_t"])
def test_registered_graph_token_upscaling_is_exact_with_a_mask_input(tmp_path, architecture):
    """The registered (refinement) graph with its upscaling in token layout gives the ConvTranspose2d
    graph's outputs (fp32, <= 1e-4) with a previous mask fed back, has no ConvTranspose, and its int8
    file keeps the upscaling's MatMuls fp32 (not quantised)."""
    import onnx

    from segmentation.services.models import FIRST_CLICK_QUANTIZE_UPSCALING, FIRST_CLICK_UPSCALING, INT8_SCHEME

    sam = _seeded(architecture)
    rng = np.random.default_rng(7)
    side = sam.prompt_encoder.mask_input_size[0]
    feeds = {
        "image_embeddings": _embedding(sam, seed=4)[None],
        "point_coords": rng.uniform(0, sam.image_encoder.img_size - 1, (1, 4, 2)).astype(np.float32),
        "point_labels": np.array([[1.0, 0.0, 1.0, -1.0]], np.float32),
        "mask_input": rng.standard_normal((1, 1, side, side)).astype(np.float32) * 4,
        "has_mask_input": np.array([1.0], np.float32),
    }
    outputs = {}
    for upscaling in ("conv", "token"):
        path = tmp_path / f"{upscaling}.onnx"
        export_decoder(sam, path, return_single_mask=False, upscale_in_graph=False, upscaling=upscaling)
        ops = {node.op_type for node in onnx.load(str(path)).graph.node}
        assert ("ConvTranspose" in ops) == (upscaling == "conv"), ops
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs[upscaling] = session.run(["iou_predictions", "low_res_masks"], feeds)
    for got, ref in zip(outputs["token"], outputs["conv"]):
        np.testing.assert_allclose(got, ref, atol=1e-4)

    int8 = tmp_path / "token-int8.onnx"
    export_decoder(
        sam,
        int8,
        quantize=True,
        return_single_mask=False,
        upscale_in_graph=False,
        int8_scheme=INT8_SCHEME,
        upscaling=FIRST_CLICK_UPSCALING,
        quantize_upscaling=FIRST_CLICK_QUANTIZE_UPSCALING,
    )
    nodes = onnx.load(str(int8)).graph.node
    assert [n for n in nodes if n.op_type == "MatMul" and n.name.startswith("/token_upscaling/")]
    assert any(n.op_type in ("DynamicQuantizeMatMul", "MatMulInteger") for n in nodes)
    with pytest.raises(ValueError, match="unknown upscaling"):
        export_decoder(sam, tmp_path / "x.onnx", upscaling="matmul")

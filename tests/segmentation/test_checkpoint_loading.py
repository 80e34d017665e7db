"""Official checkpoints load unchanged: a state dict in the published key layout goes through load_sam.

The published files cannot be downloaded here, so each architecture is built with random weights by
the same package that builds the published models, saved with torch.save(state_dict()) (exactly how
sam_vit_*.pth and mobile_sam.pt are stored), and loaded back through load_sam.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from segmentation.sam.loader import CheckpointMismatchError, build_sam, embedding_shape, load_sam  # noqa: E402


def _roundtrip(architecture: str, tmp_path, probe: str):
    torch.manual_seed(7)
    original = build_sam(architecture)
    path = tmp_path / f"{architecture}.pth"
    torch.save(original.state_dict(), path)
    expected = original.state_dict()[probe].clone()
    del original
    torch.manual_seed(99)  # a different random init, so equality proves the file was loaded
    loaded = load_sam(architecture, path)
    assert torch.equal(loaded.state_dict()[probe], expected)
    return loaded


@pytest.mark.slow
def test_vit_b_published_layout_loads(tmp_path):
    sam = _roundtrip("vit_b", tmp_path, "image_encoder.blocks.11.attn.qkv.weight")
    assert embedding_shape(sam) == [256, 64, 64]
    assert sam.image_encoder.img_size == 1024
    # Keys exactly as in sam_vit_b_01ec64.pth: ViT blocks, neck, prompt encoder, mask decoder.
    keys = set(sam.state_dict())
    assert {
        "image_encoder.pos_embed",
        "image_encoder.neck.0.weight",
        "prompt_encoder.point_embeddings.0.weight",
        "mask_decoder.iou_prediction_head.layers.2.weight",
    } <= keys
    assert sum(1 for k in keys if k.startswith("image_encoder.blocks.") and k.endswith(".attn.qkv.weight")) == 12


@pytest.mark.slow
@pytest.mark.parametrize(
    ("architecture", "depth", "global_blocks"),
    [("vit_l", 24, (5, 11, 17, 23)), ("vit_h", 32, (7, 15, 23, 31))],
)
def test_large_vits_published_layout_load(tmp_path, architecture, depth, global_blocks):
    """sam_vit_l_0b3195.pth / sam_vit_h_4b8939.pth layout: 1.2 / 2.6 GB written and read back here."""
    sam = _roundtrip(architecture, tmp_path, f"image_encoder.blocks.{depth - 1}.attn.qkv.weight")
    assert embedding_shape(sam) == [256, 64, 64]
    keys = set(sam.state_dict())
    assert sum(1 for k in keys if k.startswith("image_encoder.blocks.") and k.endswith(".attn.qkv.weight")) == depth
    # Global-attention blocks carry relative positions over the whole 64x64 grid, windowed ones 14x14.
    for i in range(depth):
        rel = sam.state_dict()[f"image_encoder.blocks.{i}.attn.rel_pos_h"]
        assert rel.shape[0] == (127 if i in global_blocks else 27), i
    (tmp_path / f"{architecture}.pth").unlink()  # do not keep gigabytes in pytest's tmp dirs


@pytest.mark.slow
def test_vit_t_published_layout_loads(tmp_path):
    sam = _roundtrip("vit_t", tmp_path, "image_encoder.layers.1.blocks.0.attn.qkv.weight")
    assert type(sam).__module__.startswith("mobile_sam")
    assert embedding_shape(sam) == [256, 64, 64]


def test_default_architecture_loads(tmp_path):
    sam = _roundtrip("default", tmp_path, "mask_decoder.output_upscaling.0.weight")
    assert embedding_shape(sam) == [256, 64, 64]


def test_renamed_key_fails_with_clear_error(tmp_path):
    state = build_sam("default").state_dict()
    state["mask_decoder.iou_token.weight_renamed"] = state.pop("mask_decoder.iou_token.weight")
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_sam("default", path)
    message = str(error.value)
    assert "mask_decoder.iou_token.weight" in message and "weight_renamed" in message
    assert "1 missing key(s)" in message and "1 unexpected key(s)" in message


def test_missing_key_fails(tmp_path):
    state = build_sam("default").state_dict()
    del state["prompt_encoder.no_mask_embed.weight"]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match=r"prompt_encoder\.no_mask_embed\.weight"):
        load_sam("default", path)


def test_wrong_shape_fails(tmp_path):
    state = build_sam("default").state_dict()
    state["mask_decoder.iou_token.weight"] = torch.zeros(3, 3)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match="size mismatch"):
        load_sam("default", path)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="Unknown SAM architecture"):
        build_sam("vit_x")

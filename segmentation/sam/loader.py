"""Build a SAM architecture and load a checkpoint in the published key layout (no Django here).

Official checkpoints (sam_vit_h_4b8939.pth, sam_vit_l_0b3195.pth, sam_vit_b_01ec64.pth, MobileSAM's
mobile_sam.pt) are plain state dicts; they load unchanged into the architectures built by Meta's
`segment-anything` and by `mobilesam-mirror` (`mobile_sam`), strictly, so a renamed or missing key
is an error rather than a silently random layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARCHITECTURES = ("vit_h", "vit_l", "vit_b", "vit_t", "default")


class CheckpointMismatchError(ValueError):
    """The checkpoint's keys or shapes do not fit the architecture it was registered as."""


def build_sam(architecture: str) -> Any:
    """The architecture with freshly initialised weights (a `Sam` module, on CPU, in eval mode)."""
    if architecture in ("vit_h", "vit_l", "vit_b"):
        from segment_anything import sam_model_registry

        sam = sam_model_registry[architecture](checkpoint=None)
    elif architecture == "vit_t":
        from mobile_sam import sam_model_registry as mobile_sam_registry

        sam = mobile_sam_registry["vit_t"](checkpoint=None)
    elif architecture == "default":
        from segmentation.sam.default_arch import build_default_sam

        sam = build_default_sam()
    else:
        raise ValueError(f"Unknown SAM architecture {architecture!r}; expected one of {ARCHITECTURES}.")
    return sam.eval()


def read_state_dict(checkpoint_path: str | Path) -> dict[str, Any]:
    import torch

    # weights_only: a checkpoint is data, never code to run.
    state = torch.load(Path(checkpoint_path), map_location="cpu", weights_only=True)
    # Training scripts often wrap the weights; the published files are the bare dict.
    if isinstance(state, dict) and not any(hasattr(v, "shape") for v in state.values()):
        for wrapper_key in ("model", "state_dict"):
            if isinstance(state.get(wrapper_key), dict):
                state = state[wrapper_key]
                break
    if not isinstance(state, dict):
        raise CheckpointMismatchError(f"{checkpoint_path} does not hold a state dict.")
    return state


def load_state_dict_strictly(sam: Any, state: dict[str, Any], *, source: str, architecture: str) -> None:
    """load_state_dict(strict=True), with an error that names the first offending keys."""
    expected = set(sam.state_dict())
    found = set(state)
    missing = sorted(expected - found)
    unexpected = sorted(found - expected)
    if missing or unexpected:
        raise CheckpointMismatchError(
            f"{source} does not match architecture {architecture!r}: "
            f"{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} unexpected key(s) {unexpected[:5]}. "
            "Check SAM_CHECKPOINT_TYPE / --type."
        )
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shape mismatches, e.g. a vit_l file registered as vit_b
        raise CheckpointMismatchError(f"{source} does not match architecture {architecture!r}: {exc}") from exc


def load_sam(architecture: str, checkpoint_path: str | Path | None) -> Any:
    """The model with the checkpoint's weights (random weights when checkpoint_path is None)."""
    sam = build_sam(architecture)
    if checkpoint_path is not None:
        state = read_state_dict(checkpoint_path)
        load_state_dict_strictly(sam, state, source=str(checkpoint_path), architecture=architecture)
    return sam.eval()


def embedding_shape(sam: Any) -> list[int]:
    """[channels, height, width] of one image embedding, read from the prompt encoder."""
    h, w = sam.prompt_encoder.image_embedding_size
    return [int(sam.prompt_encoder.embed_dim), int(h), int(w)]


def encoder_input_size(sam: Any) -> int:
    return int(sam.image_encoder.img_size)


def write_random_init_checkpoint(path: Path, architecture: str = "default") -> Path:
    """A deterministic random-init checkpoint at path (seed 0, the global RNG left as it was), written
    atomically; an existing file is kept."""
    import torch

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(0)
            sam = build_sam(architecture)
        finally:
            torch.random.set_rng_state(state)
        tmp = path.with_suffix(".tmp")
        torch.save(sam.state_dict(), tmp)
        tmp.replace(path)
    return path

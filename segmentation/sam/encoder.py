"""Image encoder: RGB pixels -> float16 SAM embeddings, batched (no Django here).

Preprocessing is SAM's own: ResizeLongestSide to the encoder's input size, normalise with the
model's pixel mean/std, pad bottom/right to a square. On CUDA the forward pass runs under autocast
(bf16 where supported, else fp16); on CPU in float32. The result is float16 either way, the
stored format (half the bytes of float32; SAM's decoder is insensitive to that rounding).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def resolve_device(name: str = "auto") -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def preprocess_image(sam: Any, image: np.ndarray, device: Any) -> Any:
    """HxWx3 uint8 RGB -> (3, S, S) float tensor on device, S = encoder input size."""
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"Expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}.")
    resized = ResizeLongestSide(sam.image_encoder.img_size).apply_image(image)
    pixels = torch.as_tensor(resized, device=device).permute(2, 0, 1).contiguous().float()
    # sam.preprocess normalises and pads to the square input; it expects (B, 3, h, w).
    return sam.preprocess(pixels[None])[0]


def _autocast_dtype(device: Any) -> Any:
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def encode_images(
    sam: Any, images: list[np.ndarray], device: Any, *, batch_size: int = 4, autocast: bool = True
) -> np.ndarray:
    """Embeddings of the images, float16 (N, C, h, w). The model must already sit on `device`.

    autocast=False keeps CUDA in float32 (benchmarks compare the two)."""
    import torch

    device = torch.device(device)
    outputs: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.stack([preprocess_image(sam, image, device) for image in images[start : start + batch_size]])
            if device.type == "cuda" and autocast:
                with torch.autocast("cuda", dtype=_autocast_dtype(device)):
                    features = sam.image_encoder(batch)
            else:
                features = sam.image_encoder(batch)
            outputs.append(features.to(torch.float16).cpu().numpy())
    if not outputs:
        raise ValueError("encode_images needs at least one image.")
    return np.concatenate(outputs, axis=0)

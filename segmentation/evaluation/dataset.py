"""Read a click-evaluation folder: DIR/images/<stem>.<ext> and DIR/masks/<stem>.png (no Django).

Mask PNG values: 255 object, 0 background, 128 ignored (anything in 65..191 counts as ignored, so
resampled masks still read sensibly). Several masks may name the same image content (e.g. the
stems img0001_obj0 and img0001_obj1 with the image duplicated or hard-linked): images are keyed by
their content hash, so a predictor encodes each distinct image once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from segmentation.evaluation.clicks import EvalObject

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def read_mask(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(foreground, ignore) bool arrays from a 255/0/128 mask PNG."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"Cannot read mask {path}")
    return mask >= 192, (mask > 64) & (mask < 192)


def load_click_dataset(root: str | Path) -> tuple[list[EvalObject], dict[str, np.ndarray], list[str]]:
    """Objects (sorted by stem), images by content key (RGB uint8), and the stems."""
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise FileNotFoundError(f"{root} must hold images/ and masks/")
    by_stem = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    objects: list[EvalObject] = []
    images: dict[str, np.ndarray] = {}
    stems: list[str] = []
    for mask_path in sorted(masks_dir.glob("*.png")):
        image_path = by_stem.get(mask_path.stem)
        if image_path is None:
            raise FileNotFoundError(f"No image for mask {mask_path.name} in {images_dir}")
        data = image_path.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        if key not in images:
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"Cannot read image {image_path}")
            images[key] = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        foreground, ignore = read_mask(mask_path)
        if foreground.shape != images[key].shape[:2]:
            raise ValueError(f"{mask_path.name}: mask {foreground.shape} != image {images[key].shape[:2]}")
        objects.append(EvalObject(image_key=key, foreground=foreground, ignore=ignore))
        stems.append(mask_path.stem)
    if not objects:
        raise FileNotFoundError(f"No masks in {masks_dir}")
    return objects, images, stems

"""Procedural training/evaluation scenes: textured shapes composited over real photographs.

Pure numpy/OpenCV, deterministic for a given ``np.random.Generator``. Every object's mask is its
*visible* part after later shapes occlude it, so masks never overlap and always match the pixels.
Backgrounds are crops of the photographs scikit-image ships (they load offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "page",
    "text",
    "clock",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "brick",
    "grass",
    "gravel",
    "colorwheel",
    "cell",
    "logo",
)
SHAPE_KINDS = ("polygon", "ellipse", "star", "bar", "curve", "ring", "blob", "rect", "limbs")


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    masks: list[np.ndarray]  # one (H, W) bool per visible object, disjoint
    kinds: list[str]  # shape kind of each object


@lru_cache(maxsize=1)
def load_photos() -> tuple[np.ndarray, ...]:
    """The shipped sample photographs as RGB uint8 (loaded once per process)."""
    import skimage.data

    photos = []
    for name in PHOTO_NAMES:
        try:  # another scikit-image version may lack one or want to download it: skip that one
            img = np.asarray(getattr(skimage.data, name)())
        except Exception:
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(img[..., :3].astype(np.uint8)))
    if len(photos) < 3:
        raise RuntimeError("scikit-image's sample photographs are missing (need at least 3)")
    return tuple(photos)


def _random_color(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _photo_crop(rng: np.random.Generator, out_h: int, out_w: int) -> np.ndarray:
    """A random crop of a random photo, resized to (out_h, out_w), flipped and colour-jittered."""
    photo = load_photos()[rng.integers(len(load_photos()))]
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.35, 1.0) * min(h, w))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(photo[y : y + side, x : x + side], (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.3:
        crop = crop[::-1]
    out = crop.astype(np.float32) * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40, size=3)
    if rng.random() < 0.3:
        out = out[..., rng.permutation(3)]
    return out


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 fill for a shape: solid, gradient, stripes, checker, noise or photo."""
    kind = rng.choice(
        ["solid", "gradient", "stripes", "checker", "noise", "photo"], p=[0.25, 0.15, 0.12, 0.08, 0.15, 0.25]
    )
    c1, c2 = _random_color(rng), _random_color(rng)
    if kind == "solid":
        return np.broadcast_to(c1, (h, w, 3)).copy()
    if kind == "photo":
        return _photo_crop(rng, h, w)
    size = max(h, w)  # pattern scale follows the object, not the crop's aspect
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / size
    angle = rng.uniform(0, np.pi)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    if kind == "gradient":
        mix = (t - t.min()) / (np.ptp(t) + 1e-6)
    elif kind == "stripes":
        mix = (np.sin(t * rng.uniform(10, 80)) > 0).astype(np.float32)
    elif kind == "checker":
        n = rng.uniform(4, 30)
        mix = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(np.float32)
    else:
        small = rng.random((int(rng.integers(4, 32)),) * 2).astype(np.float32)
        mix = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    return c1 * (1 - mix[..., None]) + c2 * mix[..., None]


def _polygon_points(rng: np.random.Generator, cx: float, cy: float, r: float, n: int, jag: float) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(1 - jag, 1, n)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)


def _shape_mask(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """A (size, size) uint8 0/1 mask of one shape of `kind` at a random place and scale."""
    m = np.zeros((size, size), np.uint8)
    r = size * rng.uniform(0.04, 0.3)
    cx, cy = rng.uniform(-0.1, 1.1) * size, rng.uniform(-0.1, 1.1) * size
    if kind == "polygon":
        cv2.fillPoly(m, [_polygon_points(rng, cx, cy, r, int(rng.integers(3, 10)), rng.uniform(0, 0.7))], 1)
    elif kind == "ellipse":
        axes = (int(r), int(r * rng.uniform(0.3, 1.0)))
        cv2.ellipse(m, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    elif kind == "star":
        n = int(rng.integers(4, 9))
        a = rng.uniform(0, 2 * np.pi) + np.arange(2 * n) * np.pi / n
        rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.25, 0.6)).astype(np.float64)
        cv2.fillPoly(m, [np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a)], 1).astype(np.int32)], 1)
    elif kind == "bar":
        angle = rng.uniform(0, np.pi)
        d = np.array([np.cos(angle), np.sin(angle)]) * r * rng.uniform(1, 3)
        p0, p1 = (np.array([cx, cy]) - d).astype(int), (np.array([cx, cy]) + d).astype(int)
        cv2.line(m, tuple(map(int, p0)), tuple(map(int, p1)), 1, int(rng.integers(2, 12)))
    elif kind == "curve":
        pts = np.cumsum(rng.normal(0, r * 0.35, size=(int(rng.integers(3, 8)), 2)), 0) + [cx, cy]
        cv2.polylines(m, [pts.astype(np.int32)], False, 1, int(rng.integers(2, 9)))
    elif kind == "ring":
        cv2.circle(m, (int(cx), int(cy)), int(r), 1, -1)
        cv2.circle(m, (int(cx + rng.uniform(-0.2, 0.2) * r), int(cy)), int(r * rng.uniform(0.3, 0.75)), 0, -1)
    elif kind == "blob":
        small = cv2.GaussianBlur(rng.random((16, 16)).astype(np.float32), (0, 0), 1.5)
        field = cv2.resize(small, (int(2 * r) + 1,) * 2, interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[-1 : 1 : field.shape[0] * 1j, -1 : 1 : field.shape[1] * 1j]
        blob = ((field - field.mean()) * 4 + 1 - np.hypot(xx, yy) > 0.3).astype(np.uint8)
        _paste(m, blob, int(cx - r), int(cy - r))
    elif kind == "rect":
        box = ((cx, cy), (2 * r, 2 * r * rng.uniform(0.2, 1.0)), rng.uniform(0, 180))
        cv2.fillPoly(m, [cv2.boxPoints(box).astype(np.int32)], 1)
    else:  # "limbs": a body with thin protruding parts
        cv2.ellipse(m, (int(cx), int(cy)), (int(r * 0.6), int(r * 0.4)), rng.uniform(0, 180), 0, 360, 1, -1)
        for a in rng.uniform(0, 2 * np.pi, int(rng.integers(2, 6))):
            end = (int(cx + 1.6 * r * np.cos(a)), int(cy + 1.6 * r * np.sin(a)))
            cv2.line(m, (int(cx), int(cy)), end, 1, int(rng.integers(2, 6)))
    if kind in ("polygon", "ellipse", "blob", "rect") and rng.random() < 0.25:
        for _ in range(int(rng.integers(1, 4))):  # holes
            hr = max(2, int(r * rng.uniform(0.08, 0.3)))
            cv2.circle(m, (int(cx + rng.uniform(-0.5, 0.5) * r), int(cy + rng.uniform(-0.5, 0.5) * r)), hr, 0, -1)
    return m


def _paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    h, w = src.shape
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, dst.shape[0]), min(x + w, dst.shape[1])
    if y1 > y0 and x1 > x0:
        dst[y0:y1, x0:x1] = src[y0 - y : y1 - y, x0 - x : x1 - x]


def generate_scene(rng: np.random.Generator, size: int = 512, min_area: int = 120) -> Scene:
    """One scene: 2..9 shapes over a photo (or a texture); masks are visible parts >= min_area px."""
    canvas = _photo_crop(rng, size, size) if rng.random() < 0.8 else _texture(rng, size, size)
    owner = np.full((size, size), -1, np.int16)  # index of the shape visible at each pixel
    kinds: list[str] = []
    for _ in range(int(rng.integers(2, 10))):
        kind = str(rng.choice(SHAPE_KINDS))
        m = _shape_mask(rng, size, kind)
        if m.sum() < min_area:
            continue
        # Work in the shape's bounding box (plus the blur margin): full-frame blends cost 10x more.
        x, y, w, h = cv2.boundingRect(m)
        x0, y0, x1, y1 = max(x - 4, 0), max(y - 4, 0), min(x + w + 4, size), min(y + h + 4, size)
        crop = m[y0:y1, x0:x1]
        # Soft edge so boundaries are not trivially aliased, while the label stays the hard mask.
        alpha = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), rng.uniform(0.3, 1.2))[..., None]
        fill = _texture(rng, y1 - y0, x1 - x0)
        if rng.random() < 0.5:  # brightness change, so neighbouring objects may share a hue
            fill = fill * rng.uniform(0.6, 1.3)
        region = canvas[y0:y1, x0:x1]
        canvas[y0:y1, x0:x1] = region * (1 - alpha) + fill * alpha
        owner[y0:y1, x0:x1][crop > 0] = len(kinds)
        kinds.append(kind)
    if rng.random() < 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.4:
        canvas = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * rng.uniform(2, 12)
    image = canvas.clip(0, 255).astype(np.uint8)
    if rng.random() < 0.1:  # grayscale scenes (medical / document images)
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    masks, kept = [], []
    for i, kind in enumerate(kinds):
        m = owner == i
        if m.sum() >= min_area:
            masks.append(m)
            kept.append(kind)
    return Scene(image=np.ascontiguousarray(image), masks=masks, kinds=kept)

"""Mask <-> polygons <-> COCO RLE: pure functions (numpy, OpenCV, pycocotools; no ORM, no torch).

Coordinates are continuous image pixels: pixel (x, y) covers [x, x+1) x [y, y+1), as in COCO.
A mask is a 2-D array of shape (height, width); non-zero means inside.

Polygons are a list of parts; each part is [outer ring, hole ring, ...]; each ring a flat
[x0, y0, x1, y1, ...] list (at least 3 points). Several parts express a mask of several pieces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from pycocotools import mask as coco_mask

Ring = list[float]
Part = list[Ring]
Polygons = list[Part]
Rle = dict  # {"size": [height, width], "counts": str}


class GeometryError(ValueError):
    """Geometry that cannot describe a mask in this image (bad shape, out of bounds, empty)."""


@dataclass(frozen=True)
class GeometryLimits:
    """Caps checked on client geometry before any of it is decoded or rasterised (settings give them)."""

    max_parts: int = 1_000
    max_vertices: int = 100_000  # over all rings of all parts
    max_rle_counts: int = 2_000_000  # characters of a compressed RLE, or entries of an uncompressed one


def _is_number(value: object) -> bool:
    """A JSON number that is finite, of any size: Python ints of any magnitude are compared as they are,
    never handed to numpy (np.isfinite raises on ints >= 2**64)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def check_rle(rle: object, *, width: int, height: int, limits: GeometryLimits) -> None:
    """GeometryError unless `rle` is an RLE of exactly this image's size and bounded length.

    Nothing is decoded here: the size decides how much memory a decode takes, so it must be the
    image's own [height, width] before pycocotools sees it.
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise GeometryError('An RLE must be {"size": [height, width], "counts": ...}.')
    size = rle["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int for v in size)):
        raise GeometryError("RLE size must be two positive integers [height, width].")
    if size != [height, width]:
        raise GeometryError(f"RLE size {size} does not match the image [height, width] [{height}, {width}].")
    counts = rle["counts"]
    if not isinstance(counts, (str, list)):
        raise GeometryError("RLE counts must be a string (compressed) or a list of integers.")
    if len(counts) > limits.max_rle_counts:
        raise GeometryError(f"RLE counts are too long ({len(counts)} > {limits.max_rle_counts}).")


def rle_encode(mask: np.ndarray) -> Rle:
    """Compressed COCO RLE with a JSON-safe (str) counts field."""
    if mask.ndim != 2:
        raise GeometryError(f"A mask must be 2-D, got shape {mask.shape}.")
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(encoded["size"][0]), int(encoded["size"][1])], "counts": encoded["counts"].decode("ascii")}


def _rle_for_pycocotools(rle: Rle) -> dict:
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise GeometryError('An RLE must be {"size": [height, width], "counts": ...}.')
    size = rle["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise GeometryError("RLE size must be two positive integers [height, width].")
    counts = rle["counts"]
    if isinstance(counts, list):
        # Uncompressed RLE (run lengths as numbers): compress it first.
        if not all(isinstance(v, int) and v >= 0 for v in counts) or sum(counts) != size[0] * size[1]:
            raise GeometryError("Uncompressed RLE counts must be non-negative integers summing to height*width.")
        return coco_mask.frPyObjects({"size": list(size), "counts": counts}, size[0], size[1])
    if isinstance(counts, str):
        return {"size": list(size), "counts": counts.encode("ascii")}
    raise GeometryError("RLE counts must be a string (compressed) or a list of integers.")


def rle_decode(rle: Rle) -> np.ndarray:
    """uint8 mask of shape (height, width) with values 0/1."""
    try:
        return coco_mask.decode(_rle_for_pycocotools(rle)).astype(np.uint8)
    except GeometryError:
        raise
    except Exception as exc:  # pycocotools raises bare errors on corrupt counts
        raise GeometryError(f"Invalid RLE: {exc}") from exc


def rle_normalize(rle: Rle) -> Rle:
    """The canonical compressed form of any valid RLE (checks that it decodes)."""
    return rle_encode(rle_decode(rle))


def rle_area(rle: Rle) -> int:
    return int(coco_mask.area(_rle_for_pycocotools(rle)))


def rle_bbox(rle: Rle) -> list[float]:
    """[x, y, width, height] of the mask's pixels; [0, 0, 0, 0] when empty."""
    return [float(v) for v in coco_mask.toBbox(_rle_for_pycocotools(rle))]


def _simplify(contour: np.ndarray, epsilon: float) -> np.ndarray:
    if epsilon > 0:
        return cv2.approxPolyDP(contour, epsilon, True)
    return contour


def mask_to_polygons(mask: np.ndarray, *, epsilon: float = 0.0, min_area: float = 0.0) -> Polygons:
    """Parts with holes tracing the mask; epsilon (pixels) simplifies, min_area drops specks.

    The mask is traced at twice its resolution so each ring runs a quarter pixel inside the mask's
    boundary: every boundary pixel's centre lies inside the ring and every outside pixel's centre
    outside, so `polygons_to_mask` gives back the same pixels when epsilon is 0.
    """
    if mask.ndim != 2:
        raise GeometryError(f"A mask must be 2-D, got shape {mask.shape}.")
    doubled = np.repeat(np.repeat((mask > 0).astype(np.uint8), 2, axis=0), 2, axis=1)
    # RETR_CCOMP: a two-level hierarchy, outer boundaries and the holes directly inside them;
    # an island inside a hole comes back as another outer boundary, i.e. another part.
    contours, hierarchy = cv2.findContours(doubled, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]  # rows: [next, previous, first_child, parent]

    def ring(contour: np.ndarray) -> Ring | None:
        simplified = _simplify(contour, epsilon * 2).reshape(-1, 2).astype(np.float64)
        if len(simplified) < 3:
            return None
        # Doubled-grid pixel k has its centre at continuous coordinate (k + 0.5) / 2.
        return [round(float(v), 2) for v in ((simplified + 0.5) / 2).reshape(-1)]

    parts: Polygons = []
    for index, (_, _, first_child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        if min_area and cv2.contourArea(contours[index]) / 4 < min_area:
            continue
        outer = ring(contours[index])
        if outer is None:
            continue
        part: Part = [outer]
        child = first_child
        while child != -1:
            if not min_area or cv2.contourArea(contours[child]) / 4 >= min_area:
                hole = ring(contours[child])
                if hole is not None:
                    part.append(hole)
            child = hierarchy[child][0]
        parts.append(part)
    return parts


def validate_polygons(polygons: object, *, width: int, height: int, limits: GeometryLimits | None = None) -> Polygons:
    """The polygons as floats, or GeometryError when malformed, too large or outside the image.

    Every check runs on the JSON values as parsed, before any numpy or OpenCV call.
    """
    limits = limits or GeometryLimits()
    if not isinstance(polygons, list):
        raise GeometryError("Polygons must be a list of parts, each a list of rings [x0, y0, x1, y1, ...].")
    if len(polygons) > limits.max_parts:
        raise GeometryError(f"Too many polygon parts ({len(polygons)} > {limits.max_parts}).")
    vertices = sum(
        len(ring) // 2 for part in polygons if isinstance(part, list) for ring in part if isinstance(ring, list)
    )
    if vertices > limits.max_vertices:
        raise GeometryError(f"Too many polygon vertices ({vertices} > {limits.max_vertices}).")
    clean: Polygons = []
    for part in polygons:
        if not isinstance(part, list) or not part:
            raise GeometryError("Each part must be a non-empty list of rings (outer ring first, then holes).")
        clean_part: Part = []
        for ring in part:
            if not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2:
                raise GeometryError("Each ring must be a flat list of at least 3 points [x0, y0, x1, y1, ...].")
            if not all(_is_number(v) for v in ring):
                raise GeometryError("Ring coordinates must be finite numbers.")
            xs, ys = ring[0::2], ring[1::2]
            if min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height:
                raise GeometryError(f"A ring lies outside the image ({width}x{height}).")
            clean_part.append([float(v) for v in ring])
        clean.append(clean_part)
    return clean


def _rings_mask(rings: Sequence[Ring], width: int, height: int) -> np.ndarray:
    # pycocotools' own polygon rasteriser, so masks match what COCO tools compute from polygons.
    encoded = coco_mask.frPyObjects([list(r) for r in rings], height, width)
    return coco_mask.decode(coco_mask.merge(encoded)).astype(bool)


def polygons_to_mask(polygons: Polygons, *, width: int, height: int) -> np.ndarray:
    """uint8 mask: the union of the parts, each its outer ring minus its holes."""
    mask = np.zeros((height, width), dtype=bool)
    for part in polygons:
        part_mask = _rings_mask(part[:1], width, height)
        if len(part) > 1:
            part_mask &= ~_rings_mask(part[1:], width, height)
        mask |= part_mask
    return mask.astype(np.uint8)


def polygons_to_rle(polygons: Polygons, *, width: int, height: int) -> Rle:
    if polygons and all(len(part) == 1 for part in polygons):
        # No holes (the usual save): pycocotools unions the rings' RLEs without a dense mask, giving
        # the runs that encoding polygons_to_mask's mask gives, in ~0.03 ms instead of ~10 ms for a
        # 1024 x 768 image (bench/load_saves.py; tests/annotator/test_geometry.py compares the two).
        merged = coco_mask.merge(coco_mask.frPyObjects([list(part[0]) for part in polygons], height, width), 0)
        return {"size": [int(merged["size"][0]), int(merged["size"][1])], "counts": merged["counts"].decode("ascii")}
    return rle_encode(polygons_to_mask(polygons, width=width, height=height))


def rle_to_polygons(rle: Rle, *, epsilon: float = 0.0, min_area: float = 0.0) -> Polygons:
    return mask_to_polygons(rle_decode(rle), epsilon=epsilon, min_area=min_area)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def validate_box(box: object, *, width: int, height: int) -> list[float]:
    """A bounding box [x, y, w, h] in image pixels (COCO's order), checked: four finite numbers, a
    positive width and height, inside the image. GeometryError otherwise."""
    if not isinstance(box, list) or len(box) != 4:
        raise GeometryError("A box must be [x, y, width, height] in image pixels.")
    if not all(_is_number(v) for v in box):
        raise GeometryError("Box coordinates must be finite numbers.")
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise GeometryError("A box needs a positive width and height.")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise GeometryError(f"The box lies outside the image ({width}x{height}).")
    return [x, y, w, h]


def box_polygons(box: Sequence[float]) -> Polygons:
    """The box as one rectangular ring (what masks-based writers and the canvas draw)."""
    x, y, w, h = box
    return [[[x, y, x + w, y, x + w, y + h, x, y + h]]]

"""Write a held-out synthetic set in the evaluate_clicks folder format.

    python -m segmentation.training.make_eval_set --seed 777 --count 300 --out DIR

Layout: DIR/images/imgNNNN_objK.png and DIR/masks/imgNNNN_objK.png (255 object, 0 background), one
object per mask; up to 3 objects share a scene, whose image file is hard-linked under each object's
stem (copied where links are not supported), so stems always pair one image with one mask.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from segmentation.training.eval_set import generate_eval_set


def write_eval_set(seed: int, count: int, out: Path) -> int:
    objects, images = generate_eval_set(seed, count)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    first_file: dict[str, Path] = {}
    per_image: dict[str, int] = {}
    for obj in objects:
        k = per_image.get(obj.image_key, 0)
        per_image[obj.image_key] = k + 1
        stem = f"{obj.image_key}_obj{k}"
        image_path = out / "images" / f"{stem}.png"
        if obj.image_key not in first_file:
            cv2.imwrite(str(image_path), cv2.cvtColor(images[obj.image_key], cv2.COLOR_RGB2BGR))
            first_file[obj.image_key] = image_path
        elif not image_path.exists():
            try:
                os.link(first_file[obj.image_key], image_path)
            except OSError:
                shutil.copyfile(first_file[obj.image_key], image_path)
        cv2.imwrite(str(out / "masks" / f"{stem}.png"), obj.foreground.astype(np.uint8) * 255)
    return len(objects)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    n = write_eval_set(args.seed, args.count, Path(args.out))
    print(f"wrote {n} objects to {args.out}")


if __name__ == "__main__":
    main()

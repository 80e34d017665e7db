"""COCO export at scale: a project of 10k images x 20 objects, exported as RLE COCO JSON.

Builds the project in a fresh SQLite database (rows bulk-created directly: no image files are needed
for a COCO file), then, in a child process that starts clean, measures
  baseline = iterating the same annotation and image rows the export reads (.values().iterator())
  export   = the full COCO export (rows -> pycocotools area/bbox -> JSON streamed to a temp file ->
             stored under its content hash), i.e. what the Celery task runs
and the child's peak RSS growth over each step (resource.getrusage maxrss), then the Python heap's
peak (tracemalloc) during a second, untimed export. Target: export <= 30 s, memory flat.
The RLEs are real: a pool of 400 distinct masks (ellipses, some with holes, some in two parts) on a
1024x768 image, assigned round-robin.

    .venv/bin/python bench/export_scale.py                      # 10,000 images x 20 objects
    .venv/bin/python bench/export_scale.py --images 50 --objects 5   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
WIDTH, HEIGHT = 1024, 768
POOL = 400


def _setup(var_dir: str) -> None:
    os.environ["ANNOTATOR_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)  # always the bench's own SQLite file
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _mask_pool(count: int, seed: int = 0) -> list[tuple[dict, list]]:
    import numpy as np

    from annotator import geometry

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    pool = []
    for index in range(count):
        cx, cy = rng.uniform(60, WIDTH - 60), rng.uniform(60, HEIGHT - 60)
        rx, ry = rng.uniform(10, 55), rng.uniform(10, 55)
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        if index % 3 == 0:  # a hole
            mask &= ((xx - cx) / (rx / 3)) ** 2 + ((yy - cy) / (ry / 3)) ** 2 > 1
        if index % 5 == 0:  # a second part
            mask |= ((xx - cx - rx - 20) / 8) ** 2 + ((yy - cy) / 8) ** 2 <= 1
        mask = mask.astype(np.uint8)
        pool.append((geometry.rle_encode(mask), geometry.mask_to_polygons(mask, epsilon=1.0)))
    return pool


def build(var_dir: str, images: int, objects: int) -> float:
    _setup(var_dir)
    from django.core.management import call_command
    from django.db import connection

    from annotator import geometry
    from annotator.models import Annotation, AnnotationStatus, Image, LabelClass, Project

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    project = Project.objects.create(name="Export scale")
    classes = [LabelClass.objects.create(project=project, name=f"class {i}", order=i) for i in range(5)]
    pool = [
        (rle, polygons, geometry.rle_bbox(rle), geometry.rle_area(rle))
        for rle, polygons in _mask_pool(min(POOL, images * objects))
    ]
    batch = 1000
    for start in range(0, images, batch):
        rows = [
            Image(
                project=project,
                file=f"originals/{n:064x}.png",
                display=f"display/{n:064x}.png",
                thumbnail=f"thumbnails/{n:064x}.jpg",
                original_name=f"image-{n:06d}.png",
                width=WIDTH,
                height=HEIGHT,
                sha256=f"{n:064x}",
                format="PNG",
            )
            for n in range(start, min(start + batch, images))
        ]
        created = Image.objects.bulk_create(rows)
        annotations = []
        for image in created:
            for k in range(objects):
                rle, polygons, bbox, area = pool[(image.pk * objects + k) % len(pool)]
                annotations.append(
                    Annotation(
                        image_id=image.pk,
                        label_class=classes[k % len(classes)],
                        rle=rle,
                        polygons=polygons,
                        bbox=bbox,
                        area=area,
                        source="sam_click",
                        status=AnnotationStatus.APPROVED,
                    )
                )
        Annotation.objects.bulk_create(annotations, batch_size=2000)
    connection.close()
    return time.perf_counter() - started


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(var_dir: str) -> dict:
    _setup(var_dir)
    from annotator import selectors_exports as rows
    from annotator.models import Export, Project
    from annotator.services.exports import export_run

    project = Project.objects.get(name="Export scale")
    rss_start = _maxrss_mib()
    started = time.perf_counter()
    count = sum(1 for _ in rows.export_image_rows(project=project))
    count += sum(1 for _ in rows.export_annotation_rows(project=project, statuses=["approved"], label_class_ids=None))
    baseline = time.perf_counter() - started
    rss_baseline = _maxrss_mib()
    export = Export.objects.create(project=project, format="coco", options={"segmentation": "rle"})
    started = time.perf_counter()
    export_run(export.pk)
    seconds = time.perf_counter() - started
    export.refresh_from_db()
    assert export.status == "done", export.error
    rss_end = _maxrss_mib()
    # A second export under tracemalloc (slower, so untimed): the Python heap's peak during an export.
    import tracemalloc

    again = Export.objects.create(project=project, format="coco", options={"segmentation": "rle"})
    tracemalloc.start()
    export_run(again.pk)
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "heap_peak_mib": heap_peak,
        "rss_end_mib": rss_end,
        "rows": count,
        "baseline_s": baseline,
        "export_s": seconds,
        "rss_start_mib": rss_start,
        "baseline_rss_growth_mib": rss_baseline - rss_start,
        "export_rss_growth_mib": rss_end - rss_baseline,
        "file_mib": export.file.size / 2**20,
        "annotations": export.summary["annotations"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--measure", metavar="VAR_DIR", help=argparse.SUPPRESS)  # child process entry
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="export-bench-") as var_dir:
        build_s = build(var_dir, args.images, args.objects)
        # A fresh process, so peak-RSS growth belongs to the export and not to building the data.
        child = subprocess.run(
            [sys.executable, __file__, "--measure", var_dir], capture_output=True, text=True, check=True
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"built {args.images} images x {args.objects} objects in {build_s:.1f} s")
    print(
        f"child process peak RSS: {result['rss_start_mib']:.0f} MiB after start-up, "
        f"{result['rss_end_mib']:.0f} MiB after the export"
    )
    print(
        "| images | annotations | baseline: iterate rows | COCO export (RLE) | export / baseline "
        "| peak RSS growth: iterate / export | Python heap peak (tracemalloc) | file |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.images} | {result['annotations']} | {result['baseline_s']:.2f} s | {result['export_s']:.2f} s "
        f"| {result['export_s'] / result['baseline_s']:.2f} | {result['baseline_rss_growth_mib']:.1f} MiB / "
        f"{result['export_rss_growth_mib']:.1f} MiB | {result['heap_peak_mib']:.1f} MiB | {result['file_mib']:.1f} MiB |"
    )


if __name__ == "__main__":
    main()

"""Click → mask drawn in real headless Chromium, as a labeler feels it, against a server round trip.

One command (`make bench-click`). Everything lives in a temporary folder (SQLite DB, media, decoder
cache): ./var is never touched. Steps:
1. seed the demo data, register a model whose decoder is the size of official vit_b's (MobileSAM
   vit_t with random weights: its prompt encoder + mask decoder are exactly vit_b's, 4.06M parameters),
   add the demo "shapes" scene scaled to 1024×768, 2048×1536 and 4096×3072 (uploaded through the
   upload service) and precompute their embeddings;
2. serve the app with gunicorn exactly as `scripts/run.sh` starts it (config.wsgi, 2 workers × 4
   threads, timeout 120; WEB_WORKERS overrides the worker count as there) on a free loopback port:
   the page, its files and the server-side decoder (POST /api/images/<id>/decode/) all come from it;
3. drive headless Chromium (Debian's, fresh profile) through the annotator page of each image:
   clicks are pointer events dispatched on the canvas, each timed from the pointerdown's timestamp to
   the end of the animation frame that drew its mask (window.__samBench, frontend/src/sam/bench.ts).
   Each round: Esc, a first click, then a refinement click (a second positive point, fed the first
   mask) — both after a cursor dwell of 150 ms at the click point (pointermove, 150 ms, click: the
   page may decode the hovered point before the click) and with none (pointermove and click in the
   same task); rounds alternate between the two;
4. open image → first mask drawn: from navigation start (a fresh page load) to the frame that drew
   the mask of a click dispatched as soon as the page said the decoder is ready;
5. the baseline from the same page: fetch() to the decode endpoint → PNG → createImageBitmap →
   drawn in the next animation frame, alone and while 4 simulated labelers (threads here) POST random
   clicks to the same server at 5 Hz each.
The last line is the headline: click = first clicks with dwell (all three image sizes),
first-mask = open → first mask drawn (all sizes). Goals (issue 13, this 2-core machine): click p50
≤ 50 ms, p95 ≤ 70 ms, refinement p50 ≤ 100 ms, first mask ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Same flags as the browser tests (tests/e2e/conftest.py): no network but localhost.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
]
VITB_SIZE_NAME = "vit_b-size decoder (vit_t weights, random init)"
USERNAME = "annotator1"
WARMUP_CLICKS = 5
IMAGE_SIZES = ((1024, 768), (2048, 1536), (4096, 3072))
DWELL_MS = 150

# Runs inside the page: n rounds of Esc, a first click, a refinement click (second positive point) at
# random image positions, each after `dwell` ms of the cursor resting on its point (0 = moved there
# and clicked in the same task); returns [[first latency, first worker ms], [refinement ...]] per round.
CLICK_LOOP_JS = """
async ({n, seed, width, height, dwell, refine}) => {
  const canvas = document.getElementById("canvas");
  const bench = window.__samBench;
  let notify = null;
  if (!bench.__patched) {
    const push = bench.clicks.push.bind(bench.clicks);
    bench.clicks.push = (...items) => { const r = push(...items); if (bench.__notify) bench.__notify(); return r; };
    bench.__patched = true;
  }
  const rect = canvas.getBoundingClientRect();
  const zoom = Math.min(rect.width / width, rect.height / height);
  const panX = (rect.width - width * zoom) / 2, panY = (rect.height - height * zoom) / 2;
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const click = async () => {
    const x = rect.left + panX + (0.05 + 0.9 * rand()) * width * zoom;
    const y = rect.top + panY + (0.05 + 0.9 * rand()) * height * zoom;
    const init = {clientX: x, clientY: y, button: 0, pointerId: 1, pointerType: "mouse", isPrimary: true, bubbles: true};
    canvas.dispatchEvent(new PointerEvent("pointermove", {...init, buttons: 0}));
    if (dwell > 0) await sleep(dwell);
    const before = bench.clicks.length;
    const drawn = new Promise((resolve, reject) => {
      bench.__notify = () => { if (bench.clicks.length > before) resolve(); };
      setTimeout(() => reject(new Error("no mask drawn within 30 s")), 30000);
    });
    canvas.dispatchEvent(new PointerEvent("pointerdown", {...init, buttons: 1}));
    canvas.dispatchEvent(new PointerEvent("pointerup", {...init, buttons: 0}));
    await drawn;
    const c = bench.clicks[before];
    return [c.drawn - c.start, c.decodeMs];
  };
  const out = [];
  for (let i = 0; i < n; i += 1) {
    window.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", code: "Escape", bubbles: true}));
    await frame();
    const first = await click();
    const second = refine ? await click() : null;
    out.push([first, second]);
    await frame();
  }
  return out;
}
"""

# A fresh page load: as soon as the decoder is ready, click the image's centre; the frame that drew
# that mask, in ms since navigation start (performance.now()'s origin on a new document).
FIRST_MASK_JS = """
async ({width, height}) => {
  const canvas = document.getElementById("canvas");
  const bench = window.__samBench;
  const rect = canvas.getBoundingClientRect();
  const zoom = Math.min(rect.width / width, rect.height / height);
  const x = rect.left + (rect.width - width * zoom) / 2 + 0.5 * width * zoom;
  const y = rect.top + (rect.height - height * zoom) / 2 + 0.5 * height * zoom;
  const init = {clientX: x, clientY: y, button: 0, pointerId: 1, pointerType: "mouse", isPrimary: true, bubbles: true};
  canvas.dispatchEvent(new PointerEvent("pointermove", {...init, buttons: 0}));
  canvas.dispatchEvent(new PointerEvent("pointerdown", {...init, buttons: 1}));
  canvas.dispatchEvent(new PointerEvent("pointerup", {...init, buttons: 0}));
  const deadline = performance.now() + 20000;
  while (bench.clicks.length === 0) {
    if (performance.now() > deadline) throw new Error("no first mask within 20 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  return [bench.ready, bench.clicks[0].drawn];
}
"""

# Runs inside the page: the same kind of click answered by the server, fetch() → bitmap drawn.
ROUNDTRIP_LOOP_JS = """
async ({n, seed, width, height, url, variant}) => {
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]*)/) || [])[1] || "";
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  document.body.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const body = JSON.stringify({points: [[(0.05 + 0.9 * rand()) * width, (0.05 + 0.9 * rand()) * height]], labels: [1], variant});
    const start = performance.now();
    const response = await fetch(url, {method: "POST", credentials: "same-origin", body,
                                       headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}});
    if (!response.ok) throw new Error(`decode endpoint: HTTP ${response.status}`);
    const bitmap = await createImageBitmap(await response.blob());
    // Drawn in the next frame, as the annotator draws its own masks.
    await new Promise((r) => requestAnimationFrame(() => { ctx.clearRect(0, 0, width, height); ctx.drawImage(bitmap, 0, 0); r(); }));
    out.push(performance.now() - start);
    bitmap.close();
  }
  canvas.remove();
  return out;
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stats(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(np.percentile(array, 50)), float(np.percentile(array, 95))


def prepare(var_dir: Path) -> dict:
    """Seed the temporary DB and precompute embeddings; returns ids the run needs."""
    import io

    import django

    os.environ["ANNOTATOR_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("DATABASE_URL", None)
    # The filesystem broker (seeding enqueues embeddings nobody consumes here) needs its folders.
    for folder in ("queue", "processed", "control"):
        (var_dir / "broker" / folder).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    django.setup()
    import cv2
    import torch
    from django.core.management import call_command
    from PIL import Image as PILImage

    from annotator.management.commands.seed_demo import demo_shapes_scene
    from annotator.models import Project
    from annotator.services.images import images_ingest
    from segmentation.models import Architecture, Embedding
    from segmentation.sam.loader import build_sam
    from segmentation.services.embeddings import embedding_compute
    from segmentation.services.models import default_sam_model, sam_model_register

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    project = Project.objects.get(name="Demo")
    default = default_sam_model()
    checkpoint = var_dir / "vitb-size-decoder.pt"
    torch.manual_seed(0)
    torch.save(build_sam("vit_t").state_dict(), checkpoint)
    vitb_size = sam_model_register(name=VITB_SIZE_NAME, architecture=Architecture.VIT_T, checkpoint_path=checkpoint)
    # The demo's shapes scene at the three sizes, uploaded as a person would (PNG through the ingest service).
    scene, _ = demo_shapes_scene()
    files = []
    for width, height in IMAGE_SIZES:
        buffer = io.BytesIO()
        PILImage.fromarray(cv2.resize(scene, (width, height), interpolation=cv2.INTER_CUBIC)).save(buffer, "PNG")
        buffer.seek(0)
        files.append((f"shapes-{width}x{height}.png", buffer))
    report = images_ingest(project=project, files=files, user=None)
    if len(report.accepted) != len(IMAGE_SIZES):
        raise RuntimeError(f"upload refused: {report.rejected}")
    images = sorted(report.accepted, key=lambda image: image.width)
    for model, target in [(vitb_size, image) for image in images] + [(default, images[0])]:
        embedding, _ = Embedding.objects.get_or_create(
            image_sha256=target.sha256, model_sha256=model.checkpoint_sha256, defaults={"model": model}
        )
        # The encoder reads the image's display rendition (what the upload path names as the source).
        Embedding.objects.filter(pk=embedding.pk).update(source_name=target.display.name, status="pending", error="")
        embedding_compute(embedding.pk)
    Project.objects.filter(pk=project.pk).update(sam_model=vitb_size)
    return {
        "project": project.pk,
        "images": [{"image": image.pk, "width": image.width, "height": image.height} for image in images],
        "models": {"vit_b-size": vitb_size.pk, "default": default.pk},
    }


def start_server(var_dir: Path, port: int) -> subprocess.Popen:
    """gunicorn as scripts/run.sh starts it (same module, workers, threads, timeout, own control socket)."""
    env = {**os.environ, "ANNOTATOR_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    log = open(var_dir / "server.log", "wb")  # noqa: SIM115 (the server process writes it until stopped)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("WEB_WORKERS", "2"),
            "--threads",
            "4",
            "--timeout",
            "120",
            "--control-socket",
            str(var_dir / "gunicorn.ctl"),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"server exited: {(var_dir / 'server.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


class Labelers:
    """n simulated labelers POSTing random one-point clicks to the decode endpoint at `hz` each."""

    def __init__(self, port: int, image: dict, cookies: dict[str, str], n: int = 4, hz: float = 5.0) -> None:
        self.port, self.image, self.cookies, self.n, self.period = port, image, cookies, n, 1.0 / hz
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.threads = [threading.Thread(target=self._run, args=(seed,), daemon=True) for seed in range(n)]

    def __enter__(self) -> Labelers:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # let all four reach their rhythm
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {
            "Content-Type": "application/json",
            "Cookie": cookie,
            "X-CSRFToken": self.cookies["csrftoken"],
            "Referer": f"http://localhost:{self.port}/",
        }
        next_at = time.monotonic() + rng.random() * self.period
        while not self.stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += self.period
            point = [rng.uniform(0.05, 0.95) * self.image["width"], rng.uniform(0.05, 0.95) * self.image["height"]]
            started = time.perf_counter()
            conn.request(
                "POST",
                f"/api/images/{self.image['image']}/decode/",
                body=json.dumps({"points": [point], "labels": [1], "variant": "int8"}),
                headers=headers,
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"labeler got HTTP {response.status}")
            self.latencies.append((time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="timed rounds per image size and dwell setting")
    parser.add_argument("--opens", type=int, default=5, help="page opens per image size for open → first mask")
    parser.add_argument("--roundtrips", type=int, default=100, help="timed server round trips (alone, and loaded)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, DB)")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # onnxruntime's quantizer logs every tensor at INFO
    if not Path(CHROMIUM_PATH).exists():
        sys.exit(f"Chromium not found at {CHROMIUM_PATH}")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls beside Playwright's sync loop
    var_dir = Path(tempfile.mkdtemp(prefix="click-bench-"))
    load_before = os.getloadavg()
    t_all = time.monotonic()
    print(f"preparing (temporary folder {var_dir}) ...", flush=True)
    info = prepare(var_dir)
    from annotator.management.commands.seed_demo import DEMO_PASSWORD

    port = free_port()
    server = start_server(var_dir, port)
    base = f"http://localhost:{port}"  # the resolver rules let Chromium resolve only localhost
    rows: list[tuple[str, list[float]]] = []
    series: dict[str, list[float]] = {"first dwell": [], "first none": [], "refine dwell": [], "refine none": []}
    first_mask: list[float] = []
    loads: list[float] = []
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(var_dir / "chromium-profile"), executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
            )
            context.set_default_timeout(60_000)
            context.add_init_script("window.__samBench = { clicks: [], ready: null };")
            page = context.pages[0] if context.pages else context.new_page()
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", USERNAME)
            page.fill("input[name=password]", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")

            def open_page(image: dict) -> None:
                page.goto(f"{base}/images/{image['image']}/annotate/")
                page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=60_000)
                if not page.evaluate("crossOriginIsolated"):
                    raise RuntimeError("the page is not cross-origin isolated: the decoder would run on 1 thread")

            for image in info["images"]:
                size = f"{image['width']}×{image['height']}"
                loop_args = {"seed": 12345, "width": image["width"], "height": image["height"], "refine": True}
                open_page(image)
                page.evaluate(CLICK_LOOP_JS, {**loop_args, "n": WARMUP_CLICKS, "dwell": DWELL_MS})
                per: dict[str, list[float]] = {key: [] for key in series}
                worker: list[float] = []
                # Alternate dwell / no dwell in blocks of 10 rounds, so both see the same machine load.
                done = 0
                while done < args.rounds:
                    block = min(10, args.rounds - done)
                    for dwell, tag in ((DWELL_MS, "dwell"), (0, "none")):
                        out = page.evaluate(
                            CLICK_LOOP_JS, {**loop_args, "n": block, "dwell": dwell, "seed": 1000 + done}
                        )
                        per[f"first {tag}"] += [first[0] for first, _ in out]
                        per[f"refine {tag}"] += [second[0] for _, second in out]
                        worker += [first[1] for first, _ in out]
                    loads.append(os.getloadavg()[0])
                    done += block
                for key, values in per.items():
                    series[key] += values
                label = {
                    "first dwell": "first click, 150 ms dwell",
                    "first none": "first click, no dwell",
                    "refine dwell": "refinement click, 150 ms dwell",
                    "refine none": "refinement click, no dwell",
                }
                for key, values in per.items():
                    rows.append((f"{size} {label[key]}", values))
                rows.append((f"{size} (first clicks: decoder run in the worker)", worker))
                print(
                    f"  {size}: first click p50 {stats(per['first dwell'])[0]:.1f} ms (dwell), "
                    f"{stats(per['first none'])[0]:.1f} ms (none); refinement p50 {stats(per['refine dwell'])[0]:.1f} / "
                    f"{stats(per['refine none'])[0]:.1f} ms",
                    flush=True,
                )
                readies, masks = [], []
                for _ in range(args.opens):
                    open_page(image)
                    ready, drawn = page.evaluate(FIRST_MASK_JS, {"width": image["width"], "height": image["height"]})
                    readies.append(float(ready))
                    masks.append(float(drawn))
                first_mask += masks
                rows.append((f"{size} open image → decoder ready", readies))
                rows.append((f"{size} open image → first mask drawn", masks))

            first = info["images"][0]
            open_page(first)
            decode_url = f"/api/images/{first['image']}/decode/"
            rt_args = {
                "seed": 12345,
                "width": first["width"],
                "height": first["height"],
                "url": decode_url,
                "variant": "int8",
            }
            page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": WARMUP_CLICKS})
            roundtrip = page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": args.roundtrips})
            rows.append(("server round trip (gunicorn) 1024×768 int8", roundtrip))
            cookies = {c["name"]: c["value"] for c in context.cookies(base)}
            with Labelers(port, first, cookies) as labelers:
                loaded = page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": args.roundtrips})
            rows.append(("server round trip, + 4 labelers at 5 Hz", loaded))
            rows.append(("  (the 4 labelers' own requests)", labelers.latencies))
            context.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)

    load_after = os.getloadavg()
    print()
    print(f"{'measurement (ms)':<58} {'n':>5} {'p50':>8} {'p95':>8}")
    for name, values in rows:
        p50, p95 = stats(values)
        print(f"{name:<58} {len(values):>5} {p50:>8.1f} {p95:>8.1f}")
    print(
        f"\nChromium {subprocess.run([CHROMIUM_PATH, '--version'], capture_output=True, text=True).stdout.strip()}, "
        f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f} / during {min(loads):.2f}–{max(loads):.2f} "
        f"/ after {load_after[0]:.2f}, total {time.monotonic() - t_all:.0f} s"
    )
    print(
        "vit_b-size decoder, int8, first-click graph; all three image sizes pooled below; goals: click p50 ≤ 50, "
        "p95 ≤ 70, refinement p50 ≤ 100, first mask ≤ 300"
    )
    print(
        f"refinement p50 {stats(series['refine dwell'])[0]:.1f} p95 {stats(series['refine dwell'])[1]:.1f} (dwell), "
        f"p50 {stats(series['refine none'])[0]:.1f} (no dwell); first click no-dwell p50 "
        f"{stats(series['first none'])[0]:.1f} p95 {stats(series['first none'])[1]:.1f}"
    )
    click = series["first dwell"]
    print(
        f"click p50 {stats(click)[0]:.1f} p95 {stats(click)[1]:.1f}; roundtrip p50 {stats(roundtrip)[0]:.1f}; "
        f"roundtrip-loaded p50 {stats(loaded)[0]:.1f}; first-mask p50 {stats(first_mask)[0]:.1f}"
    )


if __name__ == "__main__":
    main()

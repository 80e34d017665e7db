"""Click → mask drawn in real headless Chromium, against the same click answered by a server round trip.

One command (`make bench-click`). Everything lives in a temporary folder (SQLite DB, media, decoder
cache): ./var is never touched. Steps:
1. seed the demo data, register a model whose decoder is the size of official vit_b's (MobileSAM
   vit_t with random weights: its prompt encoder + mask decoder are exactly vit_b's, 4.06M parameters)
   and precompute the "shapes" image's embedding under it and under the default model;
2. start `manage.py runserver` on a free loopback port in a subprocess (it also serves the
   server-side decoder, POST /api/images/<id>/decode/);
3. drive headless Chromium (Debian's, fresh profile) through the annotator page: clicks are
   pointer events dispatched on the canvas; each is timed from the pointerdown's timestamp to the end
   of the animation frame that drew the new mask (the page's window.__samBench hook, see main.ts).
   Before every click Esc clears the prompt, so each is a fresh one-point prompt;
4. the baseline from the same page: fetch() to the decode endpoint → PNG → createImageBitmap →
   drawn in the next animation frame, alone and while 4 simulated labelers (threads here) POST random
   clicks to the same server at 5 Hz each;
5. open image → first mask possible: navigation start → decoder warmed up with the embedding loaded.
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

# The page's start-up timeline: navigation milestones and the "sam:*" marks, ms since navigation start.
PHASES_JS = """
() => {
  const out = {};
  const nav = performance.getEntriesByType("navigation")[0];
  if (nav) { out["nav:response-end"] = nav.responseEnd; out["nav:dom-content-loaded"] = nav.domContentLoadedEventEnd; }
  for (const mark of performance.getEntriesByType("mark")) {
    if (mark.name.startsWith("sam:")) out[mark.name] = mark.startTime;
  }
  return out;
}
"""

# Runs inside the page: n fresh one-point prompts at random image positions; returns [latency, worker ms] pairs.
CLICK_LOOP_JS = """
async ({n, seed, width, height}) => {
  const canvas = document.getElementById("canvas");
  const bench = window.__samBench;
  let notify = null;
  const push = bench.clicks.push.bind(bench.clicks);
  bench.clicks.push = (...items) => { const r = push(...items); if (notify) notify(); return r; };
  const rect = canvas.getBoundingClientRect();
  const zoom = Math.min(rect.width / width, rect.height / height);
  const panX = (rect.width - width * zoom) / 2, panY = (rect.height - height * zoom) / 2;
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const out = [];
  for (let i = 0; i < n; i += 1) {
    window.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", code: "Escape", bubbles: true}));
    await frame();
    const x = rect.left + panX + (0.05 + 0.9 * rand()) * width * zoom;
    const y = rect.top + panY + (0.05 + 0.9 * rand()) * height * zoom;
    const before = bench.clicks.length;
    const drawn = new Promise((resolve, reject) => {
      notify = resolve;
      setTimeout(() => reject(new Error("no mask drawn within 10 s")), 10000);
    });
    const init = {clientX: x, clientY: y, button: 0, pointerId: 1, pointerType: "mouse", isPrimary: true, bubbles: true};
    canvas.dispatchEvent(new PointerEvent("pointerdown", {...init, buttons: 1}));
    canvas.dispatchEvent(new PointerEvent("pointerup", {...init, buttons: 0}));
    await drawn;
    const c = bench.clicks[before];
    out.push([c.drawn - c.start, c.decodeMs]);
  }
  return out;
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
    import torch
    from django.core.management import call_command

    from annotator.management.commands.seed_demo import SHAPES_IMAGE
    from annotator.models import Project
    from segmentation.models import Architecture, Embedding
    from segmentation.sam.loader import build_sam
    from segmentation.services.embeddings import embedding_compute
    from segmentation.services.models import default_sam_model, sam_model_register

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    project = Project.objects.get(name="Demo")
    image = project.images.get(original_name=f"{SHAPES_IMAGE}.png")
    default = default_sam_model()
    checkpoint = var_dir / "vitb-size-decoder.pt"
    torch.manual_seed(0)
    torch.save(build_sam("vit_t").state_dict(), checkpoint)
    vitb_size = sam_model_register(name=VITB_SIZE_NAME, architecture=Architecture.VIT_T, checkpoint_path=checkpoint)
    # The image before it, for moving between images in place (A/D).
    previous = project.images.filter(pk__lt=image.pk).order_by("-pk").first()
    for model, target in ((default, image), (vitb_size, image), (vitb_size, previous)):
        embedding, _ = Embedding.objects.get_or_create(
            image_sha256=target.sha256, model_sha256=model.checkpoint_sha256, defaults={"model": model}
        )
        embedding_compute(embedding.pk)
    return {
        "project": project.pk,
        "image": image.pk,
        "previous": previous.pk,
        "width": image.width,
        "height": image.height,
        "models": {"vit_b-size": vitb_size.pk, "default": default.pk},
    }


def move_in_place(page, key: str, image_id: int, wait_ahead: bool) -> float:
    """Press A or D on a ready annotator page; ms from the move's start to the other image's "ready"
    (both on the page's clock: window.__samBench.navigationStart and .ready)."""
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=60_000)
    page.wait_for_selector("#annotator-root[data-image-loaded=true]", timeout=60_000)
    page.wait_for_timeout(1500)  # a labeler's time on the image: the page's own start-up work is done
    if wait_ahead:
        page.wait_for_selector("#annotator-root[data-next-ahead=ready]", timeout=60_000)
    page.keyboard.press(key)
    page.wait_for_selector(f"#annotator-root[data-image-id='{image_id}'][data-decoder=ready]", timeout=60_000)
    # Polled through evaluate: the app's Content-Security-Policy refuses wait_for_function's eval.
    for _ in range(1200):
        if page.evaluate("window.__samBench.ready !== null"):
            break
        page.wait_for_timeout(50)
    return float(page.evaluate("window.__samBench.ready - window.__samBench.navigationStart"))


def use_model(project_id: int, model_id: int) -> None:
    from annotator.models import Project

    Project.objects.filter(pk=project_id).update(sam_model_id=model_id)


def start_server(var_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ANNOTATOR_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    log = open(var_dir / "server.log", "wb")  # noqa: SIM115 (the server process writes it until stopped)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
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
    parser.add_argument(
        "--clicks", type=int, default=200, help="timed clicks per configuration (>= 200 for the record)"
    )
    parser.add_argument("--opens", type=int, default=7, help="page opens for open image → first mask")
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
    first_mask: list[float] = []
    phases: dict[str, list[float]] = {}
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(var_dir / "chromium-profile"), executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
            )
            context.set_default_timeout(60_000)
            context.add_init_script("window.__samBench = { clicks: [], ready: null };")
            page = context.pages[0] if context.pages else context.new_page()
            page.set_viewport_size({"width": 1280, "height": 860})
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", USERNAME)
            page.fill("input[name=password]", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")
            annotate = f"{base}/images/{info['image']}/annotate/"
            loop_args = {"seed": 12345, "width": info["width"], "height": info["height"]}

            def open_page(variant: str, first_click: bool = True, extra: str = "") -> float:
                page.goto(f"{annotate}?decoder={variant}{'' if first_click else '&firstclick=0'}{extra}")
                page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=60_000)
                if not page.evaluate("crossOriginIsolated"):
                    raise RuntimeError("the page is not cross-origin isolated: the decoder would run on 1 thread")
                ready = float(page.evaluate("window.__samBench.ready"))
                # The page's performance marks (frontend/src/sam/phases.ts), ms since navigation start.
                for name, at in page.evaluate(PHASES_JS).items():
                    phases.setdefault(name, []).append(at)
                return ready

            # Registered graphs are low-res; "full graph" = ?firstclick=0 (no prep / first-click split).
            configs = [
                ("vit_b-size", "fp32", True),
                ("vit_b-size", "int8", True),
                ("vit_b-size", "int8", False),
                ("default", "fp32", True),
                ("default", "int8", True),
            ]
            for model_name, variant, first_click in configs:
                use_model(info["project"], info["models"][model_name])
                open_page(variant, first_click)
                page.evaluate(CLICK_LOOP_JS, {**loop_args, "n": WARMUP_CLICKS})
                pairs = page.evaluate(CLICK_LOOP_JS, {**loop_args, "n": args.clicks})
                times = [total for total, _ in pairs]
                rows.append((f"in-browser {model_name} {variant}{'' if first_click else ' full graph'}", times))
                print(f"  {rows[-1][0]}: p50 {stats(times)[0]:.1f} ms", flush=True)
                # The profile: the worker's own time (feeds + session.run + threshold/upscale).
                rows.append(("  (of which in the worker)", [worker for _, worker in pairs]))

            use_model(info["project"], info["models"]["vit_b-size"])
            # Open → ready, then the first click on that page (it pays what start-up left undone),
            # without a warm-up run before "ready" (the default) and with one (?warmup=1).
            for label, extra in (("", ""), (", with warm-up", "&warmup=1")):
                phases.clear()  # this set's opens only (same page, cached files: the 2nd+ open)
                readies, clicks = [], []
                for _ in range(args.opens):
                    readies.append(open_page("int8", extra=extra))
                    clicks.append(page.evaluate(CLICK_LOOP_JS, {**loop_args, "n": 1})[0][0])
                if not label:
                    first_mask = readies
                rows.append((f"open image → first mask (vit_b-size int8{label})", readies))
                rows.append((f"  first click after open{label}", clicks))
                rows.append((f"  open → first click's mask drawn{label}", [r + c for r, c in zip(readies, clicks)]))
                for name, values in sorted(phases.items(), key=lambda item: float(np.median(item[1]))):
                    rows.append((f"  phase {name}{label}", values))

            # Moving between images in place (A/D): the tab's worker, runtime and sessions stay; the
            # next image's embedding was handed to the worker while the labeler was on this one.
            ahead_moves, back_moves = [], []
            page.goto(f"{base}/images/{info['previous']}/annotate/")
            for _ in range(args.opens):
                ahead_moves.append(move_in_place(page, "d", info["image"], wait_ahead=True))
                back_moves.append(move_in_place(page, "a", info["previous"], wait_ahead=False))
            rows.append(("next image in place → first mask (vit_b-size int8, embedding handed ahead)", ahead_moves))
            rows.append(("previous image in place → first mask (its embedding still in the worker)", back_moves))

            decode_url = f"/api/images/{info['image']}/decode/"
            rt_args = {**loop_args, "url": decode_url, "variant": "int8"}
            page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": WARMUP_CLICKS})
            roundtrip = page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": args.clicks})
            rows.append(("server round trip vit_b-size int8", roundtrip))
            cookies = {c["name"]: c["value"] for c in context.cookies(base)}
            with Labelers(port, info, cookies) as labelers:
                loaded = page.evaluate(ROUNDTRIP_LOOP_JS, {**rt_args, "n": args.clicks})
            rows.append(("server round trip, + 4 labelers at 5 Hz", loaded))
            rows.append(("  (the 4 labelers' own requests)", labelers.latencies))
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)

    load_after = os.getloadavg()
    print()
    print(f"{'measurement (ms)':<46} {'n':>5} {'p50':>8} {'p95':>8}")
    for name, values in rows:
        p50, p95 = stats(values)
        print(f"{name:<46} {len(values):>5} {p50:>8.1f} {p95:>8.1f}")
    print(
        f"\nChromium {subprocess.run([CHROMIUM_PATH, '--version'], capture_output=True, text=True).stdout.strip()}, "
        f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f} / after {load_after[0]:.2f}, "
        f"total {time.monotonic() - t_all:.0f} s"
    )
    click = dict(rows)["in-browser vit_b-size int8"]
    print("headline click = vit_b-size decoder, int8")
    print(
        f"click p50 {stats(click)[0]:.1f} p95 {stats(click)[1]:.1f}; roundtrip p50 {stats(roundtrip)[0]:.1f}; "
        f"roundtrip-loaded p50 {stats(loaded)[0]:.1f}; first-mask p50 {stats(first_mask)[0]:.1f}"
    )


if __name__ == "__main__":
    main()

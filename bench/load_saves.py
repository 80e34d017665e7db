"""Annotation saves under load: N clients saving with optimistic concurrency against gunicorn on PostgreSQL.

Issue 15's goal at 50 clients on a 2-core machine: p99 <= 500 ms, 0 errors, 0 lost updates.

What it does, all on loopback and on its own: creates the PostgreSQL database `annotator_bench`
(dropped again at the end), migrates it, seeds a project with one annotator per two clients (two tabs
of one labeler, so the two race on the same annotations and some saves get 409), one image and a
few annotations per annotator; starts gunicorn with scripts/run.sh's worker/thread/timeout options
(tests/web_server.py) and the filesystem broker in a temporary var dir; then runs 1 client (the
baseline) and N clients, each for T seconds. Each client loops: think, then PATCH one annotation of
its labeler with the version it last saw (new polygons and a click_count naming the write), or with
probability --create-share POST a new one. A 409 gives the current version; the client goes on.

Reported per run: saves/s, p50/p95/p99 latency of every request, errors (non-2xx other than 409,
and failed connections), conflicts (409). Lost updates are checked against the database afterwards:
two acknowledged writes with the same resulting version, a client seeing an annotation's version go
backwards, the row not holding the payload of its highest acknowledged version, or an acknowledged
create that is missing. Load average (os.getloadavg) is sampled during each run: the machine may be
shared.

    .venv/bin/python bench/load_saves.py [--clients 50] [--seconds 30] [--think-ms 0]

Last line: clients N: p50 .. p95 .. p99 ..; errors E; lost L; throughput T/s (1 client p50 B ms,
ratio R); load L1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.web_server import run_gunicorn, server_env  # noqa: E402

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
IMAGE_W, IMAGE_H = 1024, 768
ANNOTATIONS_PER_LABELER = 4
REQUEST_TIMEOUT_S = 30
MAX_REQUESTS_PER_CLIENT = 100_000  # a bound on each loop besides the clock


# --- database ---------------------------------------------------------------------------------


def _admin():
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    return connection


def _admin_execute(*statements: str) -> None:
    # Not `with connection:` (psycopg2 would wrap it in a transaction, where DROP DATABASE fails).
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def database_create(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- seeding (Django in this process, on the bench database) ----------------------------------


@dataclass
class Labeler:
    token: str
    image_id: int
    annotation_ids: list[int]


def seed(labelers: int) -> tuple[int, list[Labeler]]:
    """A project with `labelers` annotators, each with an image and a few annotations. Returns the
    label class id and the labelers."""
    from rest_framework.authtoken.models import Token

    from annotator.models import Role
    from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user

    users = [make_user(f"bench{index}") for index in range(labelers)]
    project = make_project("load bench", members=dict.fromkeys(users, Role.ANNOTATOR))
    label_class = make_label_class(project, "object")
    seeded = []
    for index, user in enumerate(users):
        image = make_image(project, width=IMAGE_W, height=IMAGE_H, name=f"bench{index}.png")
        annotations = [
            make_annotation(image, label_class=label_class, author=user, polygons=_square(index, k))
            for k in range(ANNOTATIONS_PER_LABELER)
        ]
        token = Token.objects.create(user=user).key
        seeded.append(Labeler(token=token, image_id=image.pk, annotation_ids=[a.pk for a in annotations]))
    return label_class.pk, seeded


def _square(a: int, b: int) -> list:
    x = 20 + (a * 37 + b * 101) % (IMAGE_W - 200)
    y = 20 + (a * 53 + b * 29) % (IMAGE_H - 200)
    size = 40 + (b % 5) * 10
    return [[[x, y, x + size, y, x + size, y + size, x, y + size]]]


# --- clients ------------------------------------------------------------------------------------


@dataclass
class Ack:
    annotation_id: int
    version: int
    key: int  # click_count written: client * 1_000_000 + sequence
    client: int


@dataclass
class Run:
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    conflicts: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    non_monotonic: int = 0
    load: list[float] = field(default_factory=list)
    web_cpu_s: float = 0.0  # CPU seconds the gunicorn processes spent during the run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


def _client(
    index: int,
    labeler: Labeler,
    label_class: int,
    port: int,
    deadline: float,
    think_s: float,
    create_share: float,
    run: Run,
) -> None:
    rng = random.Random(index)
    headers = {"Authorization": f"Token {labeler.token}", "Content-Type": "application/json"}
    known: dict[int, int] = dict.fromkeys(labeler.annotation_ids, 0)  # annotation -> version seen (0: unknown)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    for sequence in range(MAX_REQUESTS_PER_CLIENT):
        if think_s:
            time.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
        if time.monotonic() >= deadline:
            break
        key = index * 1_000_000 + sequence
        creating = rng.random() < create_share
        if creating:
            method, path = "POST", f"/api/images/{labeler.image_id}/annotations/"
            body = {"label_class": label_class, "source": "manual", "polygons": _square(index, sequence)}
        else:
            annotation_id = rng.choice(list(known))
            if known[annotation_id] == 0:  # first touch: read the version, as the page does on load
                status, data = _request(connection, "GET", f"/api/annotations/{annotation_id}/", None, headers)
                if status != 200:
                    _record_error(run, f"GET {status} {data}")
                    connection = _reconnect(connection, port)
                    continue
                known[annotation_id] = data["version"]
            method, path = "PATCH", f"/api/annotations/{annotation_id}/"
            body = {"version": known[annotation_id], "polygons": _square(index, sequence), "click_count": key}
        started = time.perf_counter()
        try:
            status, data = _request(connection, method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            _record_error(run, f"{method} {type(exc).__name__}: {exc}")
            connection = _reconnect(connection, port)
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        with run.lock:
            run.latencies_ms.append(elapsed_ms)
            if creating and status == 201:
                run.ok += 1
                run.created.append(data["id"])
            elif not creating and status == 200:
                run.ok += 1
                if data["version"] <= known[annotation_id]:
                    run.non_monotonic += 1
                known[annotation_id] = data["version"]
                run.acks.append(Ack(annotation_id, data["version"], key, index))
            elif not creating and status == 409:
                run.conflicts += 1
                known[annotation_id] = data["current_version"]
            else:
                run.errors += 1
                if len(run.error_samples) < 5:
                    run.error_samples.append(f"{method} {path} -> {status} {str(data)[:200]}")
        if creating and status == 201:
            known[data["id"]] = data["version"]
    connection.close()


def _request(connection, method: str, path: str, body, headers) -> tuple[int, dict]:
    payload = json.dumps(body) if body is not None else None
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"raw": raw[:200].decode(errors="replace")}
    return response.status, data


def _reconnect(connection, port: int):
    connection.close()
    return http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)


def _record_error(run: Run, message: str) -> None:
    with run.lock:
        run.errors += 1
        if len(run.error_samples) < 5:
            run.error_samples.append(message)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (gunicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_clients(
    clients: int,
    labelers: list[Labeler],
    label_class: int,
    port: int,
    seconds: float,
    think_s: float,
    create_share: float,
    web_pid: int,
) -> Run:
    """`clients` threads for `seconds`; client i is labeler i // 2's (two per labeler)."""
    run = Run(clients=clients)
    cpu_before = tree_cpu_seconds(web_pid)
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=_client,
            args=(i, labelers[i // 2], label_class, port, deadline, think_s, create_share, run),
            daemon=True,
        )
        for i in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # Bounded: a request stuck past its timeout leaves its daemon thread behind (counted as missing).
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline + REQUEST_TIMEOUT_S + 10:
        run.load.append(os.getloadavg()[0])
        time.sleep(1.0)
    run.seconds = time.monotonic() - started
    run.web_cpu_s = tree_cpu_seconds(web_pid) - cpu_before
    return run


# --- checking -------------------------------------------------------------------------------------


def lost_updates(runs: list[Run]) -> tuple[int, list[str]]:
    """Acknowledged writes the database does not show (see the module docstring)."""
    from annotator.models import Annotation

    acks: dict[int, list[Ack]] = defaultdict(list)
    for run in runs:
        for ack in run.acks:
            acks[ack.annotation_id].append(ack)
    rows = {row["id"]: row for row in Annotation.objects.values("id", "version", "click_count")}
    lost, notes = 0, []
    for annotation_id, writes in acks.items():
        versions = [w.version for w in writes]
        duplicates = len(versions) - len(set(versions))
        if duplicates:
            lost += duplicates
            notes.append(f"annotation {annotation_id}: {duplicates} acknowledged writes share a version")
        top = max(writes, key=lambda w: w.version)
        row = rows.get(annotation_id)
        if (
            row is None
            or row["version"] < top.version
            or (row["version"] == top.version and row["click_count"] != top.key)
        ):
            lost += 1
            notes.append(f"annotation {annotation_id}: holds {row}, last acknowledged v{top.version} key {top.key}")
    created = [pk for run in runs for pk in run.created]
    missing = set(created) - set(rows)
    lost += len(missing) + sum(run.non_monotonic for run in runs)
    if missing:
        notes.append(f"{len(missing)} acknowledged creates missing")
    return lost, notes


def queries_per_save(labeler: Labeler) -> tuple[int, int]:
    """SQL queries of one PATCH and one create, through Django's test client in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from annotator.models import Annotation

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {labeler.token}")
    annotation = Annotation.objects.get(pk=labeler.annotation_ids[0])
    with CaptureQueriesContext(connection) as patch:
        response = client.patch(
            f"/api/annotations/{annotation.pk}/",
            {"version": annotation.version, "polygons": _square(0, 99), "click_count": 1},
            format="json",
        )
    assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as create:
        response = client.post(
            f"/api/images/{labeler.image_id}/annotations/",
            {"label_class": annotation.label_class_id, "source": "manual", "polygons": _square(0, 98)},
            format="json",
        )
    assert response.status_code == 201, response.content
    return len(patch.captured_queries), len(create.captured_queries)


def summary(run: Run) -> str:
    requests = run.ok + run.conflicts + run.errors
    return (
        f"clients {run.clients}: {requests} requests in {run.seconds:.1f} s, {run.ok / run.seconds:.1f} saves/s; "
        f"p50 {run.percentile(50):.1f} ms p95 {run.percentile(95):.1f} ms p99 {run.percentile(99):.1f} ms; "
        f"409 conflicts {run.conflicts}; errors {run.errors}; "
        f"web CPU {1000 * run.web_cpu_s / max(1, requests):.1f} ms per request; load avg {statistics.median(run.load or [0]):.2f} "
        f"(max {max(run.load or [0]):.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="per run (the 1-client baseline, then N)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause between a client's saves")
    parser.add_argument("--create-share", type=float, default=0.1, help="share of saves that create")
    parser.add_argument("--web-workers", type=int, default=None, help="default: scripts/run.sh's WEB_WORKERS default")
    parser.add_argument("--database", default="annotator_bench")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="load-saves-"))
    for folder in ("media", "broker/queue", "broker/processed", "broker/control"):
        (var_dir / folder).mkdir(parents=True)
    database_url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{args.database}"
    env = server_env(
        database_url=database_url,
        media_root=str(var_dir / "media"),
        broker_url="filesystem://",
        ANNOTATOR_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_LOG_LEVEL="WARNING",
    )
    database_create(args.database)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO_ROOT, env=env, check=True
        )
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_MEDIA_ROOT", "CELERY_BROKER_URL")})
        os.environ.update({k: env[k] for k in ("ANNOTATOR_VAR_DIR", "DJANGO_SETTINGS_MODULE", "DJANGO_LOG_LEVEL")})
        import django

        django.setup()
        label_class, labelers = seed(max(1, (args.clients + 1) // 2) + 1)
        patch_queries, create_queries = queries_per_save(labelers[-1])  # a labeler no client uses
        print(f"SQL queries per save: PATCH {patch_queries}, create {create_queries}", flush=True)
        with run_gunicorn(env=env, run_dir=var_dir / "web", workers=args.web_workers) as web:
            think_s = args.think_ms / 1000
            run_clients(
                2, labelers, label_class, web.port, 3, think_s, args.create_share, web.process.pid
            )  # warm-up: imports, caches
            baseline = run_clients(
                1, labelers, label_class, web.port, args.seconds, think_s, args.create_share, web.process.pid
            )
            print(summary(baseline), flush=True)
            loaded = run_clients(
                args.clients, labelers, label_class, web.port, args.seconds, think_s, args.create_share, web.process.pid
            )
            print(summary(loaded), flush=True)
        lost, notes = lost_updates([baseline, loaded])
        for line in notes[:10] + loaded.error_samples + baseline.error_samples:
            print("  " + line)
        from django.db import connections

        connections.close_all()
        ratio = loaded.percentile(50) / baseline.percentile(50)
        print(
            f"clients {args.clients}: p50 {loaded.percentile(50):.0f} ms p95 {loaded.percentile(95):.0f} ms "
            f"p99 {loaded.percentile(99):.0f} ms; errors {loaded.errors + baseline.errors}; lost {lost}; "
            f"throughput {loaded.ok / loaded.seconds:.0f}/s (1 client p50 {baseline.percentile(50):.1f} ms, "
            f"ratio {ratio:.1f}); load avg {statistics.median(loaded.load or [0]):.2f}; think {args.think_ms:.0f} ms"
        )
        failed = lost or loaded.errors or baseline.errors
        if failed:
            print(f"  logs kept in {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
        return 1 if failed else 0
    finally:
        database_drop(args.database)


if __name__ == "__main__":
    sys.exit(main())

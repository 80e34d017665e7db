"""gunicorn started as scripts/run.sh starts it, for the fault tests and bench/load_saves.py.

The worker, thread and timeout options are read from scripts/run.sh itself, so a test or a bench
measures the server the run command serves; each instance gets its own `--control-socket` (the
default ~/.gunicorn/gunicorn.ctl is shared by every gunicorn of the user: FINDINGS). No pytest and no
Django settings here: the caller gives the environment (DATABASE_URL, DJANGO_MEDIA_ROOT, broker).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_SH = REPO_ROOT / "scripts" / "run.sh"
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 60


@dataclass
class Gunicorn:
    process: subprocess.Popen
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def run_sh_options(workers: int | None = None) -> list[str]:
    """`--workers N --threads T --timeout S` exactly as scripts/run.sh passes them (WEB_WORKERS's default
    unless `workers` is given)."""
    text = RUN_SH.read_text()
    default_workers = re.search(r'--workers "\$\{WEB_WORKERS:-(\d+)\}"', text)
    threads = re.search(r"--threads (\d+)", text)
    timeout = re.search(r"--timeout (\d+)", text)
    if not (default_workers and threads and timeout and "--control-socket" in text):
        raise RuntimeError(f"{RUN_SH} no longer starts gunicorn with --workers/--threads/--timeout/--control-socket")
    return [
        "--workers",
        str(workers or default_workers.group(1)),
        "--threads",
        threads.group(1),
        "--timeout",
        timeout.group(1),
    ]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(host, port, timeout=5)
        connection.request("GET", "/api/")
        connection.getresponse().read()
        connection.close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def run_gunicorn(
    *, env: dict[str, str], run_dir: Path, workers: int | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[Gunicorn]:
    """Yields a Gunicorn once it answers HTTP on a free loopback port; stops it afterwards (SIGTERM,
    then SIGKILL) unless the caller already did. Logs (error and access) go to run_dir/gunicorn.log."""
    host, port = "127.0.0.1", free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"{host}:{port}",
        *run_sh_options(workers),
        "--control-socket",
        str(run_dir / "gunicorn.ctl"),
        "--error-logfile",
        "-",
        *extra_args,
    ]
    log = open(log_path, "w+")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(process=process, host=host, port=port, log_path=log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _answers(host, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; its log:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def server_env(*, database_url: str, media_root: str, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of a gunicorn (or worker) that shares this process's database, media and broker."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_MEDIA_ROOT": media_root,
        "CELERY_BROKER_URL": broker_url,
        **extra,
    }

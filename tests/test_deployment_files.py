"""The compose file, Dockerfiles and shell scripts are wired together correctly.

No Docker engine runs in the test environment, so the compose file is checked as data: the
services, their commands, environment and profiles must match what the app expects.
"""

import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE = REPO_ROOT / "docker" / "docker-compose.yml"
SHELL_SCRIPTS = ["scripts/bootstrap.sh", "scripts/run.sh", "scripts/test.sh", ".ci/run", "docker/entrypoint.sh"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_every_service(compose):
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "bulk-worker", "beat", "gpu-worker"}


def test_app_services_point_at_compose_postgres_and_redis(compose):
    for name in ("web", "worker", "bulk-worker", "beat", "gpu-worker"):
        env = compose["services"][name]["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgres://annotator:")
            and "@postgres:5432/annotator" in env["DATABASE_URL"]
        )
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["DJANGO_DEBUG"] == "0"
        assert "DJANGO_SECRET_KEY:?" in env["DJANGO_SECRET_KEY"], "the secret key must be required, not defaulted"
        # Files written by the workers must be visible to the web server.
        assert "media:/data" in compose["services"][name]["volumes"]
        assert env["ANNOTATOR_VAR_DIR"] == "/data"
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_database_credentials_match(compose):
    postgres = compose["services"]["postgres"]["environment"]
    url = compose["services"]["web"]["environment"]["DATABASE_URL"]
    assert postgres["POSTGRES_USER"] == "annotator" and postgres["POSTGRES_DB"] == "annotator"
    assert postgres["POSTGRES_PASSWORD"] in url


def test_gpu_worker_is_opt_in_and_reserves_a_gpu(compose):
    gpu = compose["services"]["gpu-worker"]
    assert gpu["profiles"] == ["gpu"]
    for name in ("web", "worker", "postgres", "redis"):
        assert "profiles" not in compose["services"][name], f"{name} must start without a profile"
    command = gpu["command"]
    assert command[command.index("-Q") + 1] == "embeddings"
    assert "--pool=solo" in command
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    assert gpu["environment"]["SAM_DEVICE"] == "cuda"


def test_web_and_worker_roles_exist_in_entrypoint(compose):
    entrypoint = (REPO_ROOT / "docker" / "entrypoint.sh").read_text()
    for name in ("web", "worker", "bulk-worker", "beat"):
        role = compose["services"][name]["command"][0]
        assert f"  {role})" in entrypoint
    assert compose["services"]["web"]["build"]["dockerfile"] == "docker/Dockerfile"


def test_workers_consume_every_routed_queue_and_interactive_work_has_its_own():
    """Every queue settings route a task to is consumed by a compose worker and by scripts/run.sh;
    the interactive "embeddings" queue is never shared with a bulk queue (issue 15)."""
    from django.conf import settings

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    entrypoint = (REPO_ROOT / "docker" / "entrypoint.sh").read_text()
    run_sh = (REPO_ROOT / "scripts" / "run.sh").read_text()
    assert '"${WORKER_QUEUES:-embeddings}"' in entrypoint and '"${WORKER_QUEUES:-default,training}"' in entrypoint
    assert routed == {"embeddings", "default", "training"}
    assert "-Q embeddings " in run_sh and "-Q default,training " in run_sh
    for task in ("segmentation.tasks.embedding_compute", "annotator.tasks.reconcile_lost_work"):
        assert settings.CELERY_TASK_ROUTES[task]["queue"] == "embeddings"
    for task in ("annotator.tasks.auto_masks_compute", "annotator.tasks.export_run", "annotator.tasks.dicom_render"):
        assert settings.CELERY_TASK_ROUTES[task]["queue"] == "default"


def test_beat_runs_the_reconciler_and_the_run_script_starts_it():
    from django.conf import settings

    entries = settings.CELERY_BEAT_SCHEDULE.values()
    assert any(entry["task"] == "annotator.tasks.reconcile_lost_work" for entry in entries)
    assert "celery -A config beat" in (REPO_ROOT / "docker" / "entrypoint.sh").read_text()
    run_sh = (REPO_ROOT / "scripts" / "run.sh").read_text()
    assert "config beat" in run_sh
    # A dead worker is restarted, not a reason to stop the web server.
    assert "supervise" in run_sh


def test_dockerfiles_build_the_app_from_the_repository_root():
    cpu = (REPO_ROOT / "docker" / "Dockerfile").read_text()
    gpu = (REPO_ROOT / "docker" / "Dockerfile.gpu").read_text()
    assert "FROM python:3.11-slim" in cpu
    assert "download.pytorch.org/whl/cpu" in cpu
    assert "npm run build" in cpu, "the image must contain the built frontend"
    assert "FROM nvidia/cuda:" in gpu and "python3.11" in gpu
    for text in (cpu, gpu):
        assert "pip install -r requirements.txt" in text
        assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in text


@pytest.mark.parametrize("script", SHELL_SCRIPTS)
def test_shell_scripts_parse_and_are_executable(script):
    path = REPO_ROOT / script
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")


def test_test_script_refuses_an_empty_pytest_run():
    text = (REPO_ROOT / "scripts" / "test.sh").read_text()
    assert "pytest_status == 5" in text

"""Production settings pass Django's deployment checks, and reading settings touches no files."""

import secrets
import subprocess
import sys

import pytest

from tests.settings_subprocess import REPO_ROOT, clean_env, run_python

pytestmark = pytest.mark.slow


def production_env(var_dir) -> dict[str, str]:
    return {
        "ANNOTATOR_VAR_DIR": str(var_dir),
        "DJANGO_DEBUG": "0",
        # 54 characters from 64 symbols: passes Django's length and variety checks.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_SECURE_COOKIES": "1",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_ALLOWED_HOSTS": "annotator.example.org",
    }


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=clean_env(production_env(tmp_path / "var")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_with_debug_on(tmp_path):
    # Guards the test above: it must be able to fail.
    env = production_env(tmp_path / "var") | {"DJANGO_DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_reading_settings_and_setup_write_no_files(tmp_path):
    var_dir = tmp_path / "not-yet-created"
    code = (
        "import django\n"
        "from django.conf import settings\n"
        "settings.INSTALLED_APPS, settings.DATABASES, settings.CELERY_BROKER_URL\n"
        "django.setup()\n"
        "import config.celery, config.urls\n"
        "print('imported')\n"
    )
    result = run_python(code, {"ANNOTATOR_VAR_DIR": str(var_dir)})
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout
    assert not var_dir.exists(), f"settings or app loading created {sorted(p.name for p in var_dir.rglob('*'))}"

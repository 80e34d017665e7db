"""Runs Django code in a fresh interpreter with a controlled environment.

Settings are read once per process, so testing what the environment does to them needs a new
process each time; the parent's env is not inherited except for PATH/HOME-like basics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Only what Python itself needs; every setting must come from the test.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def clean_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return env


def run_python(code: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=clean_env(env), capture_output=True, text=True, timeout=timeout
    )


def settings_values(names: list[str], env: Mapping[str, str]) -> dict:
    """The named settings as JSON-able values, read in a fresh process with only `env` set."""
    code = (
        "import json\n"
        "from django.conf import settings\n"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))\n"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])

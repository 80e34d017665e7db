"""README.md and docs/ name only paths, make targets, management commands and npm scripts that exist
(scripts/check_docs.py), so a rename that forgets the docs fails the suite."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_DOCS = ROOT / "scripts" / "check_docs.py"


@pytest.fixture(scope="module")
def check_docs():
    spec = importlib.util.spec_from_file_location("check_docs", CHECK_DOCS)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the script's classes are created.
    sys.modules["check_docs"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["check_docs"]


def test_every_reference_in_readme_and_docs_resolves():
    result = subprocess.run(
        [sys.executable, str(CHECK_DOCS)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_reports_each_kind_of_stale_reference_with_its_line(check_docs, tmp_path):
    document = tmp_path / "guide.md"
    document.write_text(
        "\n".join(
            [
                "Real: `docs/models.md`, `frontend/src/sam/feeds.ts`, `sam/feeds.ts`, `static/dist/`, `make test`,",
                "`manage.py seed_demo`, `manage.py migrate`, `npm run build`, `image/png`, `onnxruntime-web/wasm`,",
                "`annotations.json`, `segmentation/sam/onnx_decoder.image_to_model_coords`.",
                "Stale: `annotator/gone.py` and [a link](missing.md).",
                "```bash",
                "make no-such-target && .venv/bin/python manage.py no_such_command",
                "./scripts/gone.sh",
                "```",
                "Then `npm run no-such-script`.",
            ]
        ),
        encoding="utf-8",
    )
    known = check_docs.load_known(ROOT)
    found = [(reference.line, reference.message) for reference in check_docs.check_document(document, known)]
    assert sorted(found) == [
        (4, "`annotator/gone.py` : no such file or folder"),
        (4, "link missing.md : no such file or folder"),
        (6, "make no-such-target : no such Makefile target"),
        (6, "manage.py no_such_command : no such management command"),
        (7, "./scripts/gone.sh : no such file or folder"),
        (9, "npm run no-such-script : no such script in frontend/package.json"),
    ]

"""frontend/openapi.yaml (and the TypeScript generated from it, frontend/src/api/schema.d.ts) stays
what the code says: regenerate the schema and compare. Fix with `cd frontend && npm run gen:api`."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command

COMMITTED = Path(settings.BASE_DIR) / "frontend" / "openapi.yaml"


def test_committed_openapi_schema_is_current(tmp_path):
    generated = tmp_path / "openapi.yaml"
    # --fail-on-warn: a view the generator cannot describe fails here, not in the browser.
    call_command("spectacular", "--file", str(generated), "--fail-on-warn", "--validate")
    assert COMMITTED.read_text() == generated.read_text(), (
        "frontend/openapi.yaml is stale: run `cd frontend && npm run gen:api` and commit both generated files."
    )

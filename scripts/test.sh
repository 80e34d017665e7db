#!/usr/bin/env bash
# Runs the whole test suite: Python (unit, integration, browser tests in headless Chromium)
# and the frontend unit tests (vitest). Exits non-zero when anything fails or nothing ran.
# Uses PostgreSQL when DATABASE_URL points at it, SQLite otherwise. Extra arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh

# Test runs write their databases, media and broker queues here, never into the dev ./var.
export ANNOTATOR_VAR_DIR="${ANNOTATOR_VAR_DIR:-$ROOT/var/test}"
mkdir -p "$ANNOTATOR_VAR_DIR/broker/queue" "$ANNOTATOR_VAR_DIR/broker/processed"

failed=0

set +e
.venv/bin/pytest "$@"
pytest_status=$?
set -e
if ((pytest_status == 5)); then
  echo "[test] pytest collected no tests: treating as a failure" >&2
  failed=1
elif ((pytest_status != 0)); then
  echo "[test] pytest failed with status $pytest_status" >&2
  failed=1
fi

if ! (cd frontend && npm test --silent); then
  echo "[test] frontend unit tests failed" >&2
  failed=1
fi

if ((failed)); then
  echo "[test] FAILED" >&2
  exit 1
fi
echo "[test] all passed"

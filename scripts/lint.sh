#!/usr/bin/env bash
# The static gates, in order, stopping at the first failure: Python lint and format, import
# contracts, types, docs references, then the frontend's ESLint and tsc. Needs what
# scripts/bootstrap.sh installs (.venv, frontend/node_modules); .ci/run calls it before the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '[lint] %s\n' "$*"; }

step "ruff check"
.venv/bin/ruff check .
step "ruff format --check"
.venv/bin/ruff format --check .
if [[ -f .importlinter ]]; then
  step "lint-imports"
  .venv/bin/lint-imports
fi
if grep -q '^\[tool\.mypy\]' pyproject.toml; then
  step "mypy"
  .venv/bin/mypy
fi
step "check_docs"
.venv/bin/python scripts/check_docs.py
step "frontend: eslint"
(cd frontend && npm run --silent lint)
step "frontend: tsc --noEmit"
(cd frontend && npm run --silent typecheck)
step "all gates passed"

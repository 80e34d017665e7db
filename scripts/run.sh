#!/usr/bin/env bash
# Runs the app on one machine: installs what is missing, migrates, seeds the demo project, then
# starts a Celery worker and the web server (http://127.0.0.1:8000) in the foreground.
# Ctrl+C stops both. Logs: $ANNOTATOR_VAR_DIR/log/ (default ./var/log/).
# Environment: HOST (default 127.0.0.1), PORT (default 8000), WEB_WORKERS (default 2), plus every
# setting in README.md. Safe to run again: each step is idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh

VAR_DIR="${ANNOTATOR_VAR_DIR:-$ROOT/var}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# The filesystem Celery broker (the default) needs its folders before any process sends a task.
mkdir -p "$VAR_DIR/log" "$VAR_DIR/media" "$VAR_DIR/static" "$VAR_DIR/broker/queue" "$VAR_DIR/broker/processed"

PY=.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput -v 0
# ensure_models registers the default SAM model and exports its decoder; older trees lack it.
if $PY manage.py help ensure_models >/dev/null 2>&1; then
  $PY manage.py ensure_models
fi
$PY manage.py seed_demo

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "[run] stopping web server and worker"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
# Background jobs of a script ignore SIGINT, so Ctrl+C reaches them only through this trap.
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# --pool=solo: one task at a time in the worker process itself, so the SAM encoder is loaded
# once and never shared across a fork.
.venv/bin/celery -A config worker -Q default,embeddings,training --pool=solo -l info \
  >>"$VAR_DIR/log/worker.log" 2>&1 &
pids+=($!)

.venv/bin/gunicorn config.wsgi:application \
  --bind "$HOST:$PORT" \
  --workers "${WEB_WORKERS:-2}" --threads 4 --timeout 120 \
  --access-logfile "$VAR_DIR/log/web-access.log" \
  --error-logfile "$VAR_DIR/log/web.log" &
pids+=($!)

echo "[run] serving http://$HOST:$PORT/  (worker log: $VAR_DIR/log/worker.log, web log: $VAR_DIR/log/web.log)"
echo "[run] press Ctrl+C to stop"
# If either process dies, stop the other too rather than serve a half-working app.
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "[run] the web server or the worker stopped (status $status); see $VAR_DIR/log/" >&2
exit "$status"

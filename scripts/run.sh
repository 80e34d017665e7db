#!/usr/bin/env bash
# Runs the app on one machine: installs what is missing, migrates, seeds the demo project, then
# starts two Celery workers (interactive embeddings; bulk work), Celery beat (the reconciler) and the
# web server (http://127.0.0.1:8000) in the foreground. A worker or beat that dies is started again
# (the reconciler re-sends the task it was running); the web server stopping stops everything.
# Ctrl+C stops all. Logs: $ANNOTATOR_VAR_DIR/log/ (default ./var/log/).
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
  echo "[run] stopping web server, workers and beat"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
# Background jobs of a script ignore SIGINT, so Ctrl+C reaches them only through this trap.
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# supervise NAME COMMAND...: run the command in the background, and again whenever it exits
# (killed, out of memory), logging to $VAR_DIR/log/NAME.log; SIGTERM stops the loop and the command.
supervise() {
  local name=$1
  shift
  (
    set +e # a command's non-zero exit is why this loop exists
    child=""
    trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi; exit 0' TERM INT
    while true; do
      "$@" >>"$VAR_DIR/log/$name.log" 2>&1 &
      child=$!
      wait "$child"
      echo "[run] $name exited (status $?); starting it again in 3 s (log: $VAR_DIR/log/$name.log)" >&2
      sleep 3 &
      wait $!
    done
  ) &
  pids+=($!)
}

# --pool=solo: one task at a time in the worker process itself, so the SAM encoder is loaded
# once and never shared across a fork. Interactive embeddings have a worker of their own, so a
# segment-everything run or a fine-tuning never delays an upload's embeddings.
supervise worker .venv/bin/celery -A config worker -Q embeddings --pool=solo -l info -n "interactive-$PORT@%h"
supervise bulk-worker .venv/bin/celery -A config worker -Q default,training --pool=solo -l info -n "bulk-$PORT@%h"
# Beat runs the reconciler (annotator.services.reconcile): lost tasks are sent again.
supervise beat .venv/bin/celery -A config beat -l info --schedule "$VAR_DIR/celerybeat-schedule"

# --control-socket: one per instance (the default ~/.gunicorn/gunicorn.ctl is shared by every
# gunicorn of the user on this machine).
.venv/bin/gunicorn config.wsgi:application \
  --bind "$HOST:$PORT" \
  --workers "${WEB_WORKERS:-2}" --threads 4 --timeout 120 \
  --control-socket "$VAR_DIR/gunicorn.ctl" \
  --access-logfile "$VAR_DIR/log/web-access.log" \
  --error-logfile "$VAR_DIR/log/web.log" &
web_pid=$!
pids+=("$web_pid")

echo "[run] serving http://$HOST:$PORT/  (logs: $VAR_DIR/log/worker.log, bulk-worker.log, beat.log, web.log)"
echo "[run] press Ctrl+C to stop"
# Workers and beat come back on their own; only the web server stopping ends the app.
set +e
wait "$web_pid"
status=$?
set -e
echo "[run] the web server stopped (status $status); see $VAR_DIR/log/web.log" >&2
exit "$status"

#!/usr/bin/env bash
# Container entry point. First argument picks the role:
#   web         migrate, ensure the default SAM model, serve with gunicorn on 0.0.0.0:8000
#   worker      Celery worker for the interactive "embeddings" queue (CPU): upload embeddings, renditions
#   bulk-worker Celery worker for the bulk queues "default,training" (segment everything, exports,
#               DICOM re-renders, decoder re-exports, fine-tuning), so bulk work never delays labelers
#   gpu-worker  Celery worker for the embeddings queue only, one process per GPU
#   beat        Celery beat: runs the reconciler (annotator.services.reconcile) every minute
#   anything else is run as a command (e.g. `python manage.py createsuperuser`).
set -euo pipefail
cd /app

# Only the web container migrates, so workers never race it on schema changes.
case "${1:-web}" in
  web)
    python manage.py migrate --noinput
    if python manage.py help ensure_models >/dev/null 2>&1; then
      python manage.py ensure_models
    fi
    exec gunicorn config.wsgi:application \
      --bind 0.0.0.0:8000 \
      --workers "${WEB_WORKERS:-3}" --threads "${WEB_THREADS:-4}" --timeout 120 \
      --access-logfile - --error-logfile -
    ;;
  worker)
    # --pool=solo: the SAM encoder is loaded once in this process and never crosses a fork.
    exec celery -A config worker -Q "${WORKER_QUEUES:-embeddings}" --pool=solo -l info \
      --hostname "interactive@%h"
    ;;
  bulk-worker)
    exec celery -A config worker -Q "${WORKER_QUEUES:-default,training}" --pool=solo -l info \
      --hostname "bulk@%h"
    ;;
  beat)
    # The schedule's state file lives on the data volume (the image's /app may be read-only).
    exec celery -A config beat -l info --schedule /data/celerybeat-schedule
    ;;
  gpu-worker)
    exec celery -A config worker -Q embeddings --pool=solo -l info \
      --hostname "gpu@%h${CUDA_VISIBLE_DEVICES:+-gpu$CUDA_VISIBLE_DEVICES}"
    ;;
  *)
    exec "$@"
    ;;
esac

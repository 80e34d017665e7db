"""Django settings.

Every value comes from the environment with an embedded default for one machine (SQLite, files and a
filesystem Celery broker under ./var/). Production sets DATABASE_URL, CELERY_BROKER_URL, S3 settings
and DJANGO_DEBUG=0. Nothing here touches the disk at import: the generated secret key is read lazily.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.functional import lazy

from config.secret import load_or_create_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Root of everything the embedded setup writes (database, media, broker queue, secret key).
VAR_DIR = Path(env.str("ANNOTATOR_VAR_DIR", default=str(BASE_DIR / "var")))


def _generated_secret_key() -> str:
    """Read ./var/secret_key, creating it on first use (called lazily, never at import)."""
    return load_or_create_secret_key(VAR_DIR / "secret_key")


# Signing key; default: a random key generated once and kept in ./var/secret_key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or lazy(_generated_secret_key, str)()
# Debug pages and verbose errors; default off.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Host names this server answers to; default: loopback only.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
# Origins trusted for CSRF behind a proxy (https://example.org); default none.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_vite",
    "axes",
    "annotator",
    "segmentation",
]

MIDDLEWARE = [
    # Outermost, so static files and error pages get the CSP and Permissions-Policy headers too.
    "config.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a locked-out login into the 429 of annotator.login_throttle.login_lockout_response; keep it last.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out account or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database; default: SQLite file ./var/db.sqlite3. Example: postgres://postgres@127.0.0.1:5432/annotator
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Seconds a web or worker thread keeps its PostgreSQL connection for the next request; default 60
    # (0: a new connection per request, which cost a third of the save throughput in
    # bench/load_saves.py). Checked before reuse, so a restarted database costs one retry, not errors.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file-backed test database, so a Celery worker process can open the same one in tests.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test-db.sqlite3")
    # Wait for the other process (web vs. worker) instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

# Static files: the Vite build writes into static/dist; collectstatic gathers into ./var/static.
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
# Media (uploads, renditions, embeddings, exports); default ./var/media.
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: files go through permission-checked views

# S3-compatible storage for media when a bucket is named; default: local files under MEDIA_ROOT.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# whitenoise serves the built frontend; these types matter for onnxruntime-web.
WHITENOISE_MIMETYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".onnx": "application/octet-stream"}
# Serve files straight from STATICFILES_DIRS too, so the app runs without collectstatic in dev.
WHITENOISE_USE_FINDERS = True
# `{% vite_asset "src/main.ts" %}` finds the hashed bundle through the build's manifest (read once
# when the app starts, not at import; `manage.py check` warns when it is missing) and links it
# under STATIC_URL + "dist/"; no Vite dev server.
DJANGO_VITE = {
    "default": {
        "dev_mode": False,
        "manifest_path": BASE_DIR / "static" / "dist" / ".vite" / "manifest.json",
        "static_url_prefix": "dist",
    }
}

# Upload limits.
# Largest single uploaded file in bytes; default 512 MiB.
ANNOTATOR_MAX_UPLOAD_BYTES = env.int("ANNOTATOR_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
# Largest total uncompressed size of one zip archive's members; default 2 GiB.
ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES = env.int("ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES", default=2 * 1024**3)
# Largest image in pixels before Pillow's decompression-bomb guard refuses it; default 180 megapixels.
ANNOTATOR_MAX_IMAGE_PIXELS = env.int("ANNOTATOR_MAX_IMAGE_PIXELS", default=180_000_000)
# Longest side of thumbnails in pixels; default 256.
ANNOTATOR_THUMBNAIL_SIZE = env.int("ANNOTATOR_THUMBNAIL_SIZE", default=256)
# Images whose longest side exceeds this are drawn in the annotator from a smaller rendition.
ANNOTATOR_DISPLAY_MAX_SIDE = env.int("ANNOTATOR_DISPLAY_MAX_SIDE", default=4096)
# Largest request body other than uploaded files (JSON, form fields) in bytes; default 10 MiB.
# A larger one gets a JSON 413 on /api/ (config.middleware.ApiErrorMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("ANNOTATOR_MAX_BODY_BYTES", default=10 * 1024 * 1024)
# Uploaded files larger than this go to an unnamed temporary file instead of memory: it vanishes when
# the request ends or its process dies (config/upload_handlers.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "config.upload_handlers.UnnamedTemporaryFileUploadHandler",
]

# Annotation input limits, checked before any geometry is decoded (annotator/limits.py).
# Most parts in one annotation's polygons; default 1000.
ANNOTATOR_MAX_POLYGON_PARTS = env.int("ANNOTATOR_MAX_POLYGON_PARTS", default=1_000)
# Most vertices over all rings of one annotation's polygons; default 100 000.
ANNOTATOR_MAX_POLYGON_VERTICES = env.int("ANNOTATOR_MAX_POLYGON_VERTICES", default=100_000)
# Longest RLE counts (characters compressed, entries uncompressed); default 2 000 000.
ANNOTATOR_MAX_RLE_COUNTS = env.int("ANNOTATOR_MAX_RLE_COUNTS", default=2_000_000)
# Largest prompts object (clicks and box of a SAM mask) as compact JSON in bytes; default 64 KiB.
ANNOTATOR_MAX_PROMPTS_BYTES = env.int("ANNOTATOR_MAX_PROMPTS_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("ANNOTATOR_MAX_FILES_PER_REQUEST", default=1000)

# Segmentation engine.
# Directory holding checkpoints registered from settings; default ./var/checkpoints.
SEGMENTATION_CHECKPOINT_DIR = Path(env.str("SAM_CHECKPOINT_DIR", default=str(VAR_DIR / "checkpoints")))
# Official checkpoint to register at startup, e.g. /models/sam_vit_b_01ec64.pth; default none
# (the project's own default model, committed under segmentation/default_model/, is always there).
SEGMENTATION_CHECKPOINT = env.str("SAM_CHECKPOINT", default="")
# Architecture of SAM_CHECKPOINT: vit_h, vit_l, vit_b or vit_t; default vit_b.
SEGMENTATION_CHECKPOINT_TYPE = env.str("SAM_CHECKPOINT_TYPE", default="vit_b")
# Mirror that `download_model` fetches official checkpoints from (files under their published
# names); default none: each file's official URL.
SEGMENTATION_DOWNLOAD_BASE_URL = env.str("SAM_DOWNLOAD_BASE_URL", default="")
# Device for the image encoder: "auto" (CUDA when present), "cuda" or "cpu"; default auto.
SEGMENTATION_DEVICE = env.str("SAM_DEVICE", default="auto")
# Images encoded together on a GPU worker; default 4.
SEGMENTATION_GPU_BATCH_SIZE = env.int("SAM_GPU_BATCH_SIZE", default=4)
# Images encoded together on a CPU worker; default 1 (a CPU gains little from batching).
SEGMENTATION_CPU_BATCH_SIZE = env.int("SAM_CPU_BATCH_SIZE", default=1)

# Celery. Default broker: kombu's filesystem transport under ./var/broker (no server process).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# The longest a task may run, in seconds (a fine-tuning run: up to 50 training minutes plus its
# evaluations and decoder export); default 7200. Redis redelivers an unacknowledged task after this
# visibility timeout, so a live long task is never handed to a second worker. A task whose worker
# died is sent again much sooner by the reconciler (ANNOTATOR_RECONCILE_STALE_AFTER_S).
ANNOTATOR_LONGEST_TASK_S = env.int("ANNOTATOR_LONGEST_TASK_S", default=7200)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu would otherwise write its exchange files into ./control of the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": ANNOTATOR_LONGEST_TASK_S}
# Result backend; default none (tasks write their results to the database themselves).
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
# Run tasks inline in the calling process (tests of services only); default off.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A send that cannot reach the broker fails at once (common.tasks.enqueue logs it; the reconciler
# sends it later) rather than holding a web request through retries.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
# The one place that names queues (docs/architecture.md, "Queues"): every task by its registered
# name. "embeddings" is interactive work a labeler waits for (an upload's embeddings and display
# renditions, the reconciler), served by a worker of its own so bulk work never delays it;
# "default" is bulk work (segment everything, exports, DICOM re-renders, decoder re-exports);
# "training" fine-tunes decoders (minutes per task; scripts/run.sh serves it with "default").
CELERY_TASK_ROUTES = {
    "segmentation.tasks.embedding_compute": {"queue": "embeddings"},
    "annotator.tasks.display_renditions_make": {"queue": "embeddings"},
    "annotator.tasks.reconcile_lost_work": {"queue": "embeddings"},
    "segmentation.tasks.decoder_export_refresh": {"queue": "default"},
    "annotator.tasks.auto_masks_compute": {"queue": "default"},
    "annotator.tasks.export_run": {"queue": "default"},
    "annotator.tasks.dicom_render": {"queue": "default"},
    "annotator.tasks.propagation_run": {"queue": "default"},
    "annotator.tasks.finetune_run": {"queue": "training"},
}
# How often celery beat runs the reconciler (annotator.services.reconcile), in seconds; default 60.
ANNOTATOR_RECONCILE_EVERY_S = env.int("ANNOTATOR_RECONCILE_EVERY_S", default=60)
# Queued or running work with no progress for this many seconds is sent again; default 300.
ANNOTATOR_RECONCILE_STALE_AFTER_S = env.int("ANNOTATOR_RECONCILE_STALE_AFTER_S", default=300)
CELERY_BEAT_SCHEDULE = {
    "reconcile-lost-work": {
        "task": "annotator.tasks.reconcile_lost_work",
        "schedule": float(ANNOTATOR_RECONCILE_EVERY_S),
        # A tick that waits longer than one period is dropped: the next one does the same work.
        "options": {"expires": float(ANNOTATOR_RECONCILE_EVERY_S)},
    }
}
# Bulk jobs (segment everything, exports) of one project queued or running at once; more get 429.
# Default 2.
ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT = env.int("ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT", default=2)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call gets 401 with a WWW-Authenticate challenge.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotator.api.errors.exception_handler",
    # DRF's parsers; the JSON one answers a too-deeply nested body with 400 instead of a 500.
    "DEFAULT_PARSER_CLASSES": [
        "annotator.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SAM Annotator API",
    "DESCRIPTION": "Projects, images, label classes, annotations, review and SAM segmentation.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page are for signed-in users only (session or token).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI assets come from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" field with different choices; give each enum its own name.
    "ENUM_NAME_OVERRIDES": {
        "AnnotationStatusEnum": "annotator.models.AnnotationStatus",
        "EmbeddingStatusEnum": "annotator.models.EmbeddingStatus",
        "ImageReviewStatusEnum": "annotator.models.ImageReviewStatus",
    },
    # Update serializers say which fields are optional themselves (an annotation PATCH needs
    # `version`); no "Patched..." copies with every field optional.
    "COMPONENT_SPLIT_PATCH": False,
    # Error answers (400/401/403/404, the Error component) on every operation that can give them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotator.api.errors.error_responses_document",
    ],
}

# Production hardening (manage.py check --deploy passes with DJANGO_DEBUG=0 and these on).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_SSL_REDIRECT else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Login throttling (django-axes; docs/operations.md): failed logins on /login/, /admin/ and
# /api/auth/token/ are counted per account and per client address, in the database.
# Failed logins that lock an account or an address; default 10.
AXES_FAILURE_LIMIT = env.int("ANNOTATOR_LOGIN_FAILURE_LIMIT", default=10)
# How long a lock lasts, in minutes (a failure during the lock starts it again); default 15.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ANNOTATOR_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: the account, or the address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotator.login_throttle.login_lockout_response"
AXES_CLIENT_IP_CALLABLE = "annotator.login_throttle.client_ip"
# Reverse proxies in front of the app that append to X-Forwarded-For; default 0 (clients connect directly).
ANNOTATOR_TRUSTED_PROXIES = env.int("ANNOTATOR_TRUSTED_PROXIES", default=0)

# Content-Security-Policy of every response (config.middleware.SecurityHeadersMiddleware): no inline
# scripts; 'wasm-unsafe-eval' lets onnxruntime-web compile its WebAssembly, blob: workers are the
# decoder worker that Vite inlines into the bundle, 'self' workers onnxruntime's wasm threads.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'wasm-unsafe-eval'"],
    "worker-src": ["'self'", "blob:"],
    "style-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],  # style="" attributes (bar widths, label colours); no <style>
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Permissions-Policy: browser features no page of the app uses are switched off.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "serial",
        "bluetooth",
        "magnetometer",
        "gyroscope",
        "accelerometer",
        "display-capture",
        "browsing-topics",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

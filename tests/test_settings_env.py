"""Settings come from the environment, with embedded defaults for one machine."""

import json

import pytest

from tests.settings_subprocess import run_python, settings_values

pytestmark = pytest.mark.slow


def test_defaults_are_sqlite_and_filesystem_broker_under_var_dir(tmp_path):
    values = settings_values(
        ["DATABASES", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS", "MEDIA_ROOT", "DEBUG"],
        {"ANNOTATOR_VAR_DIR": str(tmp_path)},
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "db.sqlite3")
    assert database["TEST"]["NAME"] == str(tmp_path / "test-db.sqlite3")
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert values["MEDIA_ROOT"] == str(tmp_path / "media")
    assert values["DEBUG"] is False


def test_database_url_selects_postgresql(tmp_path):
    values = settings_values(
        ["DATABASES"],
        {"ANNOTATOR_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://alice:s3cret@db.internal:6543/annotations"},
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.internal", 6543, "annotations")
    assert (database["USER"], database["PASSWORD"]) == ("alice", "s3cret")
    # SQLite-only tweaks must not leak into other engines.
    assert "timeout" not in database.get("OPTIONS", {})
    # Persistent, health-checked connections (bench/load_saves.py: a connection per request cost a
    # third of the save throughput).
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (60, True)


def test_database_conn_max_age_is_a_setting(tmp_path):
    env = {"ANNOTATOR_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@db.internal/a"}
    values = settings_values(["DATABASES"], {**env, "DATABASE_CONN_MAX_AGE": "0"})
    assert values["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    sqlite = settings_values(["DATABASES"], {"ANNOTATOR_VAR_DIR": str(tmp_path)})["DATABASES"]["default"]
    assert sqlite.get("CONN_MAX_AGE", 0) == 0  # SQLite opens a connection for nothing


def test_redis_broker_url_drops_filesystem_transport_options(tmp_path):
    # What the Celery app itself ends up with: the filesystem transport's folders must not reach a
    # Redis connection (kombu passes transport options straight to the transport).
    code = (
        "import json\n"
        "from config.celery import app\n"
        "print(json.dumps([app.conf.broker_url, app.conf.broker_transport_options], default=str))\n"
    )
    redis = {"ANNOTATOR_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": "redis://cache.internal:6379/2"}
    result = run_python(code, redis)
    assert result.returncode == 0, result.stderr
    broker_url, transport_options = json.loads(result.stdout.strip().splitlines()[-1])
    assert broker_url == "redis://cache.internal:6379/2"
    # Redis gets only its redelivery timeout (the longest task), none of the filesystem folders.
    assert transport_options == {"visibility_timeout": 7200}
    # The same app on the default broker does get them, so the check above can fail.
    result = run_python(code, {"ANNOTATOR_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    broker_url, transport_options = json.loads(result.stdout.strip().splitlines()[-1])
    assert broker_url == "filesystem://"
    assert transport_options["data_folder_in"] == str(tmp_path / "broker" / "queue")


def test_embedding_tasks_go_to_the_embeddings_queue(tmp_path):
    routes = settings_values(["CELERY_TASK_ROUTES"], {"ANNOTATOR_VAR_DIR": str(tmp_path)})["CELERY_TASK_ROUTES"]
    assert routes["segmentation.tasks.embedding_compute"]["queue"] == "embeddings"


def test_secret_key_from_env_and_generated_lazily_otherwise(tmp_path):
    given = settings_values(["SECRET_KEY"], {"ANNOTATOR_VAR_DIR": str(tmp_path / "a"), "DJANGO_SECRET_KEY": "k" * 60})
    assert given["SECRET_KEY"] == "k" * 60
    assert not (tmp_path / "a").exists()

    generated = settings_values(["SECRET_KEY"], {"ANNOTATOR_VAR_DIR": str(tmp_path / "b")})
    stored = (tmp_path / "b" / "secret_key").read_text().strip()
    assert generated["SECRET_KEY"] == stored and len(stored) >= 50
    again = settings_values(["SECRET_KEY"], {"ANNOTATOR_VAR_DIR": str(tmp_path / "b")})
    assert again["SECRET_KEY"] == stored


def test_production_flags_switch_on_security_settings(tmp_path):
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "ALLOWED_HOSTS",
    ]
    off = settings_values(names, {"ANNOTATOR_VAR_DIR": str(tmp_path)})
    assert off["SECURE_SSL_REDIRECT"] is False and off["SECURE_HSTS_SECONDS"] == 0
    assert off["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "testserver"]
    on = settings_values(
        names,
        {
            "ANNOTATOR_VAR_DIR": str(tmp_path),
            "DJANGO_SECURE_SSL_REDIRECT": "1",
            "DJANGO_SECURE_COOKIES": "1",
            "DJANGO_HSTS_SECONDS": "31536000",
            "DJANGO_ALLOWED_HOSTS": "a.example.org,b.example.org",
        },
    )
    assert (
        on["SECURE_SSL_REDIRECT"] is True and on["SESSION_COOKIE_SECURE"] is True and on["CSRF_COOKIE_SECURE"] is True
    )
    assert on["SECURE_HSTS_SECONDS"] == 31536000
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert on["ALLOWED_HOSTS"] == ["a.example.org", "b.example.org"]

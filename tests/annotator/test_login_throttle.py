"""Login throttling (issue 15): wrong passwords on /login/ and /api/auth/token/ lock the account and the
client address for a cool-off, with a clear message; the API answers 429 with Retry-After."""

import pytest
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-42"


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def wrong_login(client, username, ip="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR=ip)


def test_login_page_locks_an_account_after_repeated_failures():
    make_user("alice", password=PASSWORD)
    client = Client()
    for _ in range(2):
        assert wrong_login(client, "alice").status_code == 200
    locked = wrong_login(client, "alice")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed logins" in locked.content.decode()
    # Even the right password is refused now, from another address too (per account).
    right = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_page_locks_an_address_that_tries_many_accounts():
    make_user("bob", password=PASSWORD)
    client = Client()
    for name in ("u1", "u2"):
        assert wrong_login(client, name, ip="10.0.0.7").status_code == 200
    assert wrong_login(client, "u3", ip="10.0.0.7").status_code == 429
    # bob is not locked, but this address is.
    assert client.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7").status_code == 429
    other = Client()
    response = other.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 302


def test_success_before_the_limit_resets_the_count():
    make_user("carol", password=PASSWORD)
    client = Client()
    for _ in range(2):
        wrong_login(client, "carol")
    assert (
        client.post("/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1").status_code == 302
    )
    client.logout()
    for _ in range(2):
        assert wrong_login(client, "carol").status_code == 200


def test_token_endpoint_is_throttled_with_json_429_and_retry_after():
    make_user("scripter", password=PASSWORD)
    client = Client()
    for _ in range(2):
        response = client.post(
            "/api/auth/token/", {"username": "scripter", "password": "wrong"}, REMOTE_ADDR="10.1.1.1"
        )
        assert response.status_code == 400
    locked = client.post("/api/auth/token/", {"username": "scripter", "password": "wrong"}, REMOTE_ADDR="10.1.1.1")
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/json"
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed logins" in locked.json()["detail"]
    right = client.post("/api/auth/token/", {"username": "scripter", "password": PASSWORD}, REMOTE_ADDR="10.2.2.2")
    assert right.status_code == 429
    assert "token" not in right.json()


def test_token_endpoint_still_gives_tokens():
    make_user("robot", password=PASSWORD)
    response = Client().post("/api/auth/token/", {"username": "robot", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token"]

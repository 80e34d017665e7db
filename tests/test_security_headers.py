"""Front-door headers (issue 15): a Content-Security-Policy without inline scripts and a
Permissions-Policy on every response; no inline <script> in any template; the OpenAPI schema and
docs only for signed-in users. The annotator segmenting under this policy in real Chromium is
tests/e2e/test_annotator_click_to_segment.py."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";")]
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("path", ["/login/", "/api/projects/", "/static/css/app.css", "/no-such-page/"])
def test_every_response_has_the_policies(path):
    response = Client().get(path)
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


def test_script_sources_allow_no_inline_code():
    csp = policy(Client().get("/login/"))
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # onnxruntime-web compiles its wasm
    assert csp["worker-src"] == ["'self'", "blob:"]  # the inlined decoder worker, ORT's wasm threads
    for directive in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in csp[directive] and "'unsafe-eval'" not in csp[directive]


def test_onnxruntime_files_carry_the_policy_for_their_workers():
    response = Client().get("/ort-runtime/ort-wasm-simd-threaded.mjs")
    assert response.status_code == 200
    assert "'wasm-unsafe-eval'" in policy(response)["script-src"]


def test_no_template_has_inline_script():
    """Every <script> loads from a URL or is a JSON data block (json_script), never inline code."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for tag, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", text, flags=re.S):
            if "src=" not in tag and body.strip():
                offenders.append(f"{path.relative_to(TEMPLATES)}: <script{tag}>")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline event handler")
    assert offenders == []


def test_schema_and_docs_need_sign_in():
    assert APIClient().get("/api/schema/").status_code == 401
    docs = Client().get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith(reverse("login"))
    client = Client()
    client.force_login(make_user())
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script>\s*\S", html)  # the Swagger UI setup is a script URL, not inline code
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200

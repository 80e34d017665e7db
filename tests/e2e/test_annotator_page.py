"""The annotator page's server side (no browser): access, isolation headers, config, runtime files."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.urls import reverse
from django_vite.core.exceptions import DjangoViteAssetNotFoundError

from annotator.management.commands.seed_demo import DEMO_IMAGES, SHAPES_IMAGE

pytestmark = pytest.mark.django_db


def _config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="annotator-config" type="application/json">') + len(
        '<script id="annotator-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_member_gets_isolated_page_with_config_and_bundle(client, demo_project):
    client.force_login(get_user_model().objects.get(username="annotator1"))
    images = list(demo_project.images.order_by("pk"))
    image = images[1]
    response = client.get(reverse("image-annotate", args=[image.pk]))
    assert response.status_code == 200
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Embedder-Policy"] == "require-corp"
    config = _config(response)
    assert config["image"] == {
        "id": image.pk,
        "width": image.width,
        "height": image.height,
        "name": image.original_name,
        "url": reverse("api-image-file", args=[image.pk]),
    }
    assert config["previous_url"] == reverse("image-annotate", args=[images[0].pk])
    assert config["next_url"] == reverse("image-annotate", args=[images[2].pk])
    assert config["can_write"] is True
    assert [c["name"] for c in config["label_classes"]][:2] == ["object", "person"]
    assert config["ort_runtime_url"] == "/ort-runtime/"
    html = response.content.decode()
    assert '<script type="module" crossorigin="" src="/static/dist/assets/main-' in html
    assert "csrftoken" in response.cookies


def test_first_and_last_image_have_no_previous_or_next(client, demo_project):
    client.force_login(get_user_model().objects.get(username="annotator1"))
    images = list(demo_project.images.order_by("pk"))
    assert len(images) == len(DEMO_IMAGES)
    assert _config(client.get(reverse("image-annotate", args=[images[0].pk])))["previous_url"] is None
    last = _config(client.get(reverse("image-annotate", args=[images[-1].pk])))
    assert last["next_url"] is None and last["image"]["name"] == f"{SHAPES_IMAGE}.png"


def test_non_member_gets_404_and_anonymous_is_sent_to_login(client, demo_project):
    image = demo_project.images.first()
    url = reverse("image-annotate", args=[image.pk])
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(get_user_model().objects.create_user("stranger", password="x-x-x-x-x-1"))
    assert client.get(url).status_code == 404


def test_project_grid_links_to_the_annotator(client, demo_project):
    client.force_login(get_user_model().objects.get(username="annotator1"))
    image = demo_project.images.first()
    html = client.get(reverse("project-detail", args=[demo_project.pk])).content.decode()
    assert reverse("image-annotate", args=[image.pk]) in html


@pytest.mark.parametrize(
    "name,content_type",
    [
        ("ort-wasm-simd-threaded.wasm", "application/wasm"),
        ("ort-wasm-simd-threaded.mjs", "text/javascript"),
        ("ort.webgpu.min.mjs", "text/javascript"),
        ("ort-wasm-simd-threaded.asyncify.mjs", "text/javascript"),
        ("ort-wasm-simd-threaded.asyncify.wasm", "application/wasm"),
    ],
)
def test_ort_runtime_is_served_with_embedder_policy(client, name, content_type):
    response = client.get(reverse("ort-runtime-file", args=[name]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\0asm" if name.endswith(".wasm") else len(body) > 1000


def test_ort_runtime_serves_nothing_else(client):
    assert client.get(reverse("ort-runtime-file", args=["manifest.json"])).status_code == 404
    assert client.get("/ort-runtime/..%2Fsettings.py").status_code == 404


def test_vite_tag_links_the_built_entry_and_refuses_unknown_ones():
    # The tag reads the manifest the build wrote (settings.DJANGO_VITE), so templates never name
    # hashed bundle files; an entry the build does not know fails loudly instead of a broken page.
    manifest_path = settings.DJANGO_VITE["default"]["manifest_path"]
    built = json.loads(manifest_path.read_text(encoding="utf-8"))["src/main.ts"]["file"]
    html = Template('{% load django_vite %}{% vite_asset "src/main.ts" %}').render(Context())
    assert f'src="/static/dist/{built}"' in html and 'type="module"' in html
    with pytest.raises(DjangoViteAssetNotFoundError, match=r"src/other\.ts"):
        Template('{% load django_vite %}{% vite_asset "src/other.ts" %}').render(Context())

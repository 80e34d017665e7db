"""Very large images reach the browser as a smaller display rendition (annotator/services/renditions.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image as PILImage

from annotator.services.renditions import rendition_name
from tests.factories import make_image, make_project, make_user


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _config(response) -> dict:
    html = response.content.decode()
    marker = '<script id="annotator-config" type="application/json">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def big(team, settings):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 300
    return make_image(team["project"], width=900, height=300, name="scan.png")


def test_rendition_fits_max_side_keeps_aspect_and_is_cached(team, big, api_as):
    client = api_as(team["annotator"])
    url = reverse("api-image-file", args=[big.pk]) + "?max_side=300"
    response = client.get(url)
    assert response.status_code == 200
    small = PILImage.open(io.BytesIO(_body(response)))
    assert small.size == (300, 100)
    # The pixels are the image's, scaled: compare with Pillow's own downscale of the display file.
    with default_storage.open(big.display.name, "rb") as handle:
        expected = PILImage.open(handle).convert("RGB").resize((300, 100), PILImage.Resampling.BOX)
    diff = np.abs(np.asarray(small.convert("RGB"), np.int16) - np.asarray(expected, np.int16))
    assert diff.mean() < 12
    name = rendition_name(big.display.name, 300)
    assert default_storage.exists(name)
    modified = default_storage.get_modified_time(name)
    again = client.get(url)
    assert _body(again) == _body(client.get(url))
    assert default_storage.get_modified_time(name) == modified  # made once, then served from storage
    assert client.get(url, HTTP_IF_NONE_MATCH=again["ETag"]).status_code == 304


def test_small_image_gets_its_display_file(team, api_as, settings):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 4096
    image = team["image"]  # 40x30
    client = api_as(team["annotator"])
    plain = _body(client.get(reverse("api-image-file", args=[image.pk])))
    assert _body(client.get(reverse("api-image-file", args=[image.pk]) + "?max_side=4096")) == plain


@pytest.mark.parametrize("value", ["abc", "10", "99999", "", "301", "512", "1e3"])
def test_only_the_configured_size_is_served_others_are_a_json_400(team, big, api_as, value):
    response = api_as(team["annotator"]).get(reverse("api-image-file", args=[big.pk]) + f"?max_side={value}")
    assert response.status_code == 400
    assert "max_side" in response.json()
    assert not default_storage.exists(f"renditions/{big.display.name.rsplit('/', 1)[1].split('.')[0]}")


def test_other_projects_members_get_404(team, big, api_as):
    outsider = make_user("outsider")
    make_project("Elsewhere", members={outsider: "manager"})
    response = api_as(outsider).get(reverse("api-image-file", args=[big.pk]) + "?max_side=300")
    assert response.status_code == 404
    assert not default_storage.exists(rendition_name(big.display.name, 300))


def test_annotate_page_asks_for_a_rendition_only_for_large_images(client, team, big, settings):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 512
    client.force_login(team["annotator"])
    large = _config(client.get(reverse("image-annotate", args=[big.pk])))["image"]
    assert large["url"] == reverse("api-image-file", args=[big.pk]) + "?max_side=512"
    assert (large["width"], large["height"]) == (900, 300)  # coordinates stay in full-image pixels
    small = _config(client.get(reverse("image-annotate", args=[team["image"].pk])))["image"]
    assert small["url"] == reverse("api-image-file", args=[team["image"].pk])


def test_deleting_the_last_image_of_a_display_file_deletes_its_renditions(
    team, big, api_as, settings, django_capture_on_commit_callbacks
):
    from annotator.services.images import image_delete

    api_as(team["annotator"]).get(reverse("api-image-file", args=[big.pk]) + "?max_side=300")
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 512  # an operator changed the size: both renditions exist
    api_as(team["annotator"]).get(reverse("api-image-file", args=[big.pk]) + "?max_side=512")
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 300
    names = [rendition_name(big.display.name, side) for side in (300, 512)]
    assert all(default_storage.exists(name) for name in names)
    other = make_image(team["project"], width=900, height=300)
    api_as(team["annotator"]).get(reverse("api-image-file", args=[other.pk]) + "?max_side=300")
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=big)
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(rendition_name(other.display.name, 300))  # other images' stay

"""Segmentation API: manifest, embedding download (ETag/304/409), status, retry, decoders, access."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from segmentation.models import Embedding, EmbeddingState
from segmentation.services.embeddings import embedding_compute
from segmentation.storage import decode_embedding

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(member_with_image):
    return member_with_image(width=50, height=20)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_manifest_describes_model_decoders_and_coordinates(setup):
    response = setup["member"].get(f"/api/projects/{setup['project'].pk}/model/")
    assert response.status_code == 200
    body, model = response.json(), setup["model"]
    assert body["model"]["checkpoint_sha256"] == model.checkpoint_sha256
    assert body["encoder_input_size"] == model.encoder_input_size
    assert body["embedding"]["shape"] == model.embedding_shape and body["embedding"]["dtype"] == "float16"
    assert body["decoder_inputs"]["mask_input"] == [1, 1, 256, 256]
    assert body["coordinates"]["scale"] == "encoder_input_size / max(image_height, image_width)"
    decoder = setup["member"].get(body["decoders"]["int8"]["url"])
    assert decoder.status_code == 200
    decoder_bytes = _body(decoder)  # a streamed body can be read once
    assert hashlib.sha256(decoder_bytes).hexdigest() == body["decoders"]["int8"]["sha256"] == model.decoder_int8_sha256
    again = setup["member"].get(body["decoders"]["int8"]["url"], HTTP_IF_NONE_MATCH=decoder["ETag"])
    assert again.status_code == 304
    # The manifest's URL names the content (?v=sha prefix): cached without revalidation; another v not.
    assert "immutable" in decoder["Cache-Control"] and "max-age=31536000" in decoder["Cache-Control"]
    stale = setup["member"].get(body["decoders"]["int8"]["url"].split("?")[0] + "?v=0000")
    assert stale.status_code == 200 and "no-cache" in stale["Cache-Control"]
    # The manifest's inputs and outputs are what the served (low-res) graph has (K = 4 candidates).
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(decoder_bytes, providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == set(body["decoder_inputs"])
    assert "orig_im_size" not in body["decoder_inputs"] and "masks" not in body["decoder_outputs"]
    c, h, w = model.embedding_shape
    embedding = np.random.default_rng(0).standard_normal((1, c, h, w)).astype(np.float32)
    points, labels = np.array([[[10.0, 10.0], [0.0, 0.0]]], np.float32), np.array([[1.0, -1.0]], np.float32)
    feeds = {
        "image_embeddings": embedding,
        "point_coords": points,
        "point_labels": labels,
        "mask_input": np.zeros((1, 1, 4 * h, 4 * w), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
    }
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    assert set(outputs) == set(body["decoder_outputs"])
    for name, shape in body["decoder_outputs"].items():
        assert list(outputs[name].shape) == shape

    # The first-click split: prep once per image, then the first-click graph gives the same outputs
    # as the full graph for a prompt without a mask input.
    first = body["first_click"]
    assert set(first) >= {"prep", "fp32", "int8"}
    graphs = {}
    for key in ("prep", "int8"):
        response = setup["member"].get(first[key]["url"])
        assert response.status_code == 200
        data = _body(response)
        assert hashlib.sha256(data).hexdigest() == first[key]["sha256"]
        assert setup["member"].get(first[key]["url"], HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
        graphs[key] = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    prepared = dict(
        zip(first["prep_outputs"], graphs["prep"].run(first["prep_outputs"], {"image_embeddings": embedding}))
    )
    quick = dict(
        zip(
            [o.name for o in graphs["int8"].get_outputs()],
            graphs["int8"].run(None, {"point_coords": points, "point_labels": labels, **prepared}),
        )
    )
    assert [i.name for i in graphs["int8"].get_inputs()] == first["inputs"]
    # Both int8 (their activations are quantised per run at different places): close, not equal.
    full = outputs["low_res_masks"]
    assert np.abs(quick["low_res_masks"] - full).max() <= 0.05 * np.abs(full).max()
    assert np.corrcoef(quick["low_res_masks"].ravel(), outputs["low_res_masks"].ravel())[0, 1] > 0.99


def test_embedding_not_ready_is_409_with_status(setup):
    response = setup["member"].get(f"/api/images/{setup['image'].pk}/embedding/")
    assert response.status_code == 409
    assert response.json()["status"] == "pending"
    status = setup["member"].get(f"/api/images/{setup['image'].pk}/embedding/status/")
    assert status.status_code == 200 and status.json()["status"] == "pending"


def test_embedding_download_with_etag_and_304(setup):
    embedding_compute(Embedding.objects.get().pk)
    url = f"/api/images/{setup['image'].pk}/embedding/"
    response = setup["member"].get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert "private" in response["Cache-Control"]
    etag = response["ETag"]
    assert setup["model"].checkpoint_sha256[:16] in etag and setup["image"].sha256 in etag
    values, header = decode_embedding(_body(response))
    assert list(values.shape) == setup["model"].embedding_shape
    assert header["model_sha256"] == response["X-Model-Sha256"] == setup["model"].checkpoint_sha256
    cached = setup["member"].get(url, HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304 and _body(cached) == b""


def test_non_member_gets_404_everywhere(setup):
    image_id, project_id = setup["image"].pk, setup["project"].pk
    embedding_compute(Embedding.objects.get().pk)
    client = setup["outsider"]
    assert client.get(f"/api/projects/{project_id}/model/").status_code == 404
    assert client.get(f"/api/images/{image_id}/embedding/").status_code == 404
    assert client.get(f"/api/images/{image_id}/embedding/status/").status_code == 404
    assert client.post(f"/api/images/{image_id}/embedding/retry/").status_code == 404
    assert client.get(f"/api/projects/{project_id}/embeddings/progress/").status_code == 404
    assert APIClient().get(f"/api/images/{image_id}/embedding/").status_code in (401, 403)


def test_retry_resets_failed_embedding(setup, django_capture_on_commit_callbacks):
    Embedding.objects.update(status=EmbeddingState.FAILED, error="boom")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = setup["member"].post(f"/api/images/{setup['image'].pk}/embedding/retry/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert len(callbacks) == 1


def test_progress_counts_images_per_status(setup):
    url = f"/api/projects/{setup['project'].pk}/embeddings/progress/"
    assert setup["member"].get(url).json() == {"pending": 1, "running": 0, "ready": 0, "failed": 0, "total": 1}
    embedding_compute(Embedding.objects.get().pk)
    assert setup["member"].get(url).json()["ready"] == 1


def test_unknown_decoder_variant_is_404(setup):
    assert setup["member"].get(f"/api/models/{setup['model'].pk}/decoder/fp16.onnx").status_code == 404
    assert setup["member"].get(f"/api/models/{setup['model'].pk}/decoder/first-click-fp16.onnx").status_code == 404
    assert setup["member"].get("/api/models/999999/decoder/prep.onnx").status_code == 404

"""finetune_version: a tiny real run on the shipped default model registers a version (parent, the
base's encoder, its own checked decoders); a cancelled run leaves nothing; the version reads the
base's embeddings."""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np
import pytest
import torch
from django.core.files.storage import default_storage

from annotator.models import Role
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.sam.encoder import encode_images
from segmentation.sam.loader import load_sam, read_state_dict
from segmentation.sam.versions import refinement_graph_max_diff
from segmentation.selectors import embedding_get
from segmentation.services import embeddings as engine
from segmentation.services.finetuning import finetune_version, version_checkpoint_path
from segmentation.services.models import committed_default_checkpoint, first_click_graphs
from segmentation.training.examples import TRAINED_PREFIXES, Example, FinetuneCancelled, FinetuneParams
from tests.factories import make_image, make_project, make_user
from tests.segmentation.conftest import api_client

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# One epoch of two steps; min_gain -1 keeps the epoch whatever its score, so the run always ends on
# trained (changed) weights and registers a version.
TINY = FinetuneParams(minutes=5, max_epochs=1, lr=3e-4, batch=4, rounds=2, eval_clicks=3, min_gain=-1.0)


def _cell_scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A striped ellipse on noise of the same mean brightness (a domain the default model never saw)."""
    rng = np.random.default_rng(seed)
    height, width = 120, 160
    background = rng.normal(90, 25, (height, width)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    center = (int(rng.integers(40, 120)), int(rng.integers(30, 90)))
    cv2.ellipse(
        mask, center, (int(rng.integers(12, 30)), int(rng.integers(10, 25))), float(rng.uniform(0, 180)), 0, 360, 1, -1
    )
    stripes = ((np.indices((height, width)).sum(0) // 3) % 2 * 80 + 50).astype(np.uint8)
    return np.stack([np.where(mask > 0, stripes, background)] * 3, -1), mask.astype(bool)


@pytest.fixture(scope="module")
def objects() -> tuple[list[Example], list[Example]]:
    """12 generated objects as (train 8, held-out 4), embedded by the default model."""
    scenes = [_cell_scene(seed) for seed in range(12)]
    sam = load_sam("default", committed_default_checkpoint())
    embeddings = encode_images(sam, [rgb for rgb, _ in scenes], torch.device("cpu"), batch_size=4)
    examples = [
        Example(key=f"image-{i}", embedding=np.asarray(emb, np.float32), mask=mask, prompts=None)
        for i, ((_, mask), emb) in enumerate(zip(scenes, embeddings))
    ]
    return examples[:8], examples[8:]


@pytest.fixture(scope="module")
def versions_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture
def checkpoint_dir(settings, versions_folder, default_model):
    """Versions are written into a folder of this module, set after the default model is registered
    (its decoder export stays cached in the shared folder). Runs with the same seed give the same
    version, whose decoder export is then cached here too."""
    settings.SEGMENTATION_CHECKPOINT_DIR = versions_folder
    return versions_folder


def _files(folder) -> set[str]:
    return {path.name for path in folder.glob("*finetuned-*")}


def test_a_tiny_run_registers_a_checked_version_of_the_base(default_model, objects, checkpoint_dir):
    train, heldout = objects
    progress: list[dict] = []
    data = {"annotations": [[1, 3], [2, 1]]}
    result, version = finetune_version(
        base=default_model,
        train=train,
        heldout=heldout,
        params=TINY,
        name="default ft1",
        on_progress=progress.append,
        data=data,
    )
    assert version.pk != default_model.pk and version.name == "default ft1"
    assert version.parent == default_model and not version.is_default
    assert version.encoder_sha256 == default_model.encoder_sha256 == default_model.checkpoint_sha256
    assert version.checkpoint_sha256 != default_model.checkpoint_sha256
    assert list(default_model.children.all()) == [version]
    # The lineage record.
    training = version.training
    assert training["data"] == data and training["params"]["max_epochs"] == 1 and training["epochs"] == 1
    assert training["metrics"] == {"base": result.base, "tuned": result.tuned}
    assert set(training["metrics"]["base"]) >= {"mIoU@1", "mIoU@3", "NoC@85", "NoC@90"}
    assert training["objects"] == {"train": 8, "heldout": 4} and training["seconds"] > 0
    assert [row["epoch"] for row in training["history"]] == [1.0]
    assert any("step" in row for row in progress)
    # The checkpoint: named by its sha256, the base's keys, the base's encoder, the trained decoder.
    path = version_checkpoint_path(version.checkpoint_sha256)
    assert version.checkpoint_path == str(path.resolve())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == version.checkpoint_sha256
    base_state, state = read_state_dict(default_model.checkpoint_path), read_state_dict(path)
    assert list(state) == list(base_state)
    assert all(torch.equal(state[k], base_state[k]) for k in state if not k.startswith(TRAINED_PREFIXES))
    assert any(not torch.equal(state[k], base_state[k]) for k in state if k.startswith(TRAINED_PREFIXES))
    # Its own decoders, all five graphs, and the refinement graph computes what PyTorch computes.
    assert version.decoder_fp32_sha256 != default_model.decoder_fp32_sha256
    assert version.decoder_int8_sha256 != default_model.decoder_int8_sha256
    assert set(first_click_graphs(version)) == {"prep", "first-click-fp32", "first-click-int8"}
    tuned = load_sam("default", path)
    with default_storage.open(version.decoder_fp32.name, "rb") as handle:
        graph = handle.read()
    assert refinement_graph_max_diff(tuned, graph, heldout[1].embedding, seed=5) < 1e-3
    base_sam = load_sam("default", default_model.checkpoint_path)
    assert refinement_graph_max_diff(base_sam, graph, heldout[1].embedding, seed=5) > 1e-2  # really tuned


@pytest.mark.parametrize("stop_after_calls", [1, 3])
def test_a_cancelled_run_registers_nothing_and_leaves_no_checkpoint(
    default_model, objects, checkpoint_dir, stop_after_calls
):
    """1: cancelled at the first step; 3: after training (two steps), during registration, after the
    checkpoint was written and the decoders exported."""
    train, heldout = objects
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) >= stop_after_calls

    before, files = SamModel.objects.count(), _files(checkpoint_dir)
    params = dataclasses.replace(TINY, seed=100 + stop_after_calls)  # weights no other test writes
    with pytest.raises(FinetuneCancelled):
        finetune_version(
            base=default_model, train=train, heldout=heldout, params=params, name="cancelled", should_stop=should_stop
        )
    assert len(calls) == stop_after_calls
    assert SamModel.objects.count() == before and not SamModel.objects.filter(name="cancelled").exists()
    assert _files(checkpoint_dir) == files  # the checkpoint written before the cancel is gone


def test_the_version_reads_the_embeddings_of_its_base(
    default_model, objects, checkpoint_dir, django_capture_on_commit_callbacks
):
    train, heldout = objects
    member = make_user()
    project = make_project(members={member: Role.ANNOTATOR})
    image = make_image(project, width=64, height=48)
    source = engine.EmbeddingSource(image_sha256=image.sha256, source_name=image.display.name)
    with django_capture_on_commit_callbacks(execute=False):
        (embedding,) = engine.embeddings_request(model=default_model, sources=[source])
    embedding = engine.embedding_compute(embedding.pk)
    assert embedding.status == EmbeddingState.READY
    _, version = finetune_version(base=default_model, train=train, heldout=heldout, params=TINY, name="v2")
    assert version.pk != default_model.pk

    assert embedding_get(image_sha256=image.sha256, model=version).pk == embedding.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (again,) = engine.embeddings_request(model=version, sources=[source])
    assert again.pk == embedding.pk and again.status == EmbeddingState.READY
    assert callbacks == [] and Embedding.objects.count() == 1  # nothing re-embedded

    # The project switched to the version serves the same bytes, labelled with the encoder's sha256.
    project.sam_model = version
    project.save(update_fields=["sam_model"])
    client = api_client(member)
    response = client.get(f"/api/images/{image.pk}/embedding/")
    assert response.status_code == 200
    assert response["X-Model-Sha256"] == version.encoder_sha256 == default_model.checkpoint_sha256
    assert b"".join(response.streaming_content) == default_storage.open(embedding.file.name).read()
    manifest = client.get(f"/api/projects/{project.pk}/model/").json()
    assert manifest["model"]["id"] == version.pk
    assert manifest["model"]["encoder_sha256"] == default_model.checkpoint_sha256
    assert manifest["model"]["checkpoint_sha256"] == version.checkpoint_sha256
    listed = client.get(f"/api/projects/{project.pk}/images/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row.get("embedding_status") for row in rows] == ["ready"]


def test_a_run_that_keeps_the_base_weights_registers_nothing(default_model, objects, checkpoint_dir):
    """lr 0: no epoch changes anything, the kept state is the base's, and the base comes back."""
    train, heldout = objects
    params = FinetuneParams(minutes=5, max_epochs=1, lr=0.0, batch=4, rounds=1, eval_clicks=1)
    before, files = SamModel.objects.count(), _files(checkpoint_dir)
    result, model = finetune_version(base=default_model, train=train, heldout=heldout, params=params, name="same")
    assert model == default_model and result.tuned == result.base
    assert SamModel.objects.count() == before and _files(checkpoint_dir) == files


def test_a_taken_name_is_refused_before_training(default_model, objects, checkpoint_dir):
    train, heldout = objects
    with pytest.raises(ValueError, match="exists already"):
        finetune_version(base=default_model, train=train, heldout=heldout, params=TINY, name=default_model.name)

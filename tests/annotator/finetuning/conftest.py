"""Builders for fine-tuning tests: a project whose images have ready embeddings (real files under the
model's encoder sha256) and labelled objects with masks and prompts."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import geometry
from annotator.models import Annotation, Image, Project
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.storage import write_embedding
from segmentation.training.examples import is_heldout
from tests.factories import make_image, make_label_class


@pytest.fixture
def fake_model(db) -> SamModel:
    """A registered-model row without a checkpoint: enough for everything but training itself. The
    default, so project_model() never registers the real default model in these tests."""
    return SamModel.objects.create(
        name="fake base",
        architecture="default",
        checkpoint_path="/nonexistent/fake.pt",
        checkpoint_sha256="e" * 64,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
        is_default=True,
    )


def embed(image: Image, model: SamModel, array: np.ndarray) -> Embedding:
    """A ready embedding of the image under the model's encoder, its file really written."""
    name = write_embedding(array, model_sha256=model.encoder_sha256, image_sha256=image.sha256)
    return Embedding.objects.create(
        image_sha256=image.sha256,
        model=model,
        model_sha256=model.encoder_sha256,
        source_name=image.display.name,
        status=EmbeddingState.READY,
        file=name,
    )


def square_mask(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), bool)
    x, y = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    mask[y : y + height // 3, x : x + width // 3] = True
    return mask


def add_object(
    image: Image, mask: np.ndarray, *, status: str = "approved", prompts: dict | None = None, **fields
) -> Annotation:
    rle = geometry.rle_encode(mask.astype(np.uint8))
    return Annotation.objects.create(
        image=image,
        label_class=image.project.label_classes.first() or make_label_class(image.project, "cell"),
        polygons=geometry.rle_to_polygons(rle),
        rle=rle,
        bbox=geometry.rle_bbox(rle),
        area=geometry.rle_area(rle),
        source="sam_click",
        status=status,
        prompts=prompts or {},
        **fields,
    )


def labelled_images(
    project: Project,
    model: SamModel,
    *,
    holdout: float,
    train: int = 10,
    heldout: int = 10,
    scenes: list[tuple[np.ndarray, np.ndarray]] | None = None,
    status: str = "approved",
) -> list[Image]:
    """Images with one object and a ready embedding each, added until the split by image id holds at
    least `train` training and `heldout` held-out ones (ids differ between databases and runs). scenes:
    (mask, embedding) pairs to use in turn; default: small squares and random embeddings."""
    images: list[Image] = []
    counts = {True: 0, False: 0}
    while counts[False] < train or counts[True] < heldout:
        index = len(images)
        if scenes is not None:
            mask, embedding = scenes[index % len(scenes)]
        else:
            mask = square_mask(40, 30, index)
            embedding = np.random.default_rng(index).normal(size=model.embedding_shape).astype(np.float32)
        height, width = mask.shape
        image = make_image(project, width=width, height=height)
        embed(image, model, embedding)
        add_object(image, mask, status=status, prompts={"points": [[width / 2, height / 2, 1]]})
        counts[is_heldout(str(image.pk), holdout)] += 1
        images.append(image)
    return images

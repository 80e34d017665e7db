"""Versions with an image encoder of their own (fine-tuned with --train-encoder): switching a project
to one, or back, requests its images' embeddings under the new encoder; pixels come with the examples
when the encoder is to be trained."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from annotator.models import FinetuneRun, Role
from annotator.services import finetuning as services
from segmentation.models import Embedding, EmbeddingState, SamModel
from tests.annotator.finetuning.conftest import add_object, embed, square_mask
from tests.factories import make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_with_images(fake_model):
    manager = make_user("enc-manager")
    project = make_project("Encoders", members={manager: Role.MANAGER})
    make_label_class(project, "cell")
    images = [make_image(project, width=40, height=30) for _ in range(3)]
    for index, image in enumerate(images):
        embed(image, fake_model, np.zeros(fake_model.embedding_shape, np.float32))
        add_object(image, square_mask(40, 30, index))
    return project, images, manager


def _version(base: SamModel, *, own_encoder: bool) -> SamModel:
    sha = ("7" if own_encoder else "8") * 64
    return SamModel.objects.create(
        name=f"v {sha[:4]}",
        architecture="default",
        checkpoint_path="/nonexistent/v.pt",
        checkpoint_sha256=sha,
        encoder_sha256=sha if own_encoder else base.encoder_sha256,
        parent=base,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
    )


def test_switching_to_a_version_with_its_own_encoder_requests_every_image_again(
    project_with_images, fake_model, django_capture_on_commit_callbacks
):
    project, images, manager = project_with_images
    version = _version(fake_model, own_encoder=True)
    FinetuneRun.objects.create(project=project, base_model=fake_model, result_model=version, status="done")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        services.model_activate(project=project, model=version, user=manager)
    pending = Embedding.objects.filter(model_sha256=version.encoder_sha256)
    assert sorted(pending.values_list("image_sha256", flat=True)) == sorted(i.sha256 for i in images)
    assert set(pending.values_list("status", flat=True)) == {EmbeddingState.PENDING}
    assert len(sent) == len(images)  # one compute task per image, sent after the commit
    # Rolling back finds the base's embeddings ready: nothing is computed again.
    with django_capture_on_commit_callbacks(execute=False) as sent_back:
        services.model_activate(project=project, model=fake_model, user=manager)
    assert sent_back == []
    assert Embedding.objects.filter(model_sha256=fake_model.encoder_sha256, status=EmbeddingState.READY).count() == 3


def test_switching_to_a_version_sharing_the_encoder_requests_nothing(
    project_with_images, fake_model, django_capture_on_commit_callbacks
):
    project, _, manager = project_with_images
    version = _version(fake_model, own_encoder=False)
    FinetuneRun.objects.create(project=project, base_model=fake_model, result_model=version, status="done")
    before = Embedding.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        services.model_activate(project=project, model=version, user=manager)
    assert sent == [] and Embedding.objects.count() == before


def test_examples_carry_their_images_pixels_only_when_the_encoder_is_trained(project_with_images, fake_model):
    project, _, _ = project_with_images
    plain = services.training_data(project=project, model=fake_model, statuses=("approved",), holdout=0.3)
    with_pixels = services.training_data(
        project=project, model=fake_model, statuses=("approved",), holdout=0.3, pixels=True
    )
    assert all(e.image is None for e in plain.train + plain.heldout)
    examples = with_pixels.train + with_pixels.heldout
    assert len(examples) == 3
    for example in examples:
        assert example.image is not None and example.image.dtype == np.uint8
        assert example.image.shape[:2] == example.mask.shape  # the display rendition, same aspect


def test_the_train_encoder_parameter_must_be_a_boolean():
    assert services.finetune_params_clean({"train_encoder": True})["train_encoder"] is True
    assert services.finetune_params_clean({})["train_encoder"] is False
    with pytest.raises(ValidationError) as error:
        services.finetune_params_clean({"train_encoder": "yes"})
    assert "train_encoder" in error.value.message_dict

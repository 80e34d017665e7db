"""Fine-tuning services without training: the examples a project yields, the minimums and their
message, starting, cancelling, switching versions, the promotion rule and continuous learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotator import geometry
from annotator.models import FinetuneRun, FinetuneRunStatus, Role, StatusTransition
from annotator.selectors_finetuning import CORRECTED, model_lineage, retrain_due_in
from annotator.services import annotations as annotation_services
from annotator.services import finetuning as services
from annotator.services.finetuning_run import finetune_execute, promotion_decision, thin
from annotator.services.review import annotation_review, image_review, image_submit
from segmentation.models import SamModel
from segmentation.training.examples import is_heldout
from tests.annotator.finetuning.conftest import add_object, embed, labelled_images, square_mask
from tests.factories import make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(fake_model):
    manager, annotator, reviewer = make_user("ft-manager"), make_user("ft-annotator"), make_user("ft-reviewer")
    project = make_project("Cells", members={manager: Role.MANAGER, annotator: Role.ANNOTATOR, reviewer: Role.REVIEWER})
    make_label_class(project, "cell")
    return {"project": project, "manager": manager, "annotator": annotator, "reviewer": reviewer, "model": fake_model}


def test_the_corrected_audit_value_is_the_one_the_annotation_services_write():
    assert CORRECTED == annotation_services.CORRECTED


def test_examples_split_by_image_stably_and_carry_mask_prompts_weight_and_shared_embedding(team):
    project, model = team["project"], team["model"]
    images = labelled_images(project, model, holdout=0.5, train=3, heldout=3)
    # A second object on the first image (same embedding, same side), edited after SAM.
    second = square_mask(40, 30, 99)
    add_object(images[0], second, edited_after_sam=True)
    # An object on an image without an embedding is skipped, as is a draft when only approved count.
    add_object(make_image(project, width=40, height=30), square_mask(40, 30, 1))
    add_object(images[1], square_mask(40, 30, 2), status="draft")

    train, heldout, skipped = services.examples_for_project(project, ("approved",), 0.5)
    assert skipped == 1
    assert len(train) + len(heldout) == len(images) + 1
    for examples, side in ((train, False), (heldout, True)):
        assert all(is_heldout(example.key, 0.5) is side for example in examples)
    again = services.examples_for_project(project, ("approved",), 0.5)
    assert [e.key for e in again[0]] == [e.key for e in train] and [e.key for e in again[1]] == [e.key for e in heldout]

    first = [e for e in train + heldout if e.key == str(images[0].pk)]
    assert len(first) == 2 and first[0].embedding is first[1].embedding  # read once per image
    assert [e.weight for e in first] == [1.0, services.CORRECTION_WEIGHT]
    assert np.array_equal(first[1].mask, second)
    assert first[0].prompts == {"points": [[20.0, 15.0, 1]]}
    expected = np.random.default_rng(0).normal(size=model.embedding_shape).astype(np.float16)
    assert np.array_equal(first[0].embedding, expected)

    with_drafts = services.examples_for_project(project, ("draft", "approved"), 0.5)
    assert len(with_drafts[0]) + len(with_drafts[1]) == len(images) + 2


def test_a_reviewer_correction_weighs_an_example_up(team, django_capture_on_commit_callbacks):
    project, model = team["project"], team["model"]
    image = make_image(project, width=40, height=30)
    embed(image, model, np.zeros(model.embedding_shape, np.float32))
    annotation = add_object(image, square_mask(40, 30, 3), status="draft")
    image_submit(image=image, user=team["annotator"])
    annotation.refresh_from_db()
    corrected = geometry.rle_encode(square_mask(40, 30, 4).astype(np.uint8))
    annotation_services.annotation_update(
        annotation=annotation, version=annotation.version, actor=team["reviewer"], rle=corrected
    )
    assert StatusTransition.objects.filter(annotation=annotation, to_status=CORRECTED).exists()
    with django_capture_on_commit_callbacks(execute=True):
        image_review(image=image, reviewer=team["reviewer"], approve=True)
    train, heldout, _ = services.examples_for_project(project, ("approved",), 0.5)
    (example,) = train + heldout
    assert example.weight == services.CORRECTION_WEIGHT


def test_too_few_objects_gives_the_message_and_starts_nothing(team, django_capture_on_commit_callbacks):
    project, model = team["project"], team["model"]
    images = labelled_images(project, model, holdout=0.2, train=4, heldout=1)
    heldout = sum(is_heldout(str(i.pk), 0.2) for i in images)
    train = len(images) - heldout
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(ValidationError) as refused:
        services.finetune_start(project=project, user=team["manager"], params={})
    more = max(math.ceil(round((10 - min(train, 10)) / 0.8, 6)), math.ceil(round((10 - min(heldout, 10)) / 0.2, 6)))
    assert refused.value.messages == [
        "Fine-tuning needs at least 10 training and 10 held-out objects with embeddings (20% of images are "
        f"held out); this project has {train} and {heldout}. Approve about {int(more)} more objects."
    ]
    assert callbacks == [] and not FinetuneRun.objects.exists()


def test_the_message_counts_what_is_missing():
    assert services.too_few_message(12, 7, 0.2).endswith("this project has 12 and 7. Approve about 15 more objects.")
    assert services.too_few_message(0, 0, 0.2).endswith("Approve about 50 more objects.")
    assert "(30% of images are held out)" in services.too_few_message(9, 12, 0.3)


def test_start_queues_one_run_for_managers_only(team, django_capture_on_commit_callbacks):
    project, model = team["project"], team["model"]
    labelled_images(project, model, holdout=0.5)
    with pytest.raises(PermissionDenied):
        services.finetune_start(project=project, user=team["reviewer"], params={"holdout": 0.5})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.finetune_start(project=project, user=team["manager"], params={"holdout": 0.5, "minutes": 1})
    assert len(callbacks) == 1  # the task, sent once the run is committed
    assert run.status == FinetuneRunStatus.QUEUED and run.base_model == model and run.requested_by == team["manager"]
    assert run.params == {**services.PARAM_DEFAULTS, "holdout": 0.5, "minutes": 1.0}
    assert run.train_objects >= 10 and run.heldout_objects >= 10
    with pytest.raises(ValidationError, match="already queued or running"):
        services.finetune_start(project=project, user=team["manager"], params={"holdout": 0.5})


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"minutes": 0}, "minutes"),
        ({"lr": -1}, "lr"),
        ({"max_epochs": 1.5}, "max_epochs"),
        ({"statuses": ["rejected"]}, "statuses"),
        ({"statuses": []}, "statuses"),
        ({"promote": "sometimes"}, "promote"),
        ({"holdout": 0.9}, "holdout"),
        ({"batch": 3}, "batch"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, field):
    with pytest.raises(ValidationError) as refused:
        services.finetune_params_clean(params)
    assert field in refused.value.message_dict


def test_cancel_ends_a_queued_run_flags_a_running_one_and_refuses_a_finished_one(team):
    project, model, manager = team["project"], team["model"], team["manager"]
    run = FinetuneRun.objects.create(project=project, base_model=model, params=services.PARAM_DEFAULTS)
    with pytest.raises(PermissionDenied):
        services.finetune_cancel(run=run, user=team["annotator"])
    run = services.finetune_cancel(run=run, user=manager)
    assert run.status == FinetuneRunStatus.CANCELLED and run.finished_at is not None
    assert finetune_execute(run.pk).status == FinetuneRunStatus.CANCELLED  # the task finds it cancelled: no-op
    with pytest.raises(ValidationError, match="only queued or running"):
        services.finetune_cancel(run=run, user=manager)
    running = FinetuneRun.objects.create(
        project=project, base_model=model, params=services.PARAM_DEFAULTS, status=FinetuneRunStatus.RUNNING
    )
    running = services.finetune_cancel(run=running, user=manager)
    assert running.status == FinetuneRunStatus.RUNNING and running.cancel_requested


def test_a_redelivered_task_for_a_finished_run_does_nothing(team):
    run = FinetuneRun.objects.create(
        project=team["project"], base_model=team["model"], params=services.PARAM_DEFAULTS, status="done"
    )
    assert finetune_execute(run.pk).status == FinetuneRunStatus.DONE


def test_a_run_whose_objects_went_away_fails_with_the_message(team):
    run = FinetuneRun.objects.create(project=team["project"], base_model=team["model"], params=services.PARAM_DEFAULTS)
    run = finetune_execute(run.pk)
    assert run.status == FinetuneRunStatus.FAILED and run.message.startswith("Fine-tuning needs at least 10")


def test_versions_of_the_lineage_can_be_activated_others_not(team):
    project, base, manager = team["project"], team["model"], team["manager"]
    version = SamModel.objects.create(
        name="fake v1",
        architecture="default",
        checkpoint_path="/nonexistent/v1.pt",
        checkpoint_sha256="1" * 64,
        encoder_sha256=base.encoder_sha256,
        parent=base,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
    )
    stranger = SamModel.objects.create(
        name="other",
        architecture="default",
        checkpoint_path="/nonexistent/o.pt",
        checkpoint_sha256="2" * 64,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
    )
    FinetuneRun.objects.create(project=project, base_model=base, result_model=version, status="done")
    assert [m.pk for m in model_lineage(project)] == [base.pk, version.pk]
    with pytest.raises(PermissionDenied):
        services.model_activate(project=project, model=version, user=team["reviewer"])
    services.model_activate(project=project, model=version, user=manager)
    project.refresh_from_db()
    assert project.sam_model == version
    services.model_activate(project=project, model=base, user=manager)  # roll back
    project.refresh_from_db()
    assert project.sam_model == base
    with pytest.raises(ValidationError, match="not a version"):
        services.model_activate(project=project, model=stranger, user=manager)


BASE = {"mIoU@1": 0.50, "mIoU@2": 0.60, "mIoU@3": 0.70, "mIoU@4": 0.75, "mIoU@5": 0.80, "NoC@90": 4.0}


def _shifted(gain: float, noc: float) -> dict[str, float]:
    return {**{k: v + gain for k, v in BASE.items() if k.startswith("mIoU")}, "NoC@90": noc}


@pytest.mark.parametrize(
    ("tuned", "promote", "expected"),
    [
        (_shifted(0.01, 4.0), "auto", True),  # exactly the margin, NoC@90 the same
        (_shifted(0.2, 3.0), "auto", True),
        (_shifted(0.009, 3.0), "auto", False),  # below the margin
        (_shifted(0.2, 4.1), "auto", False),  # better mIoU but NoC@90 worse
        (_shifted(-0.2, 5.0), "always", True),
        (_shifted(0.2, 1.0), "never", False),
    ],
)
def test_the_promotion_rule(tuned, promote, expected):
    assert promotion_decision(BASE, tuned, promote) is expected


def test_the_loss_curve_is_thinned_to_bounded_size_keeping_its_ends_shape():
    points = [{"step": float(i), "loss": 1.0 / (i + 1)} for i in range(1000)]
    thinned = thin(points, 300)
    assert len(thinned) <= 300 and thinned[0] == points[0]
    assert [p["step"] for p in thinned] == sorted(p["step"] for p in thinned)


def test_continuous_learning_starts_a_run_after_enough_approvals(team, django_capture_on_commit_callbacks):
    project, model = team["project"], team["model"]
    labelled_images(project, model, holdout=0.2)  # approved before the setting: counted as well
    assert retrain_due_in(project) is None  # off
    project.retrain_every = 3
    project.save(update_fields=["retrain_every"])
    already = StatusTransition.objects.filter(project=project, to_status="approved").count()
    assert already == 0  # made by the factory without audit rows
    images = []
    for index in range(3):
        image = make_image(project, width=40, height=30)
        embed(image, model, np.zeros(model.embedding_shape, np.float32))
        add_object(image, square_mask(40, 30, index), status="draft")
        image_submit(image=image, user=team["annotator"])
        images.append(image)
    first = images[0].annotations.get()
    with django_capture_on_commit_callbacks(execute=True):
        annotation_review(annotation=first, reviewer=team["reviewer"], approve=True)
    project.refresh_from_db()
    assert retrain_due_in(project) == 2 and not FinetuneRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        image_review(image=images[1], reviewer=team["reviewer"], approve=True)
    assert retrain_due_in(project) == 1 and not FinetuneRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        image_review(image=images[2], reviewer=team["reviewer"], approve=True)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        for callback in callbacks:
            callback()  # the commit of the approval
    run = FinetuneRun.objects.get()
    assert run.requested_by is None and run.params["promote"] == "auto" and len(queued) == 1
    assert retrain_due_in(project) == 3  # counted again from this run on


def test_continuous_learning_waits_quietly_while_objects_are_too_few(team, django_capture_on_commit_callbacks):
    project = team["project"]
    project.retrain_every = 1
    project.save(update_fields=["retrain_every"])
    image = make_image(project, width=40, height=30)
    add_object(image, square_mask(40, 30, 0), status="draft")
    image_submit(image=image, user=team["annotator"])
    with django_capture_on_commit_callbacks(execute=True):
        image_review(image=image, reviewer=team["reviewer"], approve=True)
    assert not FinetuneRun.objects.exists() and retrain_due_in(project) == 0
    assert services.finetune_maybe_schedule(project.pk) is None

"""Model registration: management commands, settings-driven registration, default model fallback."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from segmentation.models import SamModel

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.django_db


def _checkpoint(tmp_path, seed: int = 5):
    from segmentation.sam.loader import build_sam

    torch.manual_seed(seed)
    path = tmp_path / f"model-{seed}.pt"
    torch.save(build_sam("default").state_dict(), path)
    return path


def test_register_model_command_records_hashes_and_decoders(tmp_path):
    path = _checkpoint(tmp_path)
    out = StringIO()
    call_command("register_model", "--checkpoint", str(path), "--type", "default", "--name", "mine", stdout=out)
    model = SamModel.objects.get(name="mine")
    assert model.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.encoder_input_size == 512 and model.embedding_shape == [256, 64, 64]
    for variant in ("fp32", "int8"):
        name = getattr(model, f"decoder_{variant}").name
        assert hashlib.sha256(default_storage.open(name).read()).hexdigest() == getattr(
            model, f"decoder_{variant}_sha256"
        )
    assert model.decoder_int8.size < model.decoder_fp32.size / 2
    assert "Registered mine" in out.getvalue()
    # Registering the same file again updates the record instead of adding one.
    call_command("register_model", "--checkpoint", str(path), "--type", "default", stdout=StringIO())
    assert SamModel.objects.filter(checkpoint_sha256=model.checkpoint_sha256).count() == 1


@pytest.mark.slow
def test_register_model_refuses_wrong_architecture(tmp_path):
    path = _checkpoint(tmp_path)
    with pytest.raises(CommandError, match="does not match architecture 'vit_b'"):
        call_command("register_model", "--checkpoint", str(path), "--type", "vit_b", stdout=StringIO())
    assert not SamModel.objects.exists()


def test_ensure_models_registers_default_and_settings_checkpoint(tmp_path, settings):
    path = _checkpoint(tmp_path, seed=6)
    settings.SEGMENTATION_CHECKPOINT = str(path)
    settings.SEGMENTATION_CHECKPOINT_TYPE = "default"
    out = StringIO()
    call_command("ensure_models", stdout=out)
    call_command("ensure_models", stdout=StringIO())  # idempotent
    assert SamModel.objects.count() == 2
    default = SamModel.objects.get(is_default=True)
    assert "[default]" in out.getvalue() and default.name in out.getvalue()
    assert SamModel.objects.exclude(pk=default.pk).get().checkpoint_path == str(path.resolve())


def test_make_default_moves_the_flag(tmp_path):
    from segmentation.services.models import default_sam_model, sam_model_register

    first = default_sam_model()
    second = sam_model_register(
        name="other", architecture="default", checkpoint_path=_checkpoint(tmp_path, 8), make_default=True
    )
    assert SamModel.objects.get(is_default=True) == second
    first.refresh_from_db()
    assert not first.is_default


def test_export_decoder_command_writes_both_files(tmp_path):
    out = StringIO()
    call_command("export_decoder", "--type", "default", "--out", str(tmp_path), stdout=out)
    assert (tmp_path / "decoder-fp32.onnx").stat().st_size > 10_000_000
    assert (tmp_path / "decoder-int8.onnx").stat().st_size < 6_000_000


def _make_stale(model) -> None:
    """What a model registered by an older export version looks like: decoder files, no current record."""
    from segmentation.services.models import _export_record_name

    default_storage.delete(_export_record_name(model))


def test_stale_model_manifest_prepares_then_serves_only_the_current_export(tmp_path, monkeypatch):
    """A registered (non-default) model whose decoders predate DECODER_EXPORT_VERSION: the manifest
    describes no graph until the re-export is done, the decoder view serves none; then both agree."""
    from annotator.models import Role
    from segmentation.services import models as registry
    from tests.factories import make_project, make_user
    from tests.segmentation.conftest import api_client

    registry.default_sam_model()
    other = registry.sam_model_register(
        name="official", architecture="default", checkpoint_path=_checkpoint(tmp_path, 9)
    )
    member = make_user()
    project = make_project(members={member: Role.ANNOTATOR})
    project.sam_model = other
    project.save()
    client = api_client(member)
    old_int8_url = client.get(f"/api/projects/{project.pk}/model/").json()["decoders"]["int8"]["url"]
    _make_stale(other)
    assert not registry.decoders_current(other)

    queued = []
    from segmentation import tasks

    monkeypatch.setattr(tasks.decoder_export_refresh, "apply_async", lambda args, **options: queued.append(tuple(args)))
    body = client.get(f"/api/projects/{project.pk}/model/").json()
    again = client.get(f"/api/projects/{project.pk}/model/").json()
    monkeypatch.undo()
    assert body["decoder_state"] == again["decoder_state"] == "preparing"
    assert body["decoders"] == {} and body["first_click"] is None
    assert queued == [(other.pk,)]  # queued once, not per request
    assert settings.CELERY_TASK_ROUTES[tasks.decoder_export_refresh.name] == {"queue": "default"}  # bulk work
    assert client.get(old_int8_url).status_code == 404
    assert "being prepared" in client.get(old_int8_url).json()["detail"]

    tasks.decoder_export_refresh(other.pk)  # the task body the worker runs
    body = client.get(f"/api/projects/{project.pk}/model/").json()
    assert body["decoder_state"] == "ready"
    other.refresh_from_db()
    graphs = registry.decoder_export(other)
    assert body["decoders"]["int8"]["sha256"] == other.decoder_int8_sha256 == graphs["int8"][1]
    for key, graph in (("prep", "prep"), ("int8", "first-click-int8"), ("fp32", "first-click-fp32")):
        assert body["first_click"][key]["sha256"] == graphs[graph][1]
        response = client.get(body["first_click"][key]["url"])
        data = b"".join(response.streaming_content)
        assert hashlib.sha256(data).hexdigest() == graphs[graph][1]


def test_first_click_graphs_come_from_one_export_record(tmp_path):
    """Two exports' files in one folder: the graphs named are the model's own record's, not the
    alphabetically last hash."""
    from segmentation.services import models as registry

    model = registry.default_sam_model()
    graphs = registry.first_click_graphs(model)
    folder = graphs["prep"][0].rsplit("/", 1)[0]
    for graph in registry.FIRST_CLICK_GRAPHS:
        default_storage.save(f"{folder}/{graph}-{'f' * 64}.onnx", ContentFile(b"another export"))
    assert registry.first_click_graphs(model) == graphs
    assert all("f" * 64 not in name for name, _ in graphs.values())
    # A record of another version, or one that names other registered decoders, is not current.
    model.decoder_int8_sha256 = "0" * 64
    assert registry.decoder_export(model) is None and registry.first_click_graphs(model) == {}


def test_ensure_models_reexports_every_stale_registered_model(tmp_path):
    from segmentation.services import models as registry

    default = registry.default_sam_model()
    other = registry.sam_model_register(
        name="official", architecture="default", checkpoint_path=_checkpoint(tmp_path, 10)
    )
    gone = registry.sam_model_register(name="gone", architecture="default", checkpoint_path=_checkpoint(tmp_path, 11))
    for model in (default, other, gone):
        _make_stale(model)
    (tmp_path / "model-11.pt").unlink()
    out = StringIO()
    call_command("ensure_models", stdout=out)
    for model in (default, other):
        model.refresh_from_db()
        assert registry.decoders_current(model), model.name
    gone.refresh_from_db()
    assert not registry.decoders_current(gone)
    assert "official" in out.getvalue()

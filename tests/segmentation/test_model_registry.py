"""Model registration: management commands, settings-driven registration, default model fallback."""
from __future__ import annotations

import hashlib
from io import StringIO

import pytest
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
        assert hashlib.sha256(default_storage.open(name).read()).hexdigest() == getattr(model, f"decoder_{variant}_sha256")
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
    second = sam_model_register(name="other", architecture="default", checkpoint_path=_checkpoint(tmp_path, 8), make_default=True)
    assert SamModel.objects.get(is_default=True) == second
    first.refresh_from_db()
    assert not first.is_default


def test_export_decoder_command_writes_both_files(tmp_path):
    out = StringIO()
    call_command("export_decoder", "--type", "default", "--out", str(tmp_path), stdout=out)
    assert (tmp_path / "decoder-fp32.onnx").stat().st_size > 10_000_000
    assert (tmp_path / "decoder-int8.onnx").stat().st_size < 6_000_000

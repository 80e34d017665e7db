"""Fine-tuned model versions: train a copy of a model's prompt encoder + mask decoder on labelled
objects (segmentation.training.finetune), then register the result as a new SamModel whose parent
is the base and whose encoder is the base's (so it reads every embedding the base has).

With params.train_encoder the image encoder is trained too: the version then has an encoder of its
own (encoder_sha256 = its checkpoint's sha256), so no embedding of the base fits it and every image
that is to be annotated with it is embedded again (the annotator requests that when a project
switches to such a version).

Imported by the web process too (the annotator's services): torch is loaded only inside
finetune_version, through the lazily imported segmentation.training / segmentation.sam modules.

Order of writes, so that a cancelled or failed run leaves nothing half-registered: train (nothing
written) -> checkpoint file (named by its sha256) -> decoder export and its check against PyTorch ->
the SamModel row, saved last. Any failure before the row removes the checkpoint file this run wrote.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from segmentation.models import SamModel
from segmentation.services.model_cache import get_device, load_verified_sam
from segmentation.services.models import sam_model_register
from segmentation.training.examples import Example, FinetuneCancelled, FinetuneParams, FinetuneResult

logger = logging.getLogger(__name__)

# Largest |ONNX - PyTorch| allowed on the exported refinement graph (logits and predicted IoU, fp32):
# float rounding stays around 1e-4; a graph exported from other weights is off by whole units.
DECODER_CHECK_TOLERANCE = 1e-2


def version_checkpoint_path(sha256: str) -> Path:
    """Where a version's checkpoint lives: beside the other checkpoints, named by its content."""
    return Path(settings.SEGMENTATION_CHECKPOINT_DIR) / f"finetuned-{sha256[:16]}.pt"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN/inf (an epoch without steps has a NaN loss) become None (PostgreSQL's
    jsonb refuses them)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def training_record(
    *, base: SamModel, params: FinetuneParams, result: FinetuneResult, train: int, heldout: int, data: dict | None
) -> dict:
    """SamModel.training of a version: how it was made and how it scored against its base."""
    return _finite(
        {
            "params": dataclasses.asdict(params),
            "metrics": {"base": result.base, "tuned": result.tuned},
            "history": result.history,
            "epochs": result.epochs,
            "stopped": result.stopped,
            "seconds": round(result.seconds, 3),
            "base": {"name": base.name, "checkpoint_sha256": base.checkpoint_sha256},
            "objects": {"train": train, "heldout": heldout},
            "data": data or {},
        }
    )


def finetune_version(
    *,
    base: SamModel,
    train: Sequence[Example],
    heldout: Sequence[Example],
    params: FinetuneParams,
    name: str,
    on_progress: Callable[[dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data: dict | None = None,
) -> tuple[FinetuneResult, SamModel]:
    """Fine-tune a fresh copy of `base` and register the kept state as version `name` (parent=base,
    encoder_sha256=base's, training = training_record(...), its own fp32 + int8 first-click and
    refinement decoders, the fp32 refinement graph checked against PyTorch). Never the default model.
    With params.train_encoder: encoder_sha256 is the version's own, and the file's encoder must be
    the trained one (the check's embedding comes from it).

    Returns (result, model). The same weights are the same model: when no epoch beat the base (the
    kept state IS the base) the model returned is `base` itself, and weights already registered give
    that registered model back; neither is changed. Raises FinetuneCancelled (should_stop said so,
    during training or before the row is saved) with nothing registered; ValueError for a taken name.
    """
    # torch: loaded here, in the training worker, never when the web process imports this module.
    from segmentation.sam.encoder import encode_images
    from segmentation.sam.versions import (
        VersionCheckError,
        encoders_equal,
        merged_checkpoint,
        refinement_graph_max_diff,
    )
    from segmentation.training.finetune import finetune

    if SamModel.objects.filter(name=name).exists():
        raise ValueError(f"A model named {name!r} exists already; choose another name for the version.")
    sam = load_verified_sam(base)  # a fresh copy: the worker's cached model must stay the base
    result = finetune(
        sam, train, heldout, params, device=get_device(), on_progress=on_progress, should_stop=should_stop
    )
    sam.cpu()  # the checks below compare against PyTorch on the CPU, as onnxruntime runs there
    data_bytes, changed_keys = merged_checkpoint(base.checkpoint_path, result.state_dict)
    if not changed_keys:
        logger.info("Fine-tuning %s kept the base weights: no version registered", base.name)
        return result, base
    sha = hashlib.sha256(data_bytes).hexdigest()
    existing = SamModel.objects.filter(checkpoint_sha256=sha).first()
    if existing is not None:
        return result, existing
    own_encoder = params.train_encoder and any(key.startswith("image_encoder.") for key in changed_keys)
    # The check's embedding must come from the encoder the version will be used with.
    check_embedding = encode_images(sam, [heldout[0].image], "cpu")[0] if own_encoder else heldout[0].embedding
    path = version_checkpoint_path(sha)
    wrote = not path.exists()
    if wrote:
        _write_atomically(path, data_bytes)

    def check(record: SamModel, exported: Any) -> None:
        # The file's encoder is the one trained (decoder only: the base's, the shared-embedding promise).
        if not encoders_equal(exported, sam):
            raise VersionCheckError("The version's image encoder differs from the one trained.")
        with default_storage.open(record.decoder_fp32.name, "rb") as handle:
            graph = handle.read()
        diff = refinement_graph_max_diff(sam, graph, check_embedding, seed=params.seed)
        if diff > DECODER_CHECK_TOLERANCE:
            raise VersionCheckError(
                f"The exported decoder of {name!r} differs from PyTorch by {diff:.3g} (> {DECODER_CHECK_TOLERANCE})."
            )
        if should_stop is not None and should_stop():
            raise FinetuneCancelled()

    try:
        version = sam_model_register(
            name=name,
            architecture=base.architecture,
            checkpoint_path=path,
            parent=base,
            encoder_sha256=None if own_encoder else base.encoder_sha256,
            training=training_record(
                base=base, params=params, result=result, train=len(train), heldout=len(heldout), data=data
            ),
            verify=check,
        )
    except BaseException:
        if wrote:
            path.unlink(missing_ok=True)
        raise
    logger.info("Registered fine-tuned version %s of %s (sha256 %s)", name, base.name, sha[:12])
    return result, version

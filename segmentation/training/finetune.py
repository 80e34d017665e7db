"""Fine-tune a SAM model's prompt encoder + mask decoder on labelled objects; the image encoder is frozen.

The training data are stored embeddings, never pixels: the encoder does not run, so every embedding a
project already has stays valid for the tuned decoder, and a step costs only decoder passes (about
4 M parameters), which a CPU worker can afford.

Prompts are given the way labelers give them and the browser's ONNX graphs encode them
(`prompts.embed_points` / `embed_mask`, the SamOnnxModel representation):
- round 0 replays the labeler's first stored prompt (a click or a box) when the object has one,
  otherwise a simulated first click or a jittered box;
- every later round adds one click: the labeler's next stored click while there is one, then a
  simulated correction click from the current error region; the previous low-res logits come back
  as mask_input, as the browser feeds them.
Each round's loss (BCE + dice on the mask that would be shown, MSE of the IoU head) is weighted by
the example's weight (corrected labels count more, see `Example.weight`).

After every epoch the held-out objects run through the standard click simulator
(`segmentation.evaluation.clicks`, the one `evaluate_clicks` uses) on clicks 1..eval_clicks; the
state with the best mean mIoU@1..eval_clicks is kept, and training stops early after `patience`
epochs without a gain, at `max_epochs`, or when the time budget is spent. Deterministic for a seed
on one device. No Django here: the annotator gathers the examples and registers the result.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from segmentation.training import encoder_mode, prompts
from segmentation.training.embedding_predictor import ModelGeometry, evaluate
from segmentation.training.examples import (
    TRAINED_PREFIXES,
    Example,
    FinetuneCancelled,
    FinetuneParams,
    FinetuneResult,
    score,
)


@dataclass
class _Prepared:
    key: str  # the image: objects of one image share its embedding (and, training the encoder, its pass)
    embedding: torch.Tensor  # (C, h, w); empty when the encoder is trained (embeddings come from pixels)
    target: torch.Tensor  # (L, L) float in [0, 1] on the low-res grid of the padded input square
    valid: torch.Tensor  # (L, L) 1 inside the image, 0 in the padding
    box: torch.Tensor  # (4,) the mask's box in input pixels
    stored: list[tuple[float, float, int]]  # the labeler's prompt tokens in input pixels, in order
    weight: float


def _prepare(geometry: ModelGeometry, example: Example, device: torch.device, *, pixels: bool) -> _Prepared:
    height, width = example.mask.shape
    s = geometry.scale(height, width)
    low_h = max(1, round(height * s * geometry.low_per_input))
    low_w = max(1, round(width * s * geometry.low_per_input))
    target = np.zeros((geometry.low, geometry.low), np.float32)
    target[:low_h, :low_w] = cv2.resize(example.mask.astype(np.float32), (low_w, low_h), interpolation=cv2.INTER_AREA)
    valid = np.zeros_like(target)
    valid[:low_h, :low_w] = 1
    ys, xs = np.nonzero(example.mask)
    box = [xs.min() * s, ys.min() * s, (xs.max() + 1) * s, (ys.max() + 1) * s] if len(xs) else [0.0] * 4
    return _Prepared(
        key=example.key,
        embedding=torch.empty(0)
        if pixels
        else torch.as_tensor(np.asarray(example.embedding, np.float32), device=device),
        target=torch.as_tensor(target, device=device),
        valid=torch.as_tensor(valid, device=device),
        box=torch.tensor(box, dtype=torch.float32, device=device),
        stored=prompt_tokens(example.prompts, s),
        weight=float(example.weight),
    )


def prompt_tokens(stored: dict[str, Any] | None, s: float) -> list[tuple[float, float, int]]:
    """The labeler's prompts as tokens: a box first (its two corners, labels 2 and 3), then clicks."""
    if not stored:
        return []
    tokens: list[tuple[float, float, int]] = []
    box = stored.get("box")
    if box and len(box) == 4:
        tokens += [(box[0] * s, box[1] * s, 2), (box[2] * s, box[3] * s, 3)]
    for point in stored.get("points") or []:
        if len(point) >= 3 and int(point[2]) in (0, 1):
            tokens.append((point[0] * s, point[1] * s, int(point[2])))
    return tokens


def _mask_losses(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-object BCE + dice over valid pixels: logits (N, K, L, L), target/valid (N, L, L) -> (N, K)."""
    t = target[:, None].expand_as(logits)
    v = valid[:, None]
    bce = (F.binary_cross_entropy_with_logits(logits, t, reduction="none") * v).sum((-2, -1)) / v.sum((-2, -1))
    p = logits.sigmoid() * v
    dice = 1 - (2 * (p * t).sum((-2, -1)) + 1) / (p.sum((-2, -1)) + (t * v).sum((-2, -1)) + 1)
    return bce + dice


def _true_iou(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    pred = (logits > 0) & (valid[:, None] > 0)
    tgt = target[:, None] > 0.5
    inter = (pred & tgt).sum((-2, -1)).float()
    return inter / (pred | tgt).sum((-2, -1)).float().clamp(min=1)


def trained_prefixes(params: FinetuneParams) -> tuple[str, ...]:
    return (*TRAINED_PREFIXES, encoder_mode.ENCODER_PREFIX) if params.train_encoder else TRAINED_PREFIXES


class _Trainer:
    def __init__(
        self, sam: Any, params: FinetuneParams, device: torch.device, bank: encoder_mode.PixelBank | None
    ) -> None:
        self.sam, self.params, self.device, self.bank = sam, params, device, bank
        self.geometry = ModelGeometry(sam)
        self.generator = torch.Generator(device=device).manual_seed(params.seed)
        prefixes = trained_prefixes(params)
        for name, p in sam.named_parameters():
            p.requires_grad_(name.startswith(prefixes))
        decoder = [p for name, p in sam.named_parameters() if name.startswith(TRAINED_PREFIXES)]
        groups: list[dict[str, Any]] = [{"params": decoder, "lr": params.lr}]
        if bank is not None:
            groups.append({"params": encoder_mode.encoder_parameters(sam), "lr": params.encoder_lr})
        self.optimizer = torch.optim.AdamW(groups, lr=params.lr, weight_decay=params.weight_decay)

    def _embeddings(self, batch: list[_Prepared]) -> torch.Tensor:
        if self.bank is None:
            return torch.stack([b.embedding for b in batch])
        return self.bank.embed([b.key for b in batch])

    def _first_tokens(
        self, batch: list[_Prepared], target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Round 0 prompt per object (2 tokens each) and how many stored tokens it used."""
        n = len(batch)
        click_xy, click_label = prompts.sample_clicks(
            target > 0.5, target > 0.5, p_center=0.5, generator=self.generator
        )
        click_xy = self._low_grid_to_input(click_xy)
        boxes = prompts.jitter_boxes(torch.stack([b.box for b in batch]), self.geometry.img_size, self.generator)
        use_box = torch.rand(n, generator=self.generator, device=self.device) < self.params.box_share
        coords = torch.zeros(n, 2, 2, device=self.device)
        labels = torch.zeros(n, 2, dtype=torch.long, device=self.device)
        used = []
        for i, item in enumerate(batch):
            stored = item.stored
            if len(stored) >= 2 and stored[0][2] == 2:  # the labeler started with a box
                coords[i] = torch.tensor([stored[0][:2], stored[1][:2]], device=self.device)
                labels[i] = torch.tensor([2, 3], device=self.device)
                used.append(2)
            elif stored:  # the labeler's first click, then the padding point
                coords[i, 0] = torch.tensor(stored[0][:2], device=self.device)
                labels[i] = torch.tensor([stored[0][2], -1], device=self.device)
                used.append(1)
            elif use_box[i]:
                coords[i] = boxes[i].view(2, 2)
                labels[i] = torch.tensor([2, 3], device=self.device)
                used.append(0)
            else:
                coords[i, 0] = click_xy[i]
                labels[i] = torch.stack([click_label[i], torch.tensor(-1, device=self.device)])
                used.append(0)
        return coords, labels, used

    def _low_grid_to_input(self, xy: torch.Tensor) -> torch.Tensor:
        """sample_clicks returns input pixels of a grid at half the input size; map from our low grid."""
        low_xy = (xy - 1) / 2  # back to the low-res grid index sample_clicks picked
        per = 1 / self.geometry.low_per_input
        return low_xy * per + per / 2

    def step(self, batch: list[_Prepared]) -> dict[str, float]:
        n, rounds = len(batch), self.params.rounds
        self.optimizer.zero_grad(set_to_none=True)
        embeddings = self._embeddings(batch)
        target = torch.stack([b.target for b in batch])
        valid = torch.stack([b.valid for b in batch])
        weights = torch.tensor([b.weight for b in batch], device=self.device)
        weights = weights / weights.sum()
        image_pe = self.sam.prompt_encoder.get_dense_pe()
        coords, labels, used = self._first_tokens(batch, target)
        prev = torch.zeros(n, 1, self.geometry.low, self.geometry.low, device=self.device)
        has_mask = torch.zeros(n, device=self.device)
        total, shown = 0.0, []
        losses = []
        for r in range(rounds):
            if r > 0:
                xy, label = self._next_clicks(batch, used, prev, target, valid)
                coords = torch.cat([xy[:, None], coords], 1)  # new clicks first; box/pad tokens stay last
                labels = torch.cat([label[:, None], labels], 1)
                has_mask = torch.ones(n, device=self.device)
            sparse = prompts.embed_points(self.sam.prompt_encoder, coords, labels, self.geometry.img_size)
            dense = prompts.embed_mask(self.sam.prompt_encoder, prev, has_mask)
            masks, iou_pred = prompts.decode(self.sam.mask_decoder, embeddings, image_pe, sparse, dense)
            candidates = slice(1, 4) if coords.shape[1] <= 2 else slice(0, 1)  # SamOnnxModel's rule
            per = _mask_losses(masks[:, candidates], target, valid)
            with torch.no_grad():
                ious = _true_iou(masks, target, valid)
            loss = ((per.min(1).values + ((iou_pred - ious) ** 2).mean(1)) * weights).sum() / rounds
            if self.bank is None:
                loss.backward()  # each round's graph is freed at once; the embeddings are constants
            else:
                losses.append(loss)  # one backward at the end: every round flows into the shared encoder pass
            with torch.no_grad():
                pick = iou_pred[:, candidates].argmax(1) + candidates.start
                rows = torch.arange(n, device=self.device)
                prev = masks[rows, pick][:, None].detach()
                shown.append(float(ious[rows, pick].mean()))
            total += float(loss.detach())
        if losses:
            torch.stack(losses).sum().backward()
        self.optimizer.step()
        return {"loss": total, "iou_first": shown[0], "iou_last": shown[-1]}

    def _next_clicks(self, batch, used, prev, target, valid) -> tuple[torch.Tensor, torch.Tensor]:
        error = ((prev[:, 0] > 0) != (target > 0.5)) & (valid > 0)
        xy, label = prompts.sample_clicks(error, target > 0.5, p_center=0.7, generator=self.generator)
        xy = self._low_grid_to_input(xy)
        for i, item in enumerate(batch):
            if used[i] < len(item.stored) and item.stored[used[i]][2] in (0, 1):
                x, y, lab = item.stored[used[i]]
                xy[i] = torch.tensor([x, y], device=self.device)
                label[i] = lab
                used[i] += 1
        return xy, label


def finetune(
    sam: Any,
    train: Sequence[Example],
    heldout: Sequence[Example],
    params: FinetuneParams,
    *,
    device: torch.device | None = None,
    on_progress: Callable[[dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Train `sam`'s prompt encoder + mask decoder (and its image encoder with params.train_encoder)
    in place on `train`; return the best state by held-out score (the base state when no epoch beats
    it). Raises FinetuneCancelled on request."""
    if not train or not heldout:
        raise ValueError("Fine-tuning needs at least one training and one held-out object.")
    device = device or torch.device("cpu")
    started = time.monotonic()
    deadline = started + params.minutes * 60
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    sam.to(device)
    bank = encoder_mode.PixelBank(sam, train, device) if params.train_encoder else None
    if bank is not None:
        encoder_mode.require_images(heldout)
    trainer = _Trainer(sam, params, device, bank)
    prepared = [_prepare(trainer.geometry, e, device, pixels=bank is not None) for e in train]

    def heldout_now() -> Sequence[Example]:
        # A trained encoder gives other embeddings than the stored ones: score on what it gives.
        return encoder_mode.reembedded(sam, heldout, device) if bank is not None else heldout

    base = evaluate(sam, heldout, params.eval_clicks, device)
    best_score = -math.inf if params.keep_trained else score(base, params.eval_clicks)
    prefixes = trained_prefixes(params)
    base_state = best_state = _trained_state(sam, prefixes)
    result = FinetuneResult(state_dict=best_state, base=base, tuned=base)
    stale, steps_per_epoch = 0, math.ceil(len(prepared) / params.batch)
    for epoch in range(1, params.max_epochs + 1):
        sam.train()
        sam.image_encoder.eval()  # frozen, or trained with the base's normalisation statistics
        order = rng.permutation(len(prepared))
        losses = []
        for step in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                raise FinetuneCancelled()
            if time.monotonic() > deadline:
                break
            chunk = [prepared[i] for i in order[step * params.batch : (step + 1) * params.batch]]
            stats = trainer.step(chunk)
            losses.append(stats["loss"])
            if on_progress is not None:
                on_progress({"epoch": epoch, "step": (epoch - 1) * steps_per_epoch + step + 1, **stats})
        metrics = evaluate(sam, heldout_now(), params.eval_clicks, device)
        current = score(metrics, params.eval_clicks)
        row = {"epoch": float(epoch), "loss": float(np.mean(losses)) if losses else math.nan, "heldout": current}
        result.history.append(row)
        if on_progress is not None:
            on_progress({**row, "seconds": time.monotonic() - started})
        result.epochs = epoch
        if current > best_score + params.min_gain:
            best_score, best_state, result.tuned, stale = current, _trained_state(sam, prefixes), metrics, 0
        else:
            stale += 1
        if time.monotonic() > deadline:
            result.stopped = "time"
            break
        if stale >= params.patience:
            result.stopped = "patience"
            break
    else:
        result.stopped = "epochs"
    result.state_dict = best_state
    result.training_seconds = time.monotonic() - started
    if params.report_clicks > params.eval_clicks:
        # The record's comparison runs the full simulator (NoC needs more than a few clicks).
        sam.load_state_dict(base_state, strict=False)
        result.base = evaluate(sam, heldout, params.report_clicks, device)
        sam.load_state_dict(best_state, strict=False)
        result.tuned = evaluate(sam, heldout_now(), params.report_clicks, device)
    sam.load_state_dict(best_state, strict=False)
    sam.eval()
    result.seconds = time.monotonic() - started
    return result


def _trained_state(sam: Any, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Copies of the trained tensors; floating point ones as float32 (integer buffers such as
    BatchNorm's num_batches_tracked keep their dtype)."""
    return {
        name: copy.deepcopy(value.detach()).cpu().to(torch.float32 if value.is_floating_point() else value.dtype)
        for name, value in sam.state_dict().items()
        if name.startswith(prefixes)
    }

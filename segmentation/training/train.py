"""Train the default SAM-compatible model from scratch on procedural scenes, on a time budget.

    PYTHONUNBUFFERED=1 python -m segmentation.training.train --device cuda --minutes 7.0 --out OUT

Recipe (SAM-style interactive training, see segmentation/default_model/MODEL_CARD.md):
- every step encodes B images once and decodes T targets per image from that one embedding;
- round 0 prompts with one click or a jittered box (multimask output, loss on the best of 3);
  rounds 1..R-1 each add a corrective click sampled from the previous prediction's error region
  (single-mask output), with the previous low-res logits as mask_input; one round may add no click;
- loss per round: BCE + dice on the mask, MSE of the IoU head against the true IoU of all 4 outputs;
- each round's loss is backpropagated at once into a detached copy of the embedding, whose gradient
  is pushed through the encoder once at the end: all rounds train, one round's activations in memory.
The learning rate follows warm-up + cosine over the wall-clock budget, so the run ends on time.
Checkpoints (fp16 state dict of the whole Sam) and a JSON log are written every --save-every seconds.
No Django here: this runs on bare GPU boxes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from segmentation.evaluation.clicks import format_table, simulate, summarize


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--minutes", type=float, default=7.0, help="training wall-clock budget (eval comes after)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32, help="images per step")
    p.add_argument("--targets", type=int, default=4, help="objects decoded per image per step")
    p.add_argument("--rounds", type=int, default=8, help="prompt rounds per target (1 initial + corrections)")
    p.add_argument("--grad-rounds", type=int, default=5, help="rounds that backpropagate (first, last, random others)")
    p.add_argument("--workers", type=int, default=14)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--iou-weight", type=float, default=2.0)
    p.add_argument("--save-every", type=float, default=60.0, help="seconds between checkpoints")
    p.add_argument("--log-every", type=float, default=10.0, help="seconds between progress lines")
    p.add_argument("--init", default="", help="start from this checkpoint instead of random weights")
    p.add_argument("--eval-seed", type=int, default=777)
    p.add_argument("--eval-objects", type=int, default=300)
    p.add_argument("--eval-clicks", type=int, default=20)
    p.add_argument("--eval-max-seconds", type=float, default=75.0, help="stop adding clicks after this long")
    p.add_argument("--sam-path", default="", help="folder holding segment_anything, if not importable")
    p.add_argument(
        "--profile-steps",
        type=int,
        default=0,
        help="before training, profile this many steps (torch.profiler) and print where the time goes",
    )
    return p.parse_args(argv)


def _lr_factor(progress: float, warmup: float = 0.04, floor: float = 0.02) -> float:
    """Linear warm-up, then cosine to `floor` of the peak; progress is elapsed / budget in [0, 1]."""
    if progress < warmup:
        return max(progress / warmup, 0.01)
    t = min((progress - warmup) / (1 - warmup), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def save_checkpoint(sam, out: Path, name: str = "default_sam.pt") -> Path:
    """fp16 state dict of the whole Sam, written atomically (a killed run never leaves half a file)."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in sam.state_dict().items()}
    tmp = out / (name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out / name)
    return out / name


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def mask_losses(logits, target, valid):
    """Per-sample BCE + dice over valid pixels. logits (N, K, H, W); target/valid (N, H, W) float."""
    import torch.nn.functional as F

    t = target[:, None].expand_as(logits)
    v = valid[:, None]
    bce = (F.binary_cross_entropy_with_logits(logits, t, reduction="none") * v).sum((-2, -1)) / v.sum((-2, -1))
    p = logits.sigmoid() * v
    dice = 1 - (2 * (p * t).sum((-2, -1)) + 1) / (p.sum((-2, -1)) + (t * v).sum((-2, -1)) + 1)
    return bce + dice  # (N, K)


def true_iou(logits, target_bin, valid):
    """IoU of (logits > 0) with the binary target over valid pixels: (N, K)."""
    pred = (logits > 0) & (valid[:, None] > 0)
    tgt = target_bin[:, None]
    inter = (pred & tgt).sum((-2, -1)).float()
    union = (pred | tgt).sum((-2, -1)).float()
    return inter / union.clamp(min=1)


def train_step(sam, batch, args, device, amp_dtype):
    """One step over B images x T targets x R rounds; returns stats for logging."""
    import torch

    from segmentation.training import prompts

    img_size = sam.image_encoder.img_size
    images = batch["image"].to(device, non_blocking=True).permute(0, 3, 1, 2).float()
    valid_hw = batch["valid"].to(device)
    b = images.shape[0]
    ar = torch.arange(img_size, device=device)
    pix_valid = (ar[None, :, None] < valid_hw[:, 0, None, None]) & (ar[None, None, :] < valid_hw[:, 1, None, None])
    x = (images - sam.pixel_mean) / sam.pixel_std * pix_valid[:, None]  # padding is 0 after normalizing, as in SAM
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    use_amp = amp_dtype is not None
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
        emb = sam.image_encoder(x)
    emb_leaf = emb.detach().float().requires_grad_(True)

    t_per = batch["gt"].shape[1]
    n = b * t_per
    gt = batch["gt"].to(device, non_blocking=True).flatten(0, 1).float() / 255  # (N, h, w) soft
    gt_bin = gt >= 0.5
    low = gt.shape[-1]
    valid = torch.nn.functional.interpolate(pix_valid[:, None].float(), size=(low, low), mode="area")
    valid = (valid >= 0.5).float().repeat_interleave(t_per, 0)[:, 0]
    img_index = torch.arange(b, device=device).repeat_interleave(t_per)
    boxes = batch["boxes"].to(device).flatten(0, 1)
    image_pe = sam.prompt_encoder.get_dense_pe()

    # Round 0: a click (deepest or random object pixel) or a jittered box; both make 2 prompt tokens.
    use_box = torch.rand(n, device=device) < 0.4
    click_xy, click_lab = prompts.sample_clicks(gt_bin, gt_bin, p_center=0.5)
    box_xy = prompts.jitter_boxes(boxes, img_size).view(n, 2, 2)
    pad_xy = torch.zeros(n, 2, device=device)
    first_xy = torch.where(use_box[:, None, None], box_xy, torch.stack([click_xy, pad_xy], 1))
    first_lab = torch.where(
        use_box[:, None], torch.tensor([2, 3], device=device), torch.stack([click_lab, -torch.ones_like(click_lab)], 1)
    )
    coords, labels = first_xy, first_lab
    prev_logits = torch.zeros(n, 1, low, low, device=device)
    has_mask = torch.zeros(n, device=device)
    no_click_round = int(np.random.randint(2, args.rounds)) if args.rounds >= 4 and np.random.rand() < 0.5 else -1

    loss_total = torch.zeros((), device=device)
    iou_first = iou_last = iou_err = loss_total
    # Rounds outside grad_rounds only run forward (a third of the cost): they still move the
    # prompt state on, so the rounds that train see late-correction situations too.
    inner = list(range(1, args.rounds - 1))
    picked = np.random.choice(inner, min(len(inner), max(args.grad_rounds - 2, 0)), replace=False) if inner else []
    grad_rounds = {0, args.rounds - 1, *map(int, picked)}
    for r in range(args.rounds):
        if r > 0 and r != no_click_round:
            pred = prev_logits[:, 0] > 0
            error = (pred != gt_bin) & (valid > 0)
            xy, lab = prompts.sample_clicks(error, gt_bin, p_center=0.7)
            coords = torch.cat([xy[:, None], coords], 1)  # new clicks first; box/pad tokens stay last
            labels = torch.cat([lab[:, None], labels], 1)
        if r > 0:
            has_mask = (torch.rand(n, device=device) > 0.1).float()  # sometimes no previous mask
        with torch.set_grad_enabled(r in grad_rounds):
            # Fourier features of the coordinates in fp32: bf16 sin/cos would blur click positions.
            sparse = prompts.embed_points(sam.prompt_encoder, coords, labels, img_size)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
                dense = prompts.embed_mask(sam.prompt_encoder, prev_logits, has_mask)
                masks, iou_pred = prompts.decode(sam.mask_decoder, emb_leaf[img_index], image_pe, sparse, dense)
            masks, iou_pred = masks.float(), iou_pred.float()
            multimask = coords.shape[1] <= 2  # SamOnnxModel's rule: one click (+pad) or a box alone
            cand = slice(1, 4) if multimask else slice(0, 1)
            per = mask_losses(masks[:, cand], gt, valid)  # (N, 3 or 1)
            with torch.no_grad():
                ious = true_iou(masks, gt_bin, valid)  # (N, 4)
            mask_loss = per.min(1).values.mean()  # multimask: only the best of 3 is pulled to the truth
            iou_loss = ((iou_pred - ious) ** 2).mean()
            loss = (mask_loss + args.iou_weight * iou_loss) / len(grad_rounds)
        if r in grad_rounds:
            loss.backward()
        with torch.no_grad():
            # Feed back what the user would see: the output with the best predicted IoU.
            pick = iou_pred[:, cand].argmax(1) + cand.start
            prev_logits = masks[torch.arange(n, device=device), pick][:, None].detach()
            shown_iou = ious[torch.arange(n, device=device), pick].mean()
            loss_total = loss_total + loss.detach()
            iou_first = shown_iou if r == 0 else iou_first
            iou_last = shown_iou
            iou_err = (iou_pred.gather(1, pick[:, None]) - ious.gather(1, pick[:, None])).abs().mean()
    emb.backward(emb_leaf.grad.to(emb.dtype))  # all rounds' gradients through the encoder at once
    return {
        "loss": float(loss_total),
        "iou_first": float(iou_first),
        "iou_last": float(iou_last),
        "iou_head_err": float(iou_err),
    }


def profile_steps(sam, opt, batch, args, device, amp_dtype) -> None:
    """Time a few whole training steps on one batch and print the operators that take the time
    (a step that is launch- or sync-bound shows far more CPU than device time). The weights these
    steps change are restored, so the run's training is unaffected."""
    import copy

    import torch
    from torch.profiler import ProfilerActivity, profile

    saved_model, saved_opt = copy.deepcopy(sam.state_dict()), copy.deepcopy(opt.state_dict())

    def step() -> None:
        train_step(sam, batch, args, device, amp_dtype)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up (cuDNN autotuning, allocator)
    started = time.time()
    for _ in range(args.profile_steps):
        step()
    plain = (time.time() - started) / args.profile_steps
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.profile_steps):
            step()
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(
        f"[profile] {plain * 1000:.0f} ms per step of {args.batch} images x {args.targets} targets x "
        f"{args.rounds} rounds (unprofiled, {args.profile_steps} steps)",
        flush=True,
    )
    print(prof.key_averages().table(sort_by=sort, row_limit=30), flush=True)
    sam.load_state_dict(saved_model)
    opt.load_state_dict(saved_opt)


def evaluate(sam, device, seed: int, count: int, max_clicks: int, max_seconds: float = 1e9) -> dict:
    """Click-simulator metrics on a held-out synthetic set (another seed than training)."""
    import torch

    from segmentation.sam.torch_predictor import TorchClickPredictor
    from segmentation.training.eval_set import generate_eval_set

    objects, images = generate_eval_set(seed, count, size=sam.image_encoder.img_size)
    sam.eval()
    with torch.no_grad():
        predictor = TorchClickPredictor(sam, objects, images, device)
        ious = simulate(predictor, objects, max_clicks=max_clicks, deadline=time.monotonic() + max_seconds)
    return summarize(ious)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.sam_path:
        sys.path.insert(0, args.sam_path)
    import torch
    from torch.utils.data import DataLoader

    try:
        import segment_anything  # noqa: F401
    except ImportError:
        sys.exit("segment_anything is not importable: pip install segment-anything, or --sam-path / PYTHONPATH")
    from segmentation.sam.default_arch import build_default_sam
    from segmentation.training.data import SyntheticStream

    t_launch = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)
    amp_dtype = torch.bfloat16 if device.type == "cuda" else None
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    from segmentation.sam.default_arch import IMG_SIZE

    # Workers fork before CUDA is initialised in this process (forking after works, but is fragile).
    loader = DataLoader(
        SyntheticStream(args.seed, IMG_SIZE, args.targets),
        batch_size=args.batch,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers > 0 else None,
    )
    it = iter(loader)
    sam = build_default_sam(args.init or None).to(device)
    if device.type == "cuda":
        sam.image_encoder.to(memory_format=torch.channels_last)
    sam.train()
    decay = [p for p in sam.parameters() if p.ndim >= 2]
    no_decay = [p for p in sam.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.999),
    )
    n_params = sum(p.numel() for p in sam.parameters())
    info = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "params": n_params,
    }
    print(f"[train] {info} args={vars(args)}", flush=True)

    budget = args.minutes * 60
    history: list[dict] = []
    first = next(it)  # waits for worker start-up; not counted in the training budget
    print(f"[train] first batch after {time.time() - t_launch:.1f}s since launch", flush=True)
    if args.profile_steps > 0:
        profile_steps(sam, opt, first, args, device, amp_dtype)
    t0 = time.time()
    last_log = last_save = t0
    step = samples = 0
    wait = compute = 0.0
    agg: dict[str, float] = {}
    batch = first
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget:
            break
        for g in opt.param_groups:
            g["lr"] = args.lr * _lr_factor(elapsed / budget)
        tc = time.time()
        stats = train_step(sam, batch, args, device, amp_dtype)
        torch.nn.utils.clip_grad_norm_(sam.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        compute += time.time() - tc
        step += 1
        samples += args.batch
        for k, v in stats.items():
            agg[k] = agg.get(k, 0.0) + v
        agg["n"] = agg.get("n", 0) + 1
        tw = time.time()
        batch = next(it)
        wait += time.time() - tw
        now = time.time()
        if now - last_log >= args.log_every or step in (1, 5, 20):
            rec = {k: round(v / agg["n"], 4) for k, v in agg.items() if k != "n"}
            rec.update(
                step=step,
                t=round(now - t0, 1),
                images=samples,
                img_per_s=round(samples / (now - t0), 2),
                data_wait=round(wait / max(wait + compute, 1e-9), 3),
                lr=round(opt.param_groups[0]["lr"], 6),
            )
            history.append(rec)
            print("[train] " + " ".join(f"{k}={v}" for k, v in rec.items()), flush=True)
            agg = {}
            last_log = now
        if now - last_save >= args.save_every:
            save_checkpoint(sam, out)
            _write_json(out / "train_log.json", {"info": info, "args": vars(args), "history": history, "done": False})
            last_save = now
    train_s = time.time() - t0
    path = save_checkpoint(sam, out)
    print(
        f"[train] done: {step} steps, {samples} images, {samples * args.targets} targets in {train_s:.0f}s; "
        f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)",
        flush=True,
    )
    result = {
        "info": info,
        "args": vars(args),
        "history": history,
        "steps": step,
        "images": samples,
        "train_seconds": train_s,
        "done": True,
    }
    _write_json(out / "train_log.json", result)
    del it, loader  # stop the workers before evaluating
    if args.eval_objects > 0:
        te = time.time()
        summary = evaluate(sam, device, args.eval_seed, args.eval_objects, args.eval_clicks, args.eval_max_seconds)
        summary["eval_seconds"] = round(time.time() - te, 1)
        result["eval"] = summary
        _write_json(out / "train_log.json", result)
        print(f"[eval] held-out synthetic set, seed {args.eval_seed} ({summary['eval_seconds']}s)", flush=True)
        print(format_table(summary), flush=True)
    print(f"[train] total {time.time() - t_launch:.0f}s", flush=True)
    return result


if __name__ == "__main__":
    main()

"""`manage.py finetune_decoder --project NAME [--minutes M] [--status approved|all] [--holdout 0.2]
[--seed S] [--promote auto|never|always] [--train-encoder]`

Fine-tunes the project's decoder in this process (no worker needed), as a run recorded like those
started on the project page. Progress goes to stderr; the last line on stdout is exactly
`held-out NoC@90 <base> -> <tuned>; mIoU@1 <base> -> <tuned>; <promoted|kept> <model name>`.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import FinetuneRun, FinetuneRunStatus, Project
from annotator.services.finetuning import PARAM_DEFAULTS, PROMOTE_CHOICES, TRAINABLE_STATUSES, finetune_start
from annotator.services.finetuning_run import finetune_execute

STATUS_CHOICES = {"approved": ["approved"], "all": list(TRAINABLE_STATUSES)}  # "all": never rejected ones


def result_line(run: FinetuneRun) -> str:
    base, tuned = run.metrics["base"], run.metrics["tuned"]
    model = run.result_model or run.base_model
    return (
        f"held-out NoC@90 {base['NoC@90']:.2f} -> {tuned['NoC@90']:.2f}; "
        f"mIoU@1 {base['mIoU@1']:.3f} -> {tuned['mIoU@1']:.3f}; {run.decision} {model.name}"
    )


class Command(BaseCommand):
    help = "Fine-tune a project's SAM decoder on its labels, compare with the base on held-out images, promote."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--minutes", type=float, default=PARAM_DEFAULTS["minutes"], help="training budget")
        parser.add_argument(
            "--status", choices=sorted(STATUS_CHOICES), default="approved", help="annotations to learn from"
        )
        parser.add_argument("--holdout", type=float, default=PARAM_DEFAULTS["holdout"], help="share of images held out")
        parser.add_argument("--seed", type=int, default=PARAM_DEFAULTS["seed"])
        parser.add_argument("--promote", choices=PROMOTE_CHOICES, default="auto")
        parser.add_argument("--max-epochs", type=int, default=PARAM_DEFAULTS["max_epochs"])
        parser.add_argument("--lr", type=float, default=PARAM_DEFAULTS["lr"], help="learning rate")
        parser.add_argument(
            "--train-encoder",
            action="store_true",
            help="train the image encoder too (GPU recommended; the version has its own encoder, and the "
            "project's images are embedded again when it becomes the project's model)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"]).first()
        if project is None:
            raise CommandError(f"no project named {options['project']!r}")
        params = {
            "minutes": options["minutes"],
            "statuses": STATUS_CHOICES[options["status"]],
            "holdout": options["holdout"],
            "seed": options["seed"],
            "promote": options["promote"],
            "max_epochs": options["max_epochs"],
            "lr": options["lr"],
            "train_encoder": options["train_encoder"],
        }
        try:
            run = finetune_start(project=project, user=None, params=params, enqueue=False)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(
            f"run #{run.pk}: {run.train_objects} training and {run.heldout_objects} held-out objects, "
            f"base model {run.base_model.name}"
        )
        run = finetune_execute(run.pk, report=self._progress_printer())
        if run.status != FinetuneRunStatus.DONE:
            raise CommandError(f"run #{run.pk} {run.status}: {run.message}")
        self.stderr.write(run.message)
        self.stdout.write(result_line(run))

    def _progress_printer(self):
        last = [0.0]

        def report(row: dict[str, Any]) -> None:
            if "step" not in row:
                self.stderr.write(
                    f"epoch {row['epoch']:.0f}: loss {row.get('loss') or float('nan'):.4f}, "
                    f"held-out mIoU@1..5 {row.get('heldout') or float('nan'):.3f} ({row.get('seconds') or 0:.0f}s)"
                )
            elif time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                self.stderr.write(f"epoch {row['epoch']:.0f} step {row['step']:.0f}: loss {row.get('loss') or 0:.4f}")

        return report

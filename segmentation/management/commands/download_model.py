"""Fetch, verify and register Meta's SAM or MobileSAM weights: `manage.py download_model vit_b --default`."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from segmentation.sam.loader import CheckpointMismatchError
from segmentation.services.downloads import (
    OFFICIAL_CHECKPOINTS,
    DownloadError,
    ProgressBar,
    checkpoint_url,
    download,
    partial_path,
)
from segmentation.services.models import sam_model_register


class Command(BaseCommand):
    help = (
        "Download an official checkpoint (vit_h, vit_l, vit_b: Meta's SAM; vit_t: MobileSAM) with a progress "
        "bar on stderr, resuming a broken download, check its published sha256 and register it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", help=f"One of {', '.join(OFFICIAL_CHECKPOINTS)}.")
        parser.add_argument("--default", action="store_true", help="Make it the model of projects that name none.")
        parser.add_argument("--dest", help="Folder to keep the file in; default: SAM_CHECKPOINT_DIR.")
        parser.add_argument(
            "--url", help="Fetch the file from this URL (a mirror) instead; its sha256 must still match."
        )
        parser.add_argument("--no-register", action="store_true", help="Only download and verify the file.")

    def handle(self, *args, **options) -> None:
        checkpoint = OFFICIAL_CHECKPOINTS.get(options["model"])
        if checkpoint is None:
            raise CommandError(f"Unknown model {options['model']!r}: choose one of {', '.join(OFFICIAL_CHECKPOINTS)}.")
        if options["default"] and options["no_register"]:
            raise CommandError("--default registers the model; it cannot be combined with --no-register.")
        url = options["url"] or checkpoint_url(checkpoint, base_url=settings.SEGMENTATION_DOWNLOAD_BASE_URL)
        dest = (Path(options["dest"] or settings.SEGMENTATION_CHECKPOINT_DIR) / checkpoint.filename).resolve()
        path = self._download(checkpoint, url, dest)
        if options["no_register"]:
            self.stdout.write(
                f"Register it with: python manage.py register_model --checkpoint {path} --type {checkpoint.architecture}"
            )
            return
        try:
            model = sam_model_register(
                name=f"{checkpoint.architecture} ({checkpoint.filename})",
                architecture=checkpoint.architecture,
                checkpoint_path=path,
                make_default=options["default"],
            )
        except (FileNotFoundError, CheckpointMismatchError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Registered {model.name} (id {model.pk}, sha256 {model.checkpoint_sha256[:12]})"
            + (", now the default model." if model.is_default else ".")
        )
        self._print_usage(model, path)

    def _download(self, checkpoint, url: str, dest: Path) -> Path:
        resuming = partial_path(dest).exists()
        if dest.exists():
            self.stderr.write(f"{dest} is already here; checking its sha256.", style_func=_plain)
        else:
            verb = "Resuming" if resuming else "Downloading"
            self.stderr.write(f"{verb} {url} ({checkpoint.size / 1e6:.1f} MB) into {dest}", style_func=_plain)
        bar = ProgressBar(lambda text: self.stderr.write(text, style_func=_plain, ending=""), tty=self.stderr.isatty())
        try:
            path = download(url, dest, checkpoint.sha256, bar, size=checkpoint.size)
        except DownloadError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.finish()
        self.stdout.write(f"{path}: sha256 {checkpoint.sha256} verified.")
        return path

    def _print_usage(self, model, path: Path) -> None:
        default_line = (
            "  Projects that choose no model use it now (it is the default).\n"
            if model.is_default
            else f"  Make it the default: python manage.py download_model {model.architecture} --default\n"
        )
        self.stdout.write(
            "How to use it:\n"
            f"{default_line}"
            f'  Choose it for one project: admin > Projects > SAM model "{model.name}"; images are embedded again\n'
            "  under it on their next request.\n"
            f"  Or name it in the environment, registered at every start (ensure_models):\n"
            f"    SAM_CHECKPOINT={path} SAM_CHECKPOINT_TYPE={model.architecture}"
        )


def _plain(text: str) -> str:
    # Progress goes out as written (on a terminal, stderr's default style colours text as an error).
    return text

"""Register a SAM checkpoint: `manage.py register_model --checkpoint sam_vit_b_01ec64.pth --type vit_b`."""

from django.core.management.base import BaseCommand, CommandError

from segmentation.models import Architecture
from segmentation.sam.loader import CheckpointMismatchError
from segmentation.services.models import sam_model_register


class Command(BaseCommand):
    help = "Hash a checkpoint, check it loads strictly, export its fp32 and int8 ONNX decoders, record it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--checkpoint", required=True, help="Path to the .pth/.pt state dict.")
        parser.add_argument("--type", required=True, choices=Architecture.values, help="Architecture of the file.")
        parser.add_argument("--name", help="Display name; default: '<type> (<file name>)'.")
        parser.add_argument("--default", action="store_true", help="Make it the model of projects that name none.")

    def handle(self, *args, **options) -> None:
        checkpoint = options["checkpoint"]
        name = options["name"] or f"{options['type']} ({checkpoint.rsplit('/', 1)[-1]})"
        try:
            model = sam_model_register(
                name=name, architecture=options["type"], checkpoint_path=checkpoint, make_default=options["default"]
            )
        except (FileNotFoundError, CheckpointMismatchError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Registered {model.name} (id {model.pk}, {model.architecture}, sha256 {model.checkpoint_sha256[:12]}, "
            f"embedding {model.embedding_shape}, decoders {model.decoder_fp32.name}, {model.decoder_int8.name})"
        )

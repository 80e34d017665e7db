"""Register the default model and SAM_CHECKPOINT from settings (the run script calls this at start)."""

from django.core.management.base import BaseCommand

from segmentation.services.models import settings_models_register


class Command(BaseCommand):
    help = "Register the default model (and SAM_CHECKPOINT/SAM_CHECKPOINT_TYPE when set); idempotent."

    def handle(self, *args, **options) -> None:
        for model in settings_models_register():
            flag = " [default]" if model.is_default else ""
            self.stdout.write(f"{model.name}: {model.architecture}, sha256 {model.checkpoint_sha256[:12]}{flag}")

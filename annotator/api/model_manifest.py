"""The project's model manifest: which SAM model the project uses and how to run its decoders."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user
from annotator.selectors_embeddings import project_model
from segmentation.api.manifest import manifest
from segmentation.api.serializers import ModelManifestSerializer


class ProjectModelView(APIView):
    @extend_schema(responses={200: ModelManifestSerializer})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(ModelManifestSerializer(manifest(request, project_model(project))).data)

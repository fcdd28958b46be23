"""The seed's sandbox service: a program and its datasets in, ``sandbox_run --json``'s object out.

Nothing is stored and no database of a team is read; the limits are the operator's, or lower
when the request asks. Any member of some namespace may use it, with a read-only token too:
it changes nothing.
"""

from __future__ import annotations

import base64
import binascii

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import visible_namespaces
from api.base import ApiView
from api.schema import answers
from api.serializers import OutcomeSerializer, SandboxRunSerializer
from checkers import trial
from checkers.sandbox import Program


def program_of(data: dict) -> Program:
    if "python" in data:
        return Program.from_python(data["python"])
    if "wat" in data:
        return Program.from_wat(data["wat"])
    try:
        return Program.from_wasm(base64.b64decode("".join(data["wasm_base64"].split()), validate=True))
    except binascii.Error as exc:
        raise exceptions.ValidationError({"wasm_base64": [f"not base64: {exc}"]}) from None


def datasets_of(data: dict) -> dict[str, dict]:
    return {
        name: {"columns": value["columns"], "rows": value["rows"]}
        | ({"truncated": True} if value["truncated"] else {})
        for name, value in data["datasets"].items()
    }


class SandboxRunView(ApiView):
    throttle_scope = "sandbox"

    @answers(
        OpenApiResponse(OutcomeSerializer, "The outcome: green, red or error."),
        tag="sandbox",
        operation_id="sandbox_run",
        request=SandboxRunSerializer,
        summary="Run a program on datasets in the sandbox",
    )
    def post(self, request: Request) -> Response:
        if not visible_namespaces(request).exists():
            raise exceptions.PermissionDenied("The sandbox is for members of a namespace.")
        serializer = SandboxRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        limits = trial.limits(data.get("timeout"), data.get("memory_mb"), data.get("fuel"))
        outcome = trial.run(program_of(data), datasets_of(data), limits, data["params"])
        return Response(outcome.to_dict())

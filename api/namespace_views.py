"""Namespaces (read) and checks as code (export, and import with a dry run) over HTTP."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import visible_namespaces
from api.base import ApiView
from api.schema import ERRORS, answers
from api.serializers import NamespaceSerializer
from checks_as_code import config
from namespaces.models import Role

ConfigErrorSerializer = inline_serializer(
    "ConfigError",
    {
        "file": serializers.CharField(),
        "line": serializers.IntegerField(),
        "column": serializers.IntegerField(),
        "path": serializers.CharField(),
        "message": serializers.CharField(),
    },
)
PlanSerializer = inline_serializer(
    "ConfigPlan",
    {
        "file": serializers.CharField(),
        "dry_run": serializers.BooleanField(),
        "changed": serializers.BooleanField(),
        "summary": serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
        "changes": serializers.ListField(child=serializers.DictField()),
    },
)
ConfigBody = inline_serializer(
    "ConfigImport",
    {
        "yaml": serializers.CharField(help_text="The checks-as-code file."),
        "env": serializers.DictField(
            child=serializers.CharField(),
            required=False,
            help_text="Values for the file's ${VAR} references; the server's environment is never read.",
        ),
    },
)


class NamespaceList(ApiView):
    @answers(NamespaceSerializer(many=True), tag="namespaces")
    def get(self, request: Request) -> Response:
        namespaces = visible_namespaces(request).order_by("slug")
        return Response(NamespaceSerializer(namespaces, many=True, context={"request": request}).data)


class NamespaceDetail(ApiView):
    @answers(NamespaceSerializer, tag="namespaces")
    def get(self, request: Request, namespace: str) -> Response:
        return Response(NamespaceSerializer(self.namespace, context={"request": request}).data)


class YamlParser(BaseParser):
    media_type = "application/yaml"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict:
        try:
            return {"yaml": stream.read().decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"The file is not UTF-8: {exc}") from None


class YamlRenderer(BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data.encode() if isinstance(data, str) else yaml.safe_dump(data).encode()


class NamespaceConfig(ApiView):
    """Owners only: a file names members, datasources and channels as well as checkers."""

    read_role = Role.OWNER
    write_role = Role.OWNER
    parser_classes = [JSONParser, YamlParser]
    renderer_classes = [JSONRenderer]

    def get_renderers(self) -> list[BaseRenderer]:
        """YAML for the export; JSON for the plan and every error."""
        return [YamlRenderer()] if self.request.method == "GET" else [JSONRenderer()]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        responses={
            (200, "application/yaml"): OpenApiResponse(
                OpenApiTypes.OBJECT, "The namespace as a checks-as-code YAML document."
            ),
            **ERRORS,
        },
        tags=["config"],
        description="What `export_config --namespace NS` prints: secrets as ${VAR} references.",
    )
    def get(self, request: Request, namespace: str) -> Response:
        return Response(config.export_yaml([self.namespace]))

    @extend_schema(
        parameters=[
            OpenApiParameter("dry_run", bool, description="Validate and return the plan; change nothing.")
        ],
        request={"application/json": ConfigBody, "application/yaml": str},
        responses={
            200: PlanSerializer,
            400: OpenApiResponse(
                inline_serializer(
                    "ConfigInvalid",
                    {
                        "error": inline_serializer(
                            "ConfigInvalidDetail",
                            {
                                "code": serializers.CharField(),
                                "message": serializers.CharField(),
                                "fields": serializers.DictField(),
                                "errors": serializers.ListField(child=ConfigErrorSerializer, required=False),
                            },
                        )
                    },
                ),
                "The file is not a valid configuration; nothing changed.",
            ),
            **{code: response for code, response in ERRORS.items() if code != 400},
        },
        tags=["config"],
        description="Import checks as code for this namespace: all of it or nothing, as `import_config`.",
    )
    def post(self, request: Request, namespace: str) -> Response:
        text, environ = _config_body(request)
        _refuse_other_namespaces(text, self.namespace.slug)
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        with tempfile.TemporaryDirectory() as empty:
            try:
                plan = config.import_text(
                    text, file=f"{namespace}.yaml", base_dir=Path(empty), dry_run=dry_run, environ=environ
                )
            except config.ConfigInvalid as exc:
                return _invalid(exc)
        return Response(plan.as_dict(), status=status.HTTP_200_OK)


def _config_body(request: Request) -> tuple[str, dict[str, str]]:
    data = request.data if isinstance(request.data, dict) else {}
    text, environ = data.get("yaml"), data.get("env") or {}
    if not isinstance(text, str):
        raise exceptions.ValidationError(
            {"yaml": ['Send the file as application/yaml, or as {"yaml": ...}.']}
        )
    if not isinstance(environ, dict) or not all(isinstance(v, str) for v in environ.values()):
        raise exceptions.ValidationError({"env": ['An object of strings: {"VAR": "value"}.']})
    return text, environ


def _refuse_other_namespaces(text: str, slug: str) -> None:
    """A file sent here may only describe this namespace, and may not read files of the server."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # the importer reports it with its line and column
    entries = document.get("namespaces") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if entry.get("slug") != slug:
            raise exceptions.ValidationError(
                {"namespaces": [f"This URL imports namespace {slug}; the file names {entry.get('slug')!r}."]}
            )
        checkers = entry.get("checkers")
        for checker in checkers if isinstance(checkers, list) else []:
            if isinstance(checker, dict) and "wasm" in checker:
                raise exceptions.ValidationError(
                    {"checkers": ["wasm: paths name files on the server: send wasm_base64 instead."]}
                )


def _invalid(exc: config.ConfigInvalid) -> Response:
    errors = [error.as_dict() for error in exc.errors]
    count = len(errors)
    message = f"{count} error{'s' if count != 1 else ''}: nothing was changed. " + "; ".join(
        f"{e['line']}:{e['column']}: {e['path']}: {e['message']}" for e in errors[:5]
    )
    body = {"error": {"code": "invalid_config", "message": message, "fields": {}, "errors": errors}}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)

"""What the API reads and writes. Secrets are write-only fields and never serialized back."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alarms.models import AlarmState, Channel, MaintenanceWindow, Transition
from alarms.transports import TRANSPORTS
from checkers.models import Checker, CheckerKind, CheckerRule, CheckRun, Dataset, Datasource, Engine
from namespaces.models import Membership, Namespace, Role
from runbooks.models import Runbook


class Text(serializers.CharField):
    """Text, and only text: DRF's CharField turns a number into its digits, which the schema refuses."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Slug(serializers.SlugField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def reference(slug_field: str = "slug", **options: Any) -> serializers.Field[Any, Any, Any, Any]:
    """A read-only reference to a related object by its slug (or its username, its uuid)."""
    return serializers.SlugRelatedField(slug_field=slug_field, read_only=True, **options)


class NamespaceSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role here: owner, editor or viewer.")

    class Meta:
        model = Namespace
        fields = ["slug", "name", "description", "timezone", "role"]

    @extend_schema_field(serializers.ChoiceField(choices=["owner", "editor", "viewer"]))
    def get_role(self, namespace: Namespace) -> str:
        return str(namespace.role_of(self.context["request"].user))


class RunErrorSerializer(serializers.Serializer):
    kind = Text()
    detail = Text()


class MessageSerializer(serializers.Serializer):
    level = Text()
    text = Text()


class RunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    checker = reference()
    messages = MessageSerializer(many=True, read_only=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = CheckRun
        fields = [
            "id",
            "checker",
            "trigger",
            "status",
            "scheduled_for",
            "queued",
            "started",
            "finished",
            "messages",
            "error",
            "logs",
            "duration_ms",
            "fetch_ms",
            "sandbox_ms",
            "fuel_used",
            "figures",
        ]

    @extend_schema_field(RunErrorSerializer(allow_null=True))
    def get_error(self, run: CheckRun) -> dict | None:
        return {"kind": run.error_kind, "detail": run.error_detail} if run.error_kind else None


class RuleSerializer(serializers.ModelSerializer):
    """One row of the rule builder; ``dataset`` by slug."""

    dataset = reference()

    class Meta:
        model = CheckerRule
        fields = list(CheckerRule.FIELDS)


class RuleWriteSerializer(serializers.Serializer):
    """Shapes only: the editor's rule form checks the meaning (api/validation.py). Every key of
    ``CheckerRule.FIELDS``, as ``RuleSerializer`` reads it back; a key left out takes its default."""

    dataset = Slug()
    metric = Text(required=False)
    column = Text(required=False, allow_blank=True)
    compare = Text(
        required=False, allow_blank=True, help_text="Blank: a fixed bound; change, change_pct or band."
    )
    op = Text(required=False)
    value = serializers.FloatField(required=False, allow_null=True)
    high = serializers.FloatField(required=False, allow_null=True)
    band = Text(required=False, allow_blank=True, help_text="For a band: blank (mean ± k sd) or mad.")
    k = serializers.FloatField(required=False, allow_null=True)
    history_runs = serializers.IntegerField(required=False, allow_null=True)
    history_days = serializers.IntegerField(required=False, allow_null=True)
    seasonal = Text(required=False, allow_blank=True, help_text="Blank, weekday, hour or weekday_hour.")
    min_history = serializers.IntegerField(required=False, allow_null=True)
    days = Text(required=False, allow_blank=True, help_text="Blank: every day; business or bound.")
    off_value = serializers.FloatField(required=False, allow_null=True)
    off_high = serializers.FloatField(required=False, allow_null=True)
    key_column = Text(required=False, allow_blank=True)
    message = Text(required=False, allow_blank=True)


class CheckerSerializer(serializers.ModelSerializer):
    runbook = reference(allow_null=True)
    rules = RuleSerializer(many=True, read_only=True, help_text="A rule checker's rules, in order.")
    datasets = reference(many=True)
    has_wasm_module = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = Checker
        fields = [
            "slug",
            "name",
            *Checker.FIELDS,
            "rules",
            "has_wasm_module",
            "wasm_sha256",
            "state",
            "next_run_at",
            "last_run_at",
        ]

    def get_has_wasm_module(self, checker: Checker) -> bool:
        return bool(checker.wasm_sha256)

    @extend_schema_field(serializers.ChoiceField(choices=["unknown", "green", "red", "error"]))
    def get_state(self, checker: Checker) -> str:
        return checker.current_state()


class CheckerWriteSerializer(serializers.Serializer):
    """A checker as the editor takes it, with datasets and the runbook named by slug.

    Exactly what the editor's form accepts is what this accepts (api/validation.py): the API
    checks shapes, the form checks meaning.
    """

    slug = Slug(
        required=False, allow_blank=True, help_text="Blank or left out on a new checker: made from the name."
    )
    name = Text(required=False)
    description = Text(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=CheckerKind.choices, required=False)
    severity = Text(required=False)
    tags = Text(required=False, allow_blank=True)
    runbook = Slug(required=False, allow_null=True, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    datasets = serializers.ListField(child=Slug(), required=False)
    # A field named "source" (the checker's code), not DRF's Field.source: the metaclass takes it.
    source = Text(required=False, allow_blank=True, trim_whitespace=False)  # type: ignore[assignment]
    rules = serializers.ListField(
        child=RuleWriteSerializer(),
        required=False,
        help_text="A rule checker's rules, replacing the stored ones, in order (JSON bodies only).",
    )
    wasm_base64 = Text(
        required=False, write_only=True, help_text="A compiled core module, base64; replaces the WAT text."
    )
    wasm = serializers.FileField(required=False, write_only=True, help_text="The same as a multipart upload.")
    params = serializers.JSONField(required=False)
    schedule_cron = Text(required=False, allow_blank=True)
    schedule_every = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    timezone = Text(required=False, allow_blank=True)
    timeout_s = serializers.FloatField(required=False, allow_null=True)
    memory_mb = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    fuel = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate(self, attrs: dict) -> dict:
        if "wasm_base64" in attrs and "wasm" in attrs:
            raise serializers.ValidationError("Give the module once: wasm_base64 or a wasm upload.")
        return attrs


class StateSerializer(serializers.ModelSerializer):
    checker = reference()
    last_run = RunSerializer(read_only=True, allow_null=True)
    acknowledged_by = reference("username", allow_null=True)
    muted_by = reference("username", allow_null=True)
    silenced = serializers.SerializerMethodField(
        help_text="Why alarms are held back now; null when they are not."
    )

    class Meta:
        model = AlarmState
        fields = [
            "checker",
            "state",
            "since",
            "consecutive_reds",
            "consecutive_errors",
            "last_run",
            "acknowledged_by",
            "acknowledged_at",
            "ack_reason",
            "muted_until",
            "muted_by",
            "mute_reason",
            "silenced",
        ]

    @extend_schema_field(Text(allow_null=True))
    def get_silenced(self, state: AlarmState) -> str | None:
        silence = state.silence()
        return str(silence) if silence else None


class TransitionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    checker = reference()
    run = reference("uuid", allow_null=True)

    class Meta:
        model = Transition
        fields = ["id", "checker", "old", "new", "run", "created"]


# The longest mute given in minutes: a year (a mute past it names its end, ``until``).
MUTE_MINUTES_MAX = 366 * 24 * 60


class ToggleSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["acknowledge", "unacknowledge", "mute", "unmute", "disable-alarming", "enable-alarming"]
    )
    reason = Text(required=False, allow_blank=True, max_length=500, default="")
    until = serializers.DateTimeField(required=False, help_text="For mute: when the mute ends (future).")
    minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=MUTE_MINUTES_MAX, help_text="For mute: instead of until."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["action"] == "mute" and not ("until" in attrs or "minutes" in attrs):
            raise serializers.ValidationError({"until": ["Say when the mute ends: until or minutes."]})
        if attrs["action"] == "disable-alarming" and not attrs["reason"].strip():
            raise serializers.ValidationError({"reason": ["Say why alarming goes off, so the team knows."]})
        return attrs


class DatasetInputSerializer(serializers.Serializer):
    columns = serializers.ListField(child=Text(allow_blank=True))
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True), allow_empty=True)
    )
    truncated = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict) -> dict:
        width = len(attrs["columns"])
        if any(len(row) != width for row in attrs["rows"]):
            raise serializers.ValidationError(f"every row must have {width} values, one per column")
        return attrs


class SandboxRunSerializer(serializers.Serializer):
    python = Text(required=False, trim_whitespace=False, help_text="Python checker source.")
    wat = Text(required=False, trim_whitespace=False, help_text="WebAssembly text.")
    wasm_base64 = Text(required=False, help_text="A compiled core module, base64.")
    datasets = serializers.DictField(child=DatasetInputSerializer(), required=False, default=dict)
    params = serializers.DictField(required=False, default=dict)
    timeout = serializers.FloatField(required=False, help_text="Seconds; at most the operator's limit.")
    memory_mb = serializers.IntegerField(required=False, help_text="At most the operator's limit.")
    fuel = serializers.IntegerField(required=False, help_text="At most the operator's limit.")

    def validate(self, attrs: dict) -> dict:
        given = [key for key in ("python", "wat", "wasm_base64") if key in attrs]
        if len(given) != 1:
            raise serializers.ValidationError("Give exactly one of python, wat or wasm_base64.")
        maxima = {
            "timeout": settings.SANDBOX_TIMEOUT_S,
            "memory_mb": settings.SANDBOX_MEMORY_MB,
            "fuel": settings.SANDBOX_FUEL,
        }
        errors = {}
        for key, maximum in maxima.items():
            value = attrs.get(key)
            if value is not None and not 0 < value <= maximum:
                errors[key] = [f"must be more than 0 and at most the operator's {maximum}"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class OutcomeSerializer(serializers.Serializer):
    """Exactly ``sandbox_run --json``'s object (docs/contracts.md)."""

    status = serializers.ChoiceField(choices=["green", "red", "error"])
    messages = MessageSerializer(many=True)
    error = RunErrorSerializer(allow_null=True)
    logs = Text(allow_blank=True)
    duration_ms = serializers.FloatField()
    fuel_used = serializers.IntegerField()


class DatasourceSerializer(serializers.ModelSerializer):
    """No URL and no password: both are secrets, written on the pages or by checks as code."""

    class Meta:
        model = Datasource
        fields = ["slug", "name", "engine", "statement_timeout", "row_cap", "max_concurrency"]


class DatasetSerializer(serializers.ModelSerializer):
    datasource = reference()

    class Meta:
        model = Dataset
        fields = ["slug", "datasource", "sql", "description", "sample"]


class PreviewSerializer(serializers.Serializer):
    columns = serializers.ListField(child=Text(), required=False)
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True)), required=False
    )
    total = serializers.IntegerField(required=False)
    shown = serializers.IntegerField(required=False)
    truncated = serializers.BooleanField(required=False)
    error = Text(required=False, help_text="Why the query failed; no rows then.")


class RunbookSerializer(serializers.ModelSerializer):
    owner = reference("username", allow_null=True)

    class Meta:
        model = Runbook
        fields = ["slug", "title", "body", "owner", "updated"]


class RunbookWriteSerializer(serializers.Serializer):
    slug = Slug(
        required=False, allow_blank=True, help_text="Blank or left out on a new runbook: made from the title."
    )
    title = Text(required=False)
    body = Text(required=False, trim_whitespace=False)
    owner = Text(required=False, allow_blank=True, help_text="A member's username.")


class MemberSerializer(serializers.ModelSerializer):
    user = reference("username")

    class Meta:
        model = Membership
        fields = ["user", "role", "created"]


class ChannelSerializer(serializers.ModelSerializer):
    """No URL and no secret: they are write-only, on the pages or by checks as code."""

    class Meta:
        model = Channel
        fields = ["slug", "name", "kind", "min_severity", "is_default", "enabled", "disabled_reason"]


class TestAlarmSerializer(serializers.Serializer):
    delivered = serializers.BooleanField()
    status = Text()
    error = Text(allow_blank=True)


class DatasourceWriteSerializer(serializers.Serializer):
    """``url`` and ``password`` are write-only: left out, the stored ones stay."""

    name = Text(required=False)
    slug = Slug(required=False)
    engine = serializers.ChoiceField(choices=Engine.choices, required=False)
    url = Text(required=False, write_only=True, help_text="Never returned.")
    password = Text(required=False, write_only=True, help_text="Never returned.")
    statement_timeout = serializers.FloatField(required=False)
    row_cap = serializers.IntegerField(required=False)
    max_concurrency = serializers.IntegerField(required=False)


class DatasetWriteSerializer(serializers.Serializer):
    slug = Slug(required=False)
    datasource = Slug(required=False, help_text="A datasource of this namespace.")
    sql = Text(required=False, trim_whitespace=False)
    description = Text(required=False, allow_blank=True)
    sample = serializers.BooleanField(required=False)


class ChannelWriteSerializer(serializers.Serializer):
    """``url`` and ``secret`` are write-only: left out, the stored ones stay; ``null`` clears one."""

    name = Text(required=False, allow_blank=True)
    slug = Slug(required=False)
    kind = serializers.ChoiceField(choices=sorted(TRANSPORTS), required=False)
    url = Text(required=False, allow_null=True, write_only=True, help_text="Never returned.")
    secret = Text(required=False, allow_null=True, write_only=True, help_text="Never returned.")
    min_severity = Text(required=False)
    is_default = serializers.BooleanField(required=False)
    enabled = serializers.BooleanField(required=False)


class WindowSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    created_by = reference("username", allow_null=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "reason",
            "starts",
            "ends",
            "cron",
            "duration_minutes",
            "timezone",
            "created_by",
            "updated",
        ]


class WindowWriteSerializer(serializers.Serializer):
    name = Text(required=False)
    reason = Text(required=False, allow_blank=True)
    starts = serializers.DateTimeField(required=False, allow_null=True)
    ends = serializers.DateTimeField(required=False, allow_null=True)
    cron = Text(required=False, allow_blank=True)
    duration_minutes = serializers.IntegerField(required=False, allow_null=True)
    timezone = Text(required=False, allow_blank=True)


class MemberAddSerializer(serializers.Serializer):
    username = Text(max_length=150, help_text="The exact username of an active account.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)

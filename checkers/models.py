"""Datasources, datasets, checkers and their runs: what a team checks and what happened."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, connections, models, transaction
from django.urls import reverse
from django.utils import timezone

from checkers import compilation, datasources, quotas, schedules
from checkers.calendars import Calendar, parse_days
from checkers.params import ParamsField
from checkers.rules import NO_ROWS_ONLY, Band, Compare, Days, Metric, Operator, Rule, Season
from checkers.sandbox import FailingSample, Limits, Program, Status
from malleable import outbound
from malleable.encryption import EncryptedTextField
from malleable.fields import optional_link
from malleable.rows import ModelRows
from namespaces.models import Namespace, NamespaceOwned, validate_timezone


class Engine(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"
    SQLITE = "sqlite", "SQLite"


class Datasource(NamespaceOwned):
    """A read-only connection to a team's database. The URL and password are encrypted at rest.

    A stored password stays with its target: it is only ever sent to the engine, host, port,
    database and user it was entered for (``password_target``). Once any of them changes,
    ``clean`` asks for the password again and ``save`` clears one that was not re-entered,
    so pointing a datasource at another server never hands it the stored secret.
    """

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="datasources")
    name = models.CharField(max_length=200, blank=True)
    engine = models.CharField(max_length=16, choices=Engine.choices)
    url = EncryptedTextField(
        help_text="For example postgresql://reader@db.internal:5432/shop, or sqlite:shop.sqlite3 for a file "
        "in this namespace's SQLite directory",
    )
    password = EncryptedTextField(blank=True, help_text="Stored encrypted; never shown again.")
    password_env = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The environment variable checks-as-code took the password from, for export.",
    )
    password_target = EncryptedTextField(
        blank=True,
        editable=False,
        help_text="The engine, host, port, database and user the password was entered for (JSON).",
    )
    statement_timeout = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
        help_text="Seconds one dataset query may run before the database cancels it.",
    )
    row_cap = models.PositiveIntegerField(
        default=10_000,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Rows fetched per dataset at most; a code checker whose dataset hits it is an error, "
        "unless the dataset is marked as a sample.",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(64)],
        help_text="Dataset queries that may run on this database at the same time.",
    )

    # What a person sets, beside the slug and name: the admin's form and the page's.
    FIELDS = ("engine", "url", "password", "statement_timeout", "row_cap", "max_concurrency")

    # Set by whoever just took the password from a person or a file (a form's password box,
    # checks as code): it then belongs to the URL's target even when its text is unchanged.
    password_entered = False

    def __str__(self) -> str:
        return self.name or self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Bind a new password to the URL's target; clear one whose target changed."""
        if self.password_moves():
            self.password = ""
            self.password_env = ""
        if not self.password:
            self.password_target = ""
        elif self.password_is_new():
            self.password_target = self.current_target()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {
                *kwargs["update_fields"],
                "password",
                "password_env",
                "password_target",
            }
        super().save(*args, **kwargs)
        self._stored_password = self.password
        self.password_entered = False

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        """What the database holds now is what a later change is compared with."""
        super().refresh_from_db(*args, **kwargs)
        self._stored_password = self.password

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Datasource:
        instance = super().from_db(db, field_names, values)
        if "password" in instance.__dict__:
            instance._stored_password = instance.password
        return instance

    @staticmethod
    def target_of(engine: str, url: str) -> str:
        """Where a password for ``url`` goes, in the form ``password_target`` stores."""
        return json.dumps(datasources.credential_target(engine, url), sort_keys=True)

    def current_target(self) -> str:
        return self.target_of(self.engine, self.url)

    def password_is_new(self) -> bool:
        """The password was given just now: a new datasource, a new value, or entered again."""
        stored = self.__dict__.get("_stored_password", self.password)
        return self.password_entered or self._state.adding or self.password != stored

    def password_moves(self) -> list[str]:
        """What changed in the target since the stored password was entered for it (empty
        when nothing did, when there is no password, or when it was just entered)."""
        if not self.password or self.password_is_new():
            return []
        now = json.loads(self.current_target())
        try:
            then = json.loads(self.password_target or "{}")
        except ValueError:
            then = {}
        if now and now == then:
            return []
        parts = ("engine", "host", "port", "database", "user")
        return [part for part in parts if now.get(part) != then.get(part)]

    def connection_spec(self) -> datasources.ConnectionSpec:
        return datasources.ConnectionSpec(
            engine=self.engine,
            url=self.url,
            # A password entered for another target is never sent, even before a save clears it.
            password="" if self.password_moves() else self.password,
            statement_timeout_s=self.statement_timeout,
            row_cap=self.row_cap,
            max_concurrency=self.max_concurrency,
            identity=f"datasource:{self.pk}" if self.pk else "",
            byte_cap=settings.DATASET_MAX_BYTES,
        )

    def sqlite_dir(self) -> Path | None:
        """The namespace's own SQLite directory: ``MALLEABLE_DATASOURCE_SQLITE_DIR/<slug>/``."""
        if not self.namespace_id:
            return None
        return Path(settings.DATASOURCE_SQLITE_DIR) / self.namespace.slug

    def policy(self) -> datasources.TargetPolicy:
        """The operator's rules: never Malleable's own databases or services, only allowed hosts,
        the namespace's own SQLite files, and roles that may only read unless the operator opts in."""
        return datasources.TargetPolicy(
            own_databases=[connection.settings_dict for connection in connections.all()],
            allowed_hosts=settings.DATASOURCE_ALLOWED_HOSTS or None,
            # Only a SQLite file needs the directory, and finding it reads the namespace.
            sqlite_dir=self.sqlite_dir() if self.engine == Engine.SQLITE else None,
            allow_privileged_roles=settings.DATASOURCE_ALLOW_PRIVILEGED_ROLES,
            own_services=outbound.own_services(settings),
            refuse_private=settings.REFUSE_PRIVATE_ADDRESSES,
        )

    def clean(self) -> None:
        """A URL the engine understands, pointing where the operator allows, with the password
        entered for that target, and a role that may only read when the server answers."""
        if not (self.url and self.engine):
            return
        policy = self.policy()
        errors = {}
        try:
            datasources.check_target(
                self.connection_spec(),
                policy.own_databases,
                policy.allowed_hosts,
                policy.sqlite_dir,
                own_services=policy.own_services,
                refuse_private=policy.refuse_private,
            )
        except datasources.DatasourceError as exc:
            errors["url"] = str(exc)
        if too_long := quotas.statement_timeout_error(self.statement_timeout):
            errors["statement_timeout"] = too_long
        moved = self.password_moves()
        if moved:
            parts = " and ".join(moved) if len(moved) < 3 else ", ".join(moved[:-1]) + " and " + moved[-1]
            errors["password"] = (
                f"The {parts} changed: enter the password again, it is only ever sent to the server "
                "it was entered for."
            )
        if errors:
            raise ValidationError(errors)
        self.check_role(policy)

    def check_role(self, policy: datasources.TargetPolicy) -> None:
        """Refuse a privileged role at save when the server answers. One that cannot be reached
        now is saved: every session checks the role again before its first query."""
        if self.engine == Engine.SQLITE or policy.allow_privileged_roles:
            return
        try:
            datasources.check_role(self.connection_spec(), policy=policy)
        except datasources.PrivilegedRole as exc:
            raise ValidationError({"url": str(exc)}) from None
        except datasources.DatasourceError:
            pass

    def fetch(self, sql: str) -> datasources.FetchResult:
        """Run one dataset query, at most ``max_concurrency`` at a time across all workers."""
        with DatasourceLease.hold(self):
            return datasources.fetch(self.connection_spec(), sql, policy=self.policy())

    def measure(self, questions: list[datasources.Question]) -> list[datasources.FetchResult]:
        """Datasets' figures (``datasources.measure``), all under one lease and in one session."""
        with DatasourceLease.hold(self):
            return datasources.measure(self.connection_spec(), questions, policy=self.policy())

    def test_connection(self) -> str:
        return datasources.test_connection(self.connection_spec(), policy=self.policy())


class DatasourceBusy(datasources.DatasourceError):
    permanent = False


class _Slots(Protocol):
    """Where a datasource's slots are kept: ``DatasourceLease`` rows, or PostgreSQL's ``AdvisorySlots``."""

    def try_acquire(self, datasource: Datasource, /) -> object | None: ...

    def release(self, datasource: Datasource, slot: Any, /) -> None: ...


class DatasourceLease(models.Model):
    """A slot held by a running query, at most ``max_concurrency`` per datasource across workers.

    On PostgreSQL (Malleable's own database in production) a slot is a session-level advisory
    lock (``AdvisorySlots``): one statement takes it, one gives it back, and a worker that dies
    frees it with its connection. Elsewhere (SQLite, MySQL) a slot is a row of this model,
    claimed under the datasource row's lock, with an expiry so a crash frees it too.
    """

    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="leases")
    expires = models.DateTimeField()

    WAIT_S = 30
    POLL_S = 0.05

    def __str__(self) -> str:
        return f"lease on {self.datasource} until {self.expires:%H:%M:%S}"

    @classmethod
    @contextmanager
    def hold(cls, datasource: Datasource) -> Iterator[object]:
        """Wait up to ``WAIT_S`` for a slot, hold it for the block, then give it back."""
        slots: _Slots = AdvisorySlots if connection.vendor == "postgresql" else cls
        deadline = time.monotonic() + cls.WAIT_S
        while (slot := slots.try_acquire(datasource)) is None:
            if time.monotonic() > deadline:
                raise DatasourceBusy(
                    f"datasource {datasource.slug} is busy: {datasource.max_concurrency} "
                    f"queries already running for {cls.WAIT_S} s"
                )
            time.sleep(cls.POLL_S)
        try:
            yield slot
        finally:
            slots.release(datasource, slot)

    @classmethod
    def try_acquire(cls, datasource: Datasource) -> DatasourceLease | None:
        """A slot, or None when all are taken; the datasource row's lock makes count-then-insert safe."""
        now = timezone.now()
        with transaction.atomic():
            locked = Datasource.objects.select_for_update().filter(pk=datasource.pk).order_by()
            locked.values_list("pk").first()
            active = cls.objects.filter(datasource=datasource, expires__gt=now).count()
            if active >= datasource.max_concurrency:
                return None
            ttl = timedelta(seconds=datasource.statement_timeout + 30)
            return cls.objects.create(datasource=datasource, expires=now + ttl)

    @classmethod
    def release(cls, datasource: Datasource, lease: DatasourceLease) -> None:
        expired = models.Q(datasource=datasource, expires__lte=timezone.now())
        cls.objects.filter(models.Q(pk=lease.pk) | expired).delete()


# The advisory locks of the slots a block gave back (``AdvisorySlots.given_back_later``), still
# held until its run's recording or its end; None outside such a block.
_given_back: ContextVar[list[int] | None] = ContextVar("given_back", default=None)


class AdvisorySlots:
    """Datasource slots as PostgreSQL advisory locks on Malleable's own database.

    Slot ``n`` of datasource ``pk`` is the lock ``(LOCK_CLASS, pk * 64 + n)`` (``max_concurrency``
    is at most 64). The first free slot is taken by one statement: the filter runs row by row
    under ``LIMIT 1``, so no lock is taken beyond the one returned. A slot goes back with a
    statement of its own, or with the run's recording (``given_back_later``).
    """

    LOCK_CLASS = 0x4D4C  # "ML": keeps these locks apart from any other use of advisory locks

    @classmethod
    def try_acquire(cls, datasource: Datasource) -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT slot FROM generate_series(0, %s - 1) AS slot"
                " WHERE pg_try_advisory_lock(%s, %s * 64 + slot) LIMIT 1",
                [datasource.max_concurrency, cls.LOCK_CLASS, datasource.pk],
            )
            row = cursor.fetchone()
        return None if row is None else row[0]

    @classmethod
    def release(cls, datasource: Datasource, slot: int) -> None:
        lock = datasource.pk * 64 + slot
        later = _given_back.get()
        if later is not None:
            later.append(lock)
            return
        cls._unlock([lock])

    @classmethod
    def unlocking(cls, locks: Sequence[int]) -> tuple[str, list[int]]:
        """The calls that give ``locks`` back, as a SELECT's columns, and their parameters."""
        return ", ".join(["pg_advisory_unlock(%s, %s)"] * len(locks)), [
            value for lock in locks for value in (cls.LOCK_CLASS, lock)
        ]

    @classmethod
    def _unlock(cls, locks: Sequence[int]) -> None:
        sql, params = cls.unlocking(locks)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {sql}", params)

    @staticmethod
    def still_held() -> list[int]:
        """The locks given back in this ``given_back_later`` block and not released yet; the
        caller that releases them says so with ``released``."""
        return list(_given_back.get() or ())

    @staticmethod
    def released(locks: Sequence[int]) -> None:
        later = _given_back.get()
        if later is not None:
            later[:] = [lock for lock in later if lock not in locks]

    @classmethod
    @contextmanager
    def given_back_later(cls) -> Iterator[None]:
        """Slots given back in this block stay locked until the run's recording releases them in
        its own statement (``still_held``, ``released``), or until the block ends: a round trip
        less per run. For a block with no sandbox in it (a rule checker's run), where the slot is
        kept a fraction of a millisecond longer than its queries need."""
        later: list[int] = []
        token = _given_back.set(later)
        try:
            yield
        finally:
            _given_back.reset(token)
            if later:
                cls._unlock(later)


class Dataset(NamespaceOwned):
    """A named query: what a checker sees as ``datasets["slug"]``."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="datasets")
    slug = models.SlugField(help_text="The name checkers use: datasets['this_slug'].")
    datasource = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="datasets")
    sql = models.TextField(
        help_text="One read-only statement, for example SELECT username FROM users WHERE email IS NULL"
    )
    description = models.TextField(blank=True)
    sample = models.BooleanField(
        default=False,
        help_text="Checks see only the first N rows (the datasource's row cap); "
        "without this, a dataset cut at the row cap makes a code checker's run an error.",
    )

    def clean(self) -> None:
        if self.datasource_id and self.namespace_id and self.datasource.namespace_id != self.namespace_id:
            raise ValidationError({"datasource": "Pick a datasource of this dataset's namespace."})
        if self.sql and self.datasource_id:
            try:
                datasources.validate_sql(self.sql, self.datasource.engine)
            except datasources.DatasourceError as exc:
                raise ValidationError({"sql": str(exc)}) from None

    def fetch(self) -> datasources.FetchResult:
        return self.datasource.fetch(self.sql)

    def readers(self) -> models.QuerySet[Checker]:
        """The checkers that read it: code checkers that declare it, rule checkers with a rule on it."""
        return Checker.objects.filter(models.Q(datasets=self) | models.Q(rules__dataset=self)).distinct()

    @property
    def sample_note(self) -> str:
        """What every page showing a sample dataset says of it: "sample: first 10,000 rows"."""
        return f"sample: first {self.datasource.row_cap:,} rows" if self.sample else ""

    def truncated_error(self, fetched: int) -> str:
        """Why a run refuses this dataset once the row cap cut it, and the three ways out."""
        source = self.datasource
        return (
            f"dataset {self.slug}: {fetched:,} rows fetched and more were left (the row cap of "
            f"datasource {source.slug}); aggregate or filter in the dataset's SQL, raise the "
            "datasource's row cap, or mark the dataset as a sample"
        )

    def too_large_error(self, error: datasources.DatasetTooLarge) -> str:
        """Why a run refuses this dataset once the byte cap stopped it (a sample too: its rows
        are cut by count, never by size), and the ways out."""
        return (
            f"dataset {self.slug}: {error} (MALLEABLE_DATASET_MAX_BYTES); select fewer or shorter "
            "columns, aggregate or filter in the dataset's SQL"
        )


class CheckerKind(models.TextChoices):
    RULE = "rule", "Rule (no code)"
    PYTHON = "python", "Python"
    WASM = "wasm", "WebAssembly (WAT or .wasm)"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SCHEDULE_FIELDS = {"schedule_cron", "schedule_every", "timezone", "enabled"}


class CheckerQuerySet(models.QuerySet):
    def due(self, now: datetime | None = None) -> CheckerQuerySet:
        return self.filter(enabled=True, next_run_at__lte=now or timezone.now())


class Checker(NamespaceOwned):
    """What must hold true of a team's data, how to check it, and when."""

    # What a person sets, beside the slug and name: the editor's form and the API's checker.
    FIELDS = (
        "description",
        "kind",
        "severity",
        "tags",
        "runbook",
        "enabled",
        "datasets",
        "source",
        "params",
        "schedule_cron",
        "schedule_every",
        "timezone",
        "timeout_s",
        "memory_mb",
        "fuel",
    )

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="checkers")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=CheckerKind.choices, default=CheckerKind.RULE)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="checkers")

    source = models.TextField(blank=True, help_text="Python source, or WAT text for a wasm checker.")
    wasm_module = models.BinaryField(null=True, blank=True, editable=True)
    wasm_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    schedule_cron = models.CharField(
        max_length=100,
        blank=True,
        help_text="Cron, for example */5 * * * *. Or leave blank and set an interval.",
    )
    schedule_every = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(10)], help_text="Seconds between runs."
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Blank: the namespace's time zone.",
    )
    runbook = models.ForeignKey(
        "runbooks.Runbook",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkers",
        help_text="What to do when this checker alarms; linked from every alarm.",
    )
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    params = ParamsField(default=dict, blank=True, help_text="Passed to code checkers as params.")
    tags = models.CharField(
        max_length=200,
        blank=True,
        help_text="Words to filter the dashboard by, separated by spaces or commas: billing nightly.",
    )

    timeout_s = models.FloatField(null=True, blank=True, help_text="Blank: the operator's default.")
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    fuel = models.PositiveBigIntegerField(null=True, blank=True)

    next_run_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CheckerQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name or self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.wasm_module:
            self.wasm_sha256 = hashlib.sha256(bytes(self.wasm_module)).hexdigest()
        else:
            self.wasm_sha256 = ""
        if not self.enabled:
            self.next_run_at = None
        elif self.next_run_at is None or self._schedule_key() != self._loaded_schedule:
            self.next_run_at = self.compute_next_run()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_run_at", "wasm_sha256"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("checkers:detail", args=[self.namespace.slug, self.slug])

    def tag_list(self) -> list[str]:
        return sorted({tag for tag in re.split(r"[\s,]+", self.tags.lower()) if tag})

    def known_since(self) -> datetime:
        """When its history starts: its creation, or an earlier first run (a history imported with it)."""
        first_run = self.runs.aggregate(first=models.Min("queued"))["first"]
        return min(self.created, first_run) if first_run else self.created

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Checker:
        """Remember the stored schedule, so saving other fields does not postpone the next run."""
        checker = super().from_db(db, field_names, values)
        if set(field_names) >= SCHEDULE_FIELDS:
            checker._loaded_schedule = checker._schedule_key()
        return checker

    _loaded_schedule: tuple[object, ...] | None = None

    def _schedule_key(self) -> tuple[object, ...]:
        return (self.schedule_cron, self.schedule_every, self.timezone, self.enabled)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone or self.namespace.timezone)

    @property
    def schedule(self) -> schedules.Schedule | None:
        return schedules.parse(self.schedule_cron, self.schedule_every)

    def rule_list(self) -> list[CheckerRule]:
        """Its rules in order, each with its dataset and datasource (one query, none when read
        with the checker by ``with_rules``)."""
        if self._rules is not None:
            return self._rules
        return [self._rule(*row) for row in _RULES.fetch([self.pk])]

    _rules: list[CheckerRule] | None = None

    @classmethod
    def with_rules(cls, rows: Sequence[tuple[Any, ...]]) -> Checker:
        """The checker of ``rows`` of (checker, namespace, rule, dataset, datasource), as a worker
        reads it (``runs.claim_queued``): with its namespace and its rules (a code checker's rule
        is None)."""
        checker, namespace = rows[0][:2]
        checker.namespace = namespace
        checker._rules = [checker._rule(*row[2:]) for row in rows if row[2] is not None]
        return checker

    def _rule(self, rule: CheckerRule, dataset: Dataset, source: Datasource) -> CheckerRule:
        dataset.datasource = source
        rule.dataset, rule.checker = dataset, self
        return rule

    def program(self) -> Program:
        if self.kind == CheckerKind.PYTHON:
            return Program.from_python(self.source)
        if self.wasm_module:
            return Program.from_wasm(bytes(self.wasm_module))
        return Program.from_wat(self.source)

    def limits(self) -> Limits:
        """The operator's defaults, lowered (never raised) by the checker's own limits."""
        ceiling = Limits(
            timeout_s=settings.SANDBOX_TIMEOUT_S,
            memory_bytes=settings.SANDBOX_MEMORY_MB * 1024 * 1024,
            fuel=settings.SANDBOX_FUEL,
        )
        return Limits(
            timeout_s=min(self.timeout_s or ceiling.timeout_s, ceiling.timeout_s),
            memory_bytes=min(
                (self.memory_mb or settings.SANDBOX_MEMORY_MB) * 1024 * 1024, ceiling.memory_bytes
            ),
            fuel=min(self.fuel or ceiling.fuel, ceiling.fuel),
        )

    def clean(self) -> None:
        # Stored as tag_list reads them, whoever writes them: the editor, the admin or an import.
        self.tags = " ".join(self.tag_list())
        errors: dict[str, str] = {}
        try:
            if schedules.parse(self.schedule_cron, self.schedule_every) is None:
                errors["schedule_cron"] = "Set when it runs: a cron schedule, or an interval in seconds."
        except ValueError as exc:
            errors["schedule_cron" if self.schedule_cron else "schedule_every"] = str(exc)
        else:
            frequent = quotas.interval_error(self.schedule_cron.strip(), self.schedule_every)
            if frequent:
                errors["schedule_cron" if self.schedule_cron else "schedule_every"] = frequent
        if self._state.adding and (crowded := quotas.checkers_error(self.namespace_id)):
            errors[NON_FIELD_ERRORS] = crowded
        errors.update(self._kind_errors())
        errors.update(self._limit_errors())
        if "source" not in errors:
            errors.update(self._compile_errors())
        if errors:
            raise ValidationError(errors)

    def _compile_errors(self) -> dict[str, str]:
        """A module compiles once, here at save, within the operator's compile limits, so no
        run ever compiles an unbounded one (the cache then holds it for every worker)."""
        if self.kind != CheckerKind.WASM or not (self.source.strip() or self.wasm_module):
            return {}
        refusal = compilation.compile_limit_error(self.program())
        if refusal is None:
            return {}
        which = "The uploaded module" if self.wasm_module else "The module this WAT makes"
        return {"source": f"{which} {refusal.removeprefix('this module ')}"}

    def _kind_errors(self) -> dict[str, str]:
        if self.kind == CheckerKind.PYTHON and not self.source.strip():
            return {"source": "Write the Python checker's source."}
        if self.kind == CheckerKind.WASM and not (self.source.strip() or self.wasm_module):
            return {"source": "Write WAT text here or upload a .wasm module."}
        return {}

    def _limit_errors(self) -> dict[str, str]:
        maxima = {
            "timeout_s": (self.timeout_s, settings.SANDBOX_TIMEOUT_S, "s"),
            "memory_mb": (self.memory_mb, settings.SANDBOX_MEMORY_MB, "MB"),
            "fuel": (self.fuel, settings.SANDBOX_FUEL, ""),
        }
        return {
            name: f"At most {ceiling:g}{unit}, the operator's limit."
            for name, (value, ceiling, unit) in maxima.items()
            if value is not None and value > ceiling
        }

    def compute_next_run(self, after: datetime | None = None) -> datetime | None:
        """The next run, or None when it is not scheduled or its stored schedule can never fire.

        ``clean`` refuses such a schedule; one already stored (before that, or written around
        it) unschedules the checker instead of failing every page and the dispatcher.
        """
        try:
            schedule = self.schedule
            return schedule.next_after(after or timezone.now(), self.zone) if schedule else None
        except ValueError:
            return None

    def current_state(self) -> State:
        """The alarm state (green, red, error, unknown): it follows the alarm policy, so with
        ``on_error: keep`` an error run leaves it as it was."""
        state = Checker.objects.filter(pk=self.pk).values_list("alarm_state__state", flat=True).first()
        return State(state or State.UNKNOWN)

    def read_datasets(self, declared: Iterable[Dataset] | None = None) -> list[Dataset]:
        """The datasets a run reads: its rules' datasets, or those the code checker declared.

        ``declared`` stands in for the saved relations, for a checker being edited (a test
        run of the form as typed saves nothing, so the relations do not have it yet).
        """
        if self.kind == CheckerKind.RULE and declared is None:
            declared = {rule.dataset for rule in self.rule_list()}
        if declared is None:
            declared = self.datasets.select_related("datasource")
        return sorted(declared, key=lambda dataset: dataset.slug)

    def dataset_slugs(self) -> list[str]:
        return [dataset.slug for dataset in self.read_datasets()]


class CheckerRule(models.Model):
    """One rule of a rule checker: a figure of a dataset and the bound it must keep."""

    NAMESPACE_PATH = "checker__namespace"
    # What a person sets, in the order the editor, the admin and checks as code show it.
    FIELDS = (
        "dataset",
        "metric",
        "column",
        "compare",
        "op",
        "value",
        "high",
        "band",
        "k",
        "history_runs",
        "history_days",
        "seasonal",
        "min_history",
        "days",
        "off_value",
        "off_high",
        "key_column",
        "message",
    )

    checker = models.ForeignKey(Checker, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=0, help_text="Rules run and report in this order.")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="rules")
    metric = models.CharField("measure", max_length=16, choices=Metric.choices, default=Metric.ROW_COUNT)
    column = models.CharField(max_length=200, blank=True, help_text="For the measures of a column.")
    op = models.CharField("must be", max_length=8, choices=Operator.choices, default=Operator.LT)
    compare = models.CharField(
        "held against",
        max_length=12,
        choices=Compare.choices,
        default=Compare.VALUE,
        blank=True,
        help_text="A fixed bound, or the figure's own past: its change since the previous run, or a band.",
    )
    value = models.FloatField(
        null=True, blank=True, help_text="The bound; for a change, the change (in % for a change in %)."
    )
    high = models.FloatField("and at most", null=True, blank=True, help_text="The upper bound, for between.")
    band = models.CharField(
        "band", max_length=8, choices=Band.choices, default=Band.STDDEV, blank=True, help_text="For a band."
    )
    k = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01)],
        help_text="The band's half-width in standard deviations (or MADs); blank: 3.",
    )
    history_runs = models.PositiveIntegerField(
        "from the last … runs",
        null=True,
        blank=True,
        validators=[MinValueValidator(2), MaxValueValidator(5000)],
        help_text="Blank: 30, unless a number of days is set.",
    )
    history_days = models.PositiveIntegerField(
        "within the last … days",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    seasonal = models.CharField(
        "only runs of", max_length=12, choices=Season.choices, default=Season.NONE, blank=True
    )
    min_history = models.PositiveSmallIntegerField(
        "learn for … runs",
        null=True,
        blank=True,
        help_text="Past runs needed before it may fire; until then it is green and says it is learning.",
    )
    days = models.CharField(
        "holds on",
        max_length=8,
        choices=Days.choices,
        default=Days.EVERY,
        blank=True,
        help_text="By the namespace's business calendar (its settings): weekdays less public holidays "
        "and its own days off.",
    )
    off_value = models.FloatField(
        "bound outside business days", null=True, blank=True, help_text="For another bound outside them."
    )
    off_high = models.FloatField(
        "upper bound outside business days", null=True, blank=True, help_text="For between."
    )
    key_column = models.CharField(
        "key column",
        max_length=200,
        blank=True,
        help_text="For a rule that no rows may match (row count == 0): the column naming a row, "
        "so a run keeps the keys of the failing rows and says which are new.",
    )
    message = models.CharField(
        max_length=500,
        blank=True,
        help_text="Said with every verdict, e.g. There should be less than 42 users in that state.",
    )

    class Meta:
        # Not "checker": that would order by the checker's own ordering, joining two tables
        # into every run's read of its rules.
        ordering = ["checker_id", "position", "pk"]

    def __str__(self) -> str:
        return self.spec().describe() if self.dataset_id else "rule"

    def spec(self) -> Rule:
        return Rule(
            dataset=self.dataset.slug if self.dataset_id else "",
            metric=Metric(self.metric),
            op=Operator(self.op),
            value=self.value,
            column=self.column if Metric(self.metric).needs_column else "",
            high=self.high if self.op == Operator.BETWEEN else None,
            message=self.message,
            compare=Compare(self.compare or Compare.VALUE),
            band=Band(self.band or Band.STDDEV),
            k=self.k,
            history_runs=self.history_runs,
            history_days=self.history_days,
            seasonal=Season(self.seasonal or Season.NONE),
            min_history=self.min_history,
            days=Days(self.days or Days.EVERY),
            off_value=self.off_value,
            off_high=self.off_high if self.op == Operator.BETWEEN else None,
            key_column=self.key_column.strip(),
        )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        checker = self.checker if self.checker_id or "checker" in self._state.fields_cache else None
        if self.dataset_id and checker and self.dataset.namespace_id != checker.namespace_id:
            errors["dataset"] = "Pick a dataset of this checker's namespace."
        metric = Metric(self.metric) if self.metric in Metric.values else None
        if metric and metric.needs_column and not self.column.strip():
            errors["column"] = f"The {metric.label.lower()} needs a column name."
        if self.compare != Compare.BAND and self.value is None:
            errors["value"] = "A rule compares with a value: set it."
        if self.compare != Compare.BAND and self.op == Operator.BETWEEN and self.value is not None:
            if self.high is None:
                errors["high"] = "Between needs an upper bound."
            elif self.high < self.value:
                errors["high"] = "The upper bound must be at least the value."
        if self.days == Days.BOUND:
            if self.compare == Compare.BAND:
                errors["days"] = (
                    "A band has no bound to change outside business days: pick business days only."
                )
            elif self.off_value is None:
                errors["off_value"] = "Set the bound that holds outside business days."
            elif self.op == Operator.BETWEEN and (self.off_high is None or self.off_high < self.off_value):
                errors["off_high"] = (
                    "Between needs an upper bound outside business days too, at least the value."
                )
        if self.key_column.strip() and "value" not in errors and not self._no_rows():
            errors["key_column"] = NO_ROWS_ONLY
        if (
            checker
            and self.history_days
            and self.history_days > (kept := Retention.days_of(checker.namespace_id))
        ):
            errors["history_days"] = (
                f"This namespace keeps its runs {kept} days, so no rule can read further back: "
                "an owner can keep them longer under Settings, Retention."
            )
        if errors:
            raise ValidationError(errors)

    def _no_rows(self) -> bool:
        """Whether the rule is one that no rows may match; a choice that is not one is said elsewhere."""
        try:
            return self.spec().no_rows
        except ValueError:
            return True


# A checker's rules, each with its dataset and datasource (``Checker.rule_list``); a worker
# reads them with its run (``runs.claim_queued``).
_RULES = ModelRows(
    [(CheckerRule, "r"), (Dataset, "d"), (Datasource, "s")],
    "SELECT {columns} FROM checkers_checkerrule r JOIN checkers_dataset d ON d.id = r.dataset_id"
    " JOIN checkers_datasource s ON s.id = d.datasource_id WHERE r.checker_id = %s ORDER BY r.position, r.id",
)


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    API = "api", "API"
    DRY_RUN = "dry-run", "Dry run"


# The run states are spelled once, as the sandbox's verdict (``Status``: green, red, error); a run
# is queued and running before it has one, and a checker's state is unknown before its first.
class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    GREEN = Status.GREEN.value, "Green"
    RED = Status.RED.value, "Red"
    ERROR = Status.ERROR.value, "Error"
    # Not run: its namespace had spent its worker-seconds for the hour (checkers/quotas.py).
    # The alarm state does not move.
    SKIPPED = "skipped", "Skipped"

    @classmethod
    def finished(cls) -> list[RunStatus]:
        """The statuses of a run that has its verdict."""
        return [cls(status) for status in Status]


class State(models.TextChoices):
    """A checker's state, kept by its alarm state: the verdict it last counted, or unknown."""

    GREEN = Status.GREEN.value, "Green"
    RED = Status.RED.value, "Red"
    ERROR = Status.ERROR.value, "Error"
    UNKNOWN = "unknown", "Unknown"


class CheckRun(models.Model):
    """One evaluation of a checker. Append-only: a run is written once it has an outcome."""

    NAMESPACE_PATH = "checker__namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    checker = models.ForeignKey(Checker, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(
        max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    queued = models.DateTimeField(default=timezone.now)
    requeued = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep sent it again, no worker having started it."
    )
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True, db_index=True)
    messages = models.JSONField(default=list, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    error_detail = models.TextField(blank=True)
    logs = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    fetch_ms = models.FloatField(null=True, blank=True)
    sandbox_ms = models.FloatField(null=True, blank=True)
    fuel_used = models.BigIntegerField(null=True, blank=True)
    dataset_stats = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(
        default=dict, blank=True, help_text="What the run measured, by name: a rule's figure, for history."
    )

    class Meta:
        ordering = ["-queued"]
        indexes = [models.Index(fields=["checker", "-finished"])]
        constraints = [
            # A scheduled slot is run once, whatever dispatches it (``checkers.dispatch``). Only
            # the dispatcher sets ``scheduled_for``; other runs leave it NULL, and NULLs never
            # clash, on every database (MySQL has no partial index, so none is used).
            models.UniqueConstraint(fields=["checker", "scheduled_for"], name="one_run_per_scheduled_slot")
        ]

    def __str__(self) -> str:
        at = self.finished or self.queued
        return f"{self.checker} {self.get_status_display().lower()} at {at:%Y-%m-%d %H:%M:%S}"


class TestRun(models.Model):
    """A test run: a checker as saved, or as typed in the editor (``draft``), evaluated by a worker.

    Not history: no ``CheckRun`` is written and no alarm moves. The row only carries the draft
    to the worker and the result back to the page that waits for it, and is deleted after
    ``KEPT`` (``checkers/testruns.py``). Its ``duration_ms`` counts against the namespace's
    worker-seconds like a run's.
    """

    __test__ = False  # a model, not a pytest class, whatever its name

    NAMESPACE_PATH = "namespace"
    KEPT = timedelta(hours=1)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="test_runs")
    checker = models.ForeignKey(
        Checker,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="test_runs",
        help_text="The saved checker tested, or whose edit is tested; blank for a new checker.",
    )
    requested_by = optional_link(settings.AUTH_USER_MODEL)
    draft = models.JSONField(
        null=True, blank=True, help_text="The editor's form as typed; blank: the saved checker."
    )
    wasm_module = models.BinaryField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True, db_index=True)
    duration_ms = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"test run {self.uuid}"

    def get_absolute_url(self) -> str:
        return reverse("checkers:test-run", args=[self.namespace.slug, self.uuid])


class BusinessCalendar(models.Model):
    """A namespace's business days: Monday to Friday, less a country's public holidays (and a
    subdivision's) and the namespace's own days off (``checkers.calendars.Calendar``)."""

    NAMESPACE_PATH = "namespace"

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="business_calendar")
    country = models.CharField(
        max_length=3,
        blank=True,
        help_text="Whose public holidays: a code such as DE, FR or US. Blank: none.",
    )
    subdivision = models.CharField(
        max_length=10,
        blank=True,
        help_text="A state or region with holidays of its own: BY (Bavaria).",
    )
    days_off = models.TextField(
        blank=True, help_text="The namespace's own days off, one date per line: 2026-12-24."
    )

    def __str__(self) -> str:
        return f"business days of {self.namespace}"

    def clean(self) -> None:
        self.country, self.subdivision = self.country.strip().upper(), self.subdivision.strip().upper()
        errors = {}
        try:
            Calendar(self.country, self.subdivision).check()
        except ValueError as exc:
            errors["subdivision" if "subdivision" in str(exc) else "country"] = str(exc)
        try:
            self.days_off = "\n".join(day.isoformat() for day in parse_days(self.days_off))
        except ValueError as exc:
            errors["days_off"] = str(exc)
        if errors:
            raise ValidationError(errors)

    @classmethod
    def answers_for(cls, checker: Checker, today: date | None = None) -> Callable[[date | None], bool]:
        """A Python checker's ``business_day``: the namespace's calendar, read on the first
        question only (most checkers never ask), with today in the checker's time zone."""
        zone, namespace_id = checker.zone, checker.namespace_id
        found: list[Calendar] = []

        def business_day(day: date | None) -> bool:
            if not found:
                found.append(cls.calendar_of(namespace_id))
            return found[0].is_business_day(day or today or timezone.now().astimezone(zone).date())

        return business_day

    @classmethod
    def calendar_of(cls, namespace_id: int) -> Calendar:
        """The namespace's ``Calendar`` (weekdays only when it has none): one query."""
        return Calendar.of(cls.objects.filter(namespace_id=namespace_id).first())


class Retention(models.Model):
    """How long a namespace keeps its runs (their messages, figures and metrics); older runs are
    pruned by ``checkers.retention``. Alarm states and their transitions are kept."""

    NAMESPACE_PATH = "namespace"
    DEFAULT_DAYS = 90
    MAX_DAYS = 3650

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="retention")
    days = models.PositiveIntegerField(
        "keep runs for (days)",
        default=DEFAULT_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
        help_text="Runs older than this are deleted, in batches, every hour: their messages, logs, "
        "figures and metrics, and their failing rows. Alarm states, their transitions and the alarm "
        "history are kept. From 1 to 3,650 days (ten years); 90 unless set.",
    )

    def __str__(self) -> str:
        return f"{self.namespace} keeps runs {self.days} days"

    @classmethod
    def days_of(cls, namespace_id: int) -> int:
        """How many days the namespace keeps its runs (``DEFAULT_DAYS`` until it says)."""
        days = cls.objects.filter(namespace_id=namespace_id).values_list("days", flat=True).first()
        return cls.DEFAULT_DAYS if days is None else days

    def clean(self) -> None:
        """Keep at least the days of history a rule of the namespace reads, or its band would
        quietly shrink to what is left."""
        longest = (
            CheckerRule.objects.filter(checker__namespace_id=self.namespace_id, history_days__isnull=False)
            .select_related("checker")
            .order_by("-history_days")
            .first()
        )
        if longest is not None and self.days is not None and self.days < (longest.history_days or 0):
            raise ValidationError(
                {
                    "days": f"A rule of {longest.checker.slug} reads the last {longest.history_days} days "
                    "of history: keep runs at least that long."
                }
            )


class FailingRows(models.Model):
    """The failing rows of one dataset in one run, by their keys: a capped sample (never whole
    rows), the count of all, and what changed since the checker's previous evaluated run.

    Written with the run and deleted with it (``checkers.retention``), so it keeps the
    namespace's retention.
    """

    NAMESPACE_PATH = "run__checker__namespace"
    # How many keys an alarm message carries; the run page lists the whole sample.
    PAYLOAD_SAMPLE = 100

    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="failing_rows")
    dataset = models.CharField(max_length=100)
    key_column = models.CharField(max_length=200, blank=True)
    count = models.PositiveBigIntegerField(default=0, help_text="All the failing rows, not only the sample.")
    keys = models.JSONField(default=list, blank=True, help_text="The first 1,000 keys, as text.")
    new = models.JSONField(default=list, blank=True, help_text="Keys not in the previous run's sample.")
    gone = models.JSONField(
        default=list, blank=True, help_text="Keys of the previous run's sample that no longer fail."
    )

    class Meta:
        ordering = ["run_id", "dataset"]
        constraints = [
            models.UniqueConstraint(fields=["run", "dataset"], name="failing_rows_once_per_dataset")
        ]
        verbose_name_plural = "failing rows"

    def __str__(self) -> str:
        return f"{self.count} failing rows in {self.dataset}"

    @classmethod
    def record(
        cls, run: CheckRun, found: Mapping[str, FailingSample], key_columns: Mapping[str, str]
    ) -> None:
        """Keep a run's failing keys beside those of the checker's previous evaluated run
        (green or red: an error run found nothing), each dataset's new and gone keys worked out.
        A rule checker none of whose rules names a key column costs no query; a code checker
        always pays one, since a run that calls no ``fail_rows`` still tells which keys are gone."""
        if not cls.kept(run, found, key_columns):
            return
        before = (
            CheckRun.objects.filter(checker_id=run.checker_id, status__in=[RunStatus.GREEN, RunStatus.RED])
            .exclude(pk=run.pk)
            .filter(finished__lte=run.finished)
            .order_by("-finished", "-pk")
            .values("pk")[:1]
        )
        previous = dict(
            FailingRows.objects.filter(run_id=models.Subquery(before)).values_list("dataset", "keys")
        )
        rows = []
        for dataset in sorted(set(found) | set(previous)):
            sample = found.get(dataset) or FailingSample()
            was = set(previous.get(dataset, []))
            now = set(sample.keys)
            rows.append(
                FailingRows(
                    run=run,
                    dataset=dataset,
                    key_column=key_columns.get(dataset, ""),
                    count=sample.count,
                    keys=sample.keys,
                    new=[key for key in sample.keys if key not in was],
                    gone=[key for key in previous.get(dataset, []) if key not in now],
                )
            )
        FailingRows.objects.bulk_create(rows)

    @staticmethod
    def kept(run: CheckRun, found: Mapping[str, FailingSample], key_columns: Mapping[str, str]) -> bool:
        """Whether ``record`` has anything to read or write for this run."""
        if run.status not in (RunStatus.GREEN, RunStatus.RED):
            return False
        return bool(found or key_columns or run.checker.kind != CheckerKind.RULE)

    @staticmethod
    def say(new: int, count: int, gone: int) -> str:
        """ "3 new failing rows (12 in all)", and how many no longer fail when some do not: the
        alarm message's words and the run page's."""
        text = f"{new:,} new failing row{'' if new == 1 else 's'} ({count:,} in all)"
        return f"{text}; {gone:,} no longer failing" if gone else text

    @property
    def headline(self) -> str:
        return self.say(len(self.new), self.count, len(self.gone))

    def listed(self) -> list[tuple[str, bool]]:
        """The sample for the run page: each key, and whether it is new since the previous run."""
        new = set(self.new)
        return [(key, key in new) for key in self.keys]

    @classmethod
    def summary(cls, run: CheckRun) -> dict[str, Any] | None:
        """The alarm message's ``failing_rows``: counts over the run's datasets and a short sample;
        None for a run that keeps no failing rows."""
        kept = list(run.failing_rows.all())
        if not kept:
            return None
        sample = [key for rows in kept for key in rows.keys][: cls.PAYLOAD_SAMPLE]
        return {
            "count": sum(rows.count for rows in kept),
            "new": sum(len(rows.new) for rows in kept),
            "gone": sum(len(rows.gone) for rows in kept),
            "sample": sample,
            "datasets": {
                rows.dataset: {"count": rows.count, "new": len(rows.new), "gone": len(rows.gone)}
                for rows in kept
            },
        }

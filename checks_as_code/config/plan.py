"""What an import did (or, in a dry run, would do): one line per object, and a summary."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# The order objects are listed in: the order an import writes them.
KINDS = ("user", "namespace", "membership", "datasource", "dataset", "runbook", "channel", "checker")


class Action(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    kind: str
    label: str
    action: Action
    keys: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "object": self.label, "action": str(self.action), "keys": list(self.keys)}


@dataclass
class Plan:
    file: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)

    def add(self, kind: str, label: str, action: Action, keys: tuple[str, ...] = ()) -> None:
        self.changes.append(Change(kind, label, action, keys))

    @property
    def changed(self) -> bool:
        return any(change.action != Action.UNCHANGED for change in self.changes)

    def counts(self) -> dict[str, dict[str, int]]:
        tally = Counter((change.kind, change.action) for change in self.changes)
        return {
            kind: {str(action): tally[kind, action] for action in Action}
            for kind in KINDS
            if any(tally[kind, action] for action in Action)
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "summary": self.counts(),
            "changes": [change.as_dict() for change in self.changes],
        }

    def summary(self) -> str:
        """Per object type, each action with its slugs; updates name the keys that changed."""
        head = (
            f"{self.file}: dry run, nothing was changed. The import would do this:"
            if self.dry_run
            else (
                f"{self.file}: imported."
                if self.changed
                else f"{self.file}: imported; everything was unchanged."
            )
        )
        lines = [head]
        for kind in KINDS:
            for action in Action:
                changes = [c for c in self.changes if c.kind == kind and c.action == action]
                if changes:
                    labels = ", ".join(
                        c.label + (f" ({', '.join(c.keys)})" if c.keys else "") for c in changes
                    )
                    lines.append(f"  {kind}s {action}: {len(changes)}: {labels}")
        return "\n".join(lines)

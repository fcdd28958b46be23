"""A checks-as-code file as plain values, plus the line and column each value came from.

PyYAML's ``safe_load`` forgets where things were, and an error that says "line 14, column 9"
is most of what makes a bad file quick to fix. So the file is composed into YAML nodes (which
keep their marks) and turned into dicts, lists and scalars here, recording each value's mark
and each mapping key's mark under its path, e.g. ``("namespaces", 0, "checkers", 1)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

Path = tuple[str | int, ...]

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A guard against "billion laughs": aliases can make a small file expand exponentially.
MAX_VALUES = 1_000_000
# Deeper than any checks-as-code file needs (params are capped at 32 levels below their key),
# and shallow enough that building the values never exhausts Python's stack.
MAX_DEPTH = 64


def dotted(path: Path) -> str:
    """``namespaces[0].checkers[1].schedule``: the key path as a reader types it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


@dataclass(frozen=True, order=True)
class ConfigError:
    """One thing wrong with the file, where it is, and what to do about it."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class ConfigInvalid(Exception):
    """The file is not a valid configuration; nothing was changed."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors = sorted(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class Mark:
    line: int
    column: int

    @classmethod
    def of(cls, mark: Any) -> Mark:
        """YAML marks count from 0; editors and error messages count from 1."""
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class Document:
    file: str
    root: Any = None
    marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)

    def mark(self, path: Path, *, key: bool = False) -> Mark:
        """Where ``path`` is; a key that is absent points at the nearest object that holds it."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, Mark(1, 1))

    def error(self, path: Path, message: str, *, key: bool = False) -> ConfigError:
        mark = self.mark(path, key=key)
        return ConfigError(self.file, mark.line, mark.column, dotted(path), message)


def load(text: str, file: str) -> Document:
    """Parse ``text``; a syntax error, a duplicate key or an unknown tag raises ``ConfigInvalid``."""
    document = Document(file)
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigInvalid([_syntax_error(file, exc)]) from None
    except yaml.YAMLError as exc:
        raise ConfigInvalid([ConfigError(file, 1, 1, "", str(exc))]) from None
    if node is not None:
        builder = _Builder(document)
        document.root = builder.build(node, ())
        if builder.errors:
            raise ConfigInvalid(builder.errors)
    return document


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = Mark.of(exc.problem_mark or exc.context_mark)
    text = f"{exc.context}: {exc.problem}" if exc.context else str(exc.problem)
    return ConfigError(file, mark.line, mark.column, "", f"invalid YAML, {text}")


class _Builder:
    """Turns composed nodes into values, recording marks, refusing what safe_load would hide."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.constructor = SafeConstructor()
        self.errors: list[ConfigError] = []
        self.budget = MAX_VALUES
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.document.marks.setdefault(path, Mark.of(node.start_mark))
        self.budget -= 1
        if self.budget < 0:
            self._refuse(path, f"the file expands to more than {MAX_VALUES:,} values: are aliases nested?")
            raise ConfigInvalid(self.errors)
        if len(path) > MAX_DEPTH:
            self._refuse(path[:MAX_DEPTH], f"values nest more than {MAX_DEPTH} levels deep here")
            raise ConfigInvalid(self.errors)
        if id(node) in self.active:
            return self._refuse(path, "this alias refers to itself")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            return self.constructor.construct_object(node)
        except ConstructorError as exc:
            return self._refuse(path, str(exc.problem))
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        self.constructor.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = (
                self.constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            )
            if not isinstance(key, str):
                self._refuse(path, "keys are plain words (strings)", Mark.of(key_node.start_mark))
                continue
            if key in result:
                self._refuse(
                    (*path, key),
                    f"duplicate key `{key}`: it is already set above",
                    Mark.of(key_node.start_mark),
                )
                continue
            self.document.key_marks[(*path, key)] = Mark.of(key_node.start_mark)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _refuse(self, path: Path, message: str, mark: Mark | None = None) -> None:
        mark = mark or self.document.mark(path)
        self.errors.append(ConfigError(self.document.file, mark.line, mark.column, dotted(path), message))

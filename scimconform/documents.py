"""YAML documents checked against a JSON Schema in `schemas/`, with errors that name file, line and field.

Every YAML a user can hand the harness (the settings file, profiles, case files) is read here, by a
loader that refuses aliases: a YAML file of a few hundred bytes can alias its way to gigabytes
("billion laughs"), and nothing scimconform reads needs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError

# Settings and profiles are kilobytes, an Entra export hundreds; a bigger file is the wrong one (or /dev/zero).
MAX_FILE_BYTES = 8 * 1024 * 1024
# Deeper nesting than any profile, case or settings file needs; PyYAML's composer recurses once per level.
MAX_DEPTH = 64


class _Guard(Composer):
    """A composer that refuses aliases and deep nesting while composing, before anything can grow."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[attr-defined]  # the parser's, mixed in beside
        mark: yaml.Mark = event.start_mark  # type: ignore[assignment]  # libyaml's marks have the same fields
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(
                problem=f"alias *{event.anchor} is not allowed (aliases can make a small file huge): write it out",
                problem_mark=mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PythonLoader(_Guard, yaml.SafeLoader):
    """SafeLoader with the guarded composer."""


try:
    from yaml._yaml import CParser
except ImportError:  # a PyYAML built without libyaml
    _Loader: Callable[[str], yaml.SafeLoader] = _PythonLoader
else:

    class _LibyamlLoader(_Guard, CParser, SafeConstructor, Resolver):
        """The same with libyaml's parser, five times faster on the case files every run loads at start-up; the
        composer stays Python's, so the guard sees every node."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _Loader = _LibyamlLoader  # type: ignore[assignment]  # SafeLoader's interface, without its class


def read_text(path: Path, label: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a file the user named; `label` (e.g. "config file x.yaml") names it in every error."""
    chunks: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as file:  # in chunks: read(limit + 1) would allocate the whole limit for every file
            while chunk := file.read(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise ConfigError(f"{label} is larger than {limit // 1024} KB: is it the right file?")
    except OSError as exc:
        raise ConfigError(f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{label} is not a text file (byte {exc.start} is not UTF-8): is it the right file?"
        ) from None


def parse_yaml(text: str, source: str | Path) -> tuple[Any, yaml.Node | None]:
    """The data in `text` and its node tree (for line numbers); errors name `source` and the line."""
    try:
        loader = _Loader(text)
        tree = loader.get_single_node()
        return (loader.construct_document(tree) if tree is not None else None), tree
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: invalid YAML: {problem}") from None


def load_document(path: Path, schema: str) -> Any:
    """Read YAML from `path` and validate it against `schemas/<schema>`; nothing half-valid gets through.

    A text already found valid against the same schema, here or by the pytest-xdist controller that started this
    worker (`trust_validated`), is not validated again: validation is most of a worker's start-up."""
    text = read_text(path, str(path))
    data, tree = parse_yaml(text, path)
    digest = _digest(schema, text)
    if digest not in _VALID:
        validated(data, schema, path, tree)
        _VALID.add(digest)
    return data


# Digests (`_digest`) of the (schema, document text) pairs known to be valid in this process.
_VALID: set[str] = set()


def validated_digests() -> list[str]:
    """What this process found valid, for the workers it starts."""
    return sorted(_VALID)


def trust_validated(digests: Iterable[str]) -> None:
    """Take the digests of documents a parent process validated: the same text against the same schema."""
    _VALID.update(digests)


def _digest(schema: str, text: str) -> str:
    return hashlib.sha256(f"{_schema_text(schema)}\0{text}".encode()).hexdigest()


def validated(data: Any, schema: str, path: Path, tree: yaml.Node | None = None) -> Any:
    """`data` if it follows `schemas/<schema>`, else a ConfigError naming the first problem's line and field."""
    error = best_match(_validator(schema).iter_errors(data))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        line = _line_of(tree, list(error.absolute_path))
        where = f" line {line}" if tree is not None else ""
        raise ConfigError(f"{path}{where}: field {field}: {error.message}")
    return data


@cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(_schema_text(schema)))


@cache
def _schema_text(schema: str) -> str:
    return (data_dir("schemas") / schema).read_text(encoding="utf-8")


def _line_of(node: yaml.Node | None, path: list[str | int]) -> int:
    """The line of the YAML node at `path` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line

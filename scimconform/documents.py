"""YAML documents checked against a JSON Schema in `schemas/`, with errors that name file, line and field."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError


def load_document(path: Path, schema: str) -> Any:
    """Read YAML from `path` and validate it against `schemas/<schema>`; nothing half-valid gets through."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return validated(data, schema, path, tree)


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
    return Draft202012Validator(json.loads((data_dir("schemas") / schema).read_text(encoding="utf-8")))


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

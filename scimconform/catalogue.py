"""The case catalogue: every conformance case, loaded from YAML under `fixtures/cases/`.

A case keeps its metadata (ID, title, requirement, source, severity, fix) with its steps, once;
the CLI listing, the reports and the pytest IDs are all rendered from it. A malformed file is
reported with its path, line and field, and nothing runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError

REQUIRED = ("id", "title", "requirement", "source", "severity", "fix", "feature", "story")


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    requirement: str
    source: str
    severity: str
    fix: str
    feature: str
    story: str
    steps: tuple[dict[str, Any], ...]
    setup: tuple[dict[str, Any], ...] = ()
    identities: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    link: str | None = None
    epic: str = "Entra ID provisioning"
    gallery_test: str | None = None
    file: Path = Path()

    @property
    def suite(self) -> str:
        """The folder the case lives in (connection, discovery, users, groups)."""
        return self.file.parent.name

    @property
    def uses_dialect(self) -> bool:
        """A case whose steps send PATCH bodies runs once per dialect; the rest run once."""
        return any(_sends_patch(step) for step in self.steps)


def _sends_patch(step: dict[str, Any]) -> bool:
    if "foreach" in step:
        return any(_sends_patch(inner) for inner in step["steps"])
    return "patch" in ((step.get("request") or {}).get("body") or {})


def cases_dir() -> Path:
    return data_dir("fixtures") / "cases"


@cache
def load_catalogue(root: Path | None = None) -> tuple[Case, ...]:
    """All cases, sorted by ID; duplicate IDs are an error."""
    root = root or cases_dir()
    cases = [load_case(path) for path in sorted(root.rglob("*.yaml"))]
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"{case.file}: case id {case.id} is already used by {seen[case.id]}")
        seen[case.id] = case.file
    return tuple(sorted(cases, key=lambda c: c.id))


def load_case(path: Path) -> Case:
    """Read and validate one case file against schemas/sequence.json."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        line = _line_of(tree, list(error.absolute_path))
        raise ConfigError(f"{path} line {line}: field {field}: {error.message}")
    return Case(
        **{k: str(data[k]) for k in REQUIRED},
        steps=tuple(data["steps"]),
        setup=tuple(data.get("setup", [])),
        identities=dict(data.get("identities") or {}),
        requires=tuple(data.get("requires") or ()),
        link=data.get("link"),
        epic=str(data.get("epic", "Entra ID provisioning")),
        gallery_test=data.get("gallery_test"),
        file=path,
    )


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads((data_dir("schemas") / "sequence.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _line_of(node: yaml.Node | None, path: list[str | int]) -> int:
    """The line of the YAML node at `path` (or of its nearest existing parent), for error messages."""
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

"""The case catalogue: every conformance case, loaded from YAML under `fixtures/cases/`.

A case keeps its metadata (ID, title, requirement, source, severity, fix) with its steps, once;
the CLI listing, the reports and the pytest IDs are all rendered from it. A malformed file is
reported with its path, line and field, and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError

SEVERITIES = ("blocking", "warning")
REQUIRED = ("id", "title", "requirement", "source", "severity", "fix", "feature", "story", "steps")
OPTIONAL = ("link", "epic", "requires", "identities", "setup")
STEP_KEYS = frozenset({"name", "request", "expect", "create"})
REQUEST_KEYS = frozenset({"method", "path", "query", "body", "headers", "auth"})
BODY_KINDS = frozenset({"create", "patch", "json"})
EXPECTATIONS = frozenset(
    {
        "status",
        "content_type",
        "schema",
        "items",
        "total",
        "has_id",
        "id",
        "values",
        "absent",
        "members",
        "discoverable",
        "resource_types",
    }
)


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
    file: Path = Path()

    @property
    def suite(self) -> str:
        """The folder the case lives in (connection, discovery, users, groups)."""
        return self.file.parent.name

    @property
    def uses_dialect(self) -> bool:
        """A case whose steps send PATCH bodies runs once per dialect; the rest run once."""
        return any("patch" in (step.get("request", {}).get("body") or {}) for step in self.steps)


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
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a case file is a mapping of fields")

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{path} line {_line_of(text, key)}: field {key!r} {problem}")

    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing field {key!r}")
    for key in data:
        if key not in REQUIRED + OPTIONAL:
            raise fail(key, "is not a case field")
    if data["severity"] not in SEVERITIES:
        raise fail("severity", f"must be one of {', '.join(SEVERITIES)}")
    for key in ("steps", "setup"):
        steps = data.get(key, [])
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps) or (key == "steps" and not steps):
            raise fail(key, "must be a list of steps (mappings)")
        for index, step in enumerate(steps):
            problem = _step_problem(step)
            if problem:
                raise fail(key, f"step {index + 1}: {problem}")
    return Case(
        **{k: str(data[k]) for k in REQUIRED if k not in ("steps",)},
        steps=tuple(data["steps"]),
        setup=tuple(data.get("setup", [])),
        identities=dict(data.get("identities") or {}),
        requires=tuple(data.get("requires") or ()),
        link=data.get("link"),
        epic=str(data.get("epic", "Entra ID provisioning")),
        file=path,
    )


def _step_problem(step: dict[str, Any]) -> str | None:
    """What is wrong with one step, in words, or None."""
    if unknown := set(step) - STEP_KEYS:
        return f"unknown key {sorted(unknown)[0]!r}"
    if "create" in step:
        return None
    request = step.get("request")
    if not isinstance(request, dict) or "method" not in request or "path" not in request:
        return "needs create, or a request with method and path"
    if unknown := set(request) - REQUEST_KEYS:
        return f"unknown request key {sorted(unknown)[0]!r}"
    body = request.get("body")
    if body is not None and (not isinstance(body, dict) or len(body) != 1 or not set(body) <= BODY_KINDS):
        return f"body must be one of {', '.join(sorted(BODY_KINDS))}"
    if unknown := set(step.get("expect") or {}) - EXPECTATIONS:
        return f"unknown expectation {sorted(unknown)[0]!r}"
    return None


def _line_of(text: str, key: str) -> int:
    """The line where a top-level key is written, for error messages."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return 1

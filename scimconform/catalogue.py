"""The case catalogue: every conformance case, loaded from YAML under `fixtures/sequences/`.

A case keeps its metadata (ID, title, requirement, source, severity, fix) with its steps, once;
the CLI listing, the reports and the pytest IDs are all rendered from it. A malformed file is
reported with its path, line and field, and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from scimconform.datafiles import data_dir
from scimconform.documents import load_document
from scimconform.engine.steps import Step, parse_steps
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
    steps: tuple[Step, ...]
    setup: tuple[Step, ...] = ()
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
        return any(step.sends_patch() for step in self.steps)


def cases_dir() -> Path:
    return data_dir("fixtures") / "sequences"


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
    data = load_document(path, "sequence.json")
    return Case(
        **{k: str(data[k]) for k in REQUIRED},
        steps=parse_steps(data["steps"]),
        setup=parse_steps(data.get("setup", [])),
        identities=dict(data.get("identities") or {}),
        requires=tuple(data.get("requires") or ()),
        link=data.get("link"),
        epic=str(data.get("epic", "Entra ID provisioning")),
        gallery_test=data.get("gallery_test"),
        file=path,
    )

"""The case catalogue: every conformance case of an identity provider, loaded from YAML under its
`sequences` folder (Entra's: `fixtures/sequences/`).

A case keeps its metadata (ID, title, requirement, source, severity, fix) with its steps, once;
the CLI listing, the reports and the pytest IDs are all rendered from it. A malformed file, or a case
id that is not the provider's, is reported with its path, line and field, and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from scimconform import idp
from scimconform.datafiles import data_dir
from scimconform.documents import load_document
from scimconform.engine.steps import Step, parse_steps
from scimconform.errors import ConfigError
from scimconform.settings import DEFAULT_USERS

REQUIRED = ("id", "title", "requirement", "source", "severity", "fix", "feature", "story")
SEQUENCE_SUITE = "sequence"  # the suite of the case files a run is given (`run --sequence`)


@dataclass(frozen=True, kw_only=True)
class Case:
    id: str
    title: str
    requirement: str
    source: str
    severity: str
    fix: str
    feature: str
    story: str
    epic: str
    steps: tuple[Step, ...]
    setup: tuple[Step, ...] = ()
    identities: dict[str, str | dict[str, Any]] = field(default_factory=dict)  # name: kind, or {kind, count}
    requires: tuple[str, ...] = ()
    link: str | None = None
    gallery_test: str | None = None
    evidence: str = "documented"
    owns: tuple[str, ...] = ()
    # No other case may send during its steps (`run --workers`): they measure or page the target; "at-scale": only
    # when the run has more users than the default (`runs_alone`).
    alone: bool | str = False
    file: Path = Path()
    given_suite: str = ""  # a case file the run was given (`run --sequence`) runs in the suite SEQUENCE_SUITE

    @property
    def suite(self) -> str:
        """The folder the case lives in (connection, discovery, users, groups); `sequence` for a given file."""
        return self.given_suite or self.file.parent.name

    @property
    def uses_dialect(self) -> bool:
        """A case whose steps send PATCH bodies runs once per dialect; the rest run once."""
        return any(step.sends_patch() for step in self.steps)

    @property
    def member_lists(self) -> bool:
        """Whether it makes lists of identities: its steps run for each member, the longest cases of a run."""
        return any(isinstance(spec, dict) for spec in self.identities.values())

    def runs_alone(self, users: int) -> bool:
        """Whether its steps run with no other case sending, in a run with `users` users per cycle."""
        return self.alone is True or (self.alone == "at-scale" and users > DEFAULT_USERS)


def cases_dir(provider: idp.Provider) -> Path:
    """The provider's case folder; a relative `sequences` is read under the fixtures data room."""
    return data_dir("fixtures") / provider.sequences


@cache
def load_catalogue(provider: idp.Provider | None = None) -> tuple[Case, ...]:
    """All the provider's cases, sorted by ID; duplicate IDs are an error."""
    provider = provider or idp.provider()
    cases = [load_case(path, provider) for path in sorted(cases_dir(provider).rglob("*.yaml"))]
    return _checked(cases, provider)


def catalogue_with(sequences: tuple[Path, ...], provider: idp.Provider | None = None) -> tuple[Case, ...]:
    """The bundled cases and the case files a run is given, checked together (ids stay unique, owners exist);
    a mistake in a given file is reported with its path and line, as in a bundled one."""
    provider = provider or idp.provider()
    given = [replace(load_case(path, provider), given_suite=SEQUENCE_SUITE) for path in sequences]
    return _checked([*load_catalogue(provider), *given], provider)


def _checked(cases: list[Case], provider: idp.Provider) -> tuple[Case, ...]:
    """The cases sorted by ID, once they are consistent with each other."""
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"{case.file}: case id {case.id} is already used by {seen[case.id]}")
        seen[case.id] = case.file
    owned: dict[str, str] = {}
    for case in cases:
        for request in case.owns:
            if request in owned:
                raise ConfigError(f"{case.file}: {request!r} is already owned by {owned[request]}")
            owned[request] = case.id
        for owner in sorted(_owners(case.setup + case.steps) - set(seen)):
            raise ConfigError(f"{case.file}: a step names owner {owner}, which is no case of {provider.name}")
        _check_needs(case)
        if case.evidence == "inferred" and case.severity == "blocking":
            message = f"an inferred request shape never fails a run on its own: make {case.id} a warning"
            raise ConfigError(f"{case.file}: {message}")
    return tuple(sorted(cases, key=lambda c: c.id))


def owner_of(request: str, cases: tuple[Case, ...]) -> str | None:
    """The case that judges a provider request such as "create Group" (its `owns`), if any."""
    return next((case.id for case in cases if request in case.owns), None)


def _check_needs(case: Case) -> None:
    """A step's `needs` names an earlier step of the same case."""
    earlier: set[str | None] = set()
    for step in _flat(case.setup + case.steps):
        if step.needs is not None and step.needs not in earlier:
            raise ConfigError(f"{case.file}: a step needs '{step.needs}', which is no earlier step of {case.id}")
        earlier.add(getattr(step, "name", None))


def _flat(steps: tuple[Step, ...]) -> list[Step]:
    """The steps in the order they run, those of a `foreach` in place."""
    return [inner for step in steps for inner in (step, *_flat(getattr(step, "steps", ())))]


def _owners(steps: tuple[Step, ...]) -> set[str]:
    """Every case id the steps name as the owner of what they send."""
    return {owner for step in steps for owner in step.owners()}


def load_case(path: Path, provider: idp.Provider | None = None) -> Case:
    """Read and validate one case file against schemas/sequence.json; its id must be one of the provider's
    (the schema takes any upper-case id), and its epic defaults to the provider's."""
    provider = provider or idp.provider()
    data = load_document(path, "sequence.json")
    if not provider.case_id.match(str(data["id"])):
        raise ConfigError(f"{path}: case id {data['id']} is not a {provider.name} case id ({provider.case_id.pattern})")
    grows = any(
        isinstance(spec, dict) and spec.get("count") == "users" for spec in (data.get("identities") or {}).values()
    )
    if data.get("alone") == "at-scale" and not grows:
        raise ConfigError(f"{path}: alone: at-scale needs a list of `count: users` identities, which --users grows")
    return Case(
        **{k: str(data[k]) for k in REQUIRED},
        steps=parse_steps(data["steps"]),
        setup=parse_steps(data.get("setup", [])),
        identities=dict(data.get("identities") or {}),
        requires=tuple(data.get("requires") or ()),
        link=data.get("link"),
        epic=str(data.get("epic", provider.epic)),
        gallery_test=data.get("gallery_test"),
        evidence=str(data.get("evidence", "documented")),
        owns=tuple(data.get("owns") or ()),
        alone=data.get("alone", False),
        file=path,
    )

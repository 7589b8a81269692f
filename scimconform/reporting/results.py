"""Case results as reports carry them, the run's verdict, and `summary.json`.

Results travel on pytest reports as user properties, so they survive pytest-xdist: whichever
process writes the summary sees every worker's results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scimconform import __version__

STATUSES = ("passed", "failed", "warning", "skipped", "error")
SUMMARY_FORMAT = "scimconform-summary/1"


@dataclass(frozen=True)
class CaseResult:
    id: str
    title: str
    dialect: str | None
    status: str
    severity: str
    source: str
    message: str
    duration: float
    fix: str = ""

    @property
    def name(self) -> str:
        return self.id + (f"[{self.dialect}]" if self.dialect else "")


@dataclass
class RunRecord:
    """Everything the run learned, for the summary and the console verdict."""

    target: str
    embedded: bool
    profile: str
    dialects: tuple[str, ...]
    seed: int
    run_tag: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    results: list[CaseResult] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    target_error: str | None = None

    def totals(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def blocking_failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.status in ("failed", "error")]

    @property
    def gallery_ready(self) -> bool:
        return not self.blocking_failures() and not self.leftovers and self.target_error is None and bool(self.results)

    def exit_code(self) -> int:
        """0 ready, 1 conformance failures or leftovers, 2 the target could not be judged."""
        if self.target_error is not None:
            return 2
        return 0 if self.gallery_ready else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SUMMARY_FORMAT,
            "harness_version": __version__,
            "target": {"url": self.target, "embedded": self.embedded},
            "profile": self.profile,
            "dialects": list(self.dialects),
            "seed": self.seed,
            "run_tag": self.run_tag,
            "started": self.started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "totals": self.totals(),
            "cases": [asdict(r) for r in self.results],
            "leftovers": self.leftovers,
            "target_error": self.target_error,
            "verdict": {
                "gallery_ready": self.gallery_ready,
                "blocking_failures": [r.name for r in self.blocking_failures()],
                "exit_code": self.exit_code(),
            },
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

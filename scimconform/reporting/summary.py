"""summary.json, the machine-readable verdict (schemas/summary.json), written when the run finishes."""

from __future__ import annotations

from pathlib import Path

from scimconform.events import Event, RunFinished


class SummaryWriter:
    """Reporter. Registered after the other writers, so one that failed before it is in `report_errors`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            event.record.write(self.path)

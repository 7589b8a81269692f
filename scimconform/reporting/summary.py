"""summary.json, the machine-readable verdict (schemas/summary.json), written when the run finishes."""

from __future__ import annotations

from pathlib import Path

from scimconform.events import Event, RunFinished
from scimconform.reporting.console import readiness
from scimconform.reporting.results import write_json


class SummaryWriter:
    """Reporter. Registered after the other writers, so one that failed before it is in `report_errors`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def handle(self, event: Event) -> None:
        """Write the summary; the finish time is the moment it is written. A conformance run's verdict also
        carries the console's last line, so the HTML report (built later, maybe elsewhere) says the same."""
        if isinstance(event, RunFinished):
            record = event.record
            document = record.to_json()
            if record.load is None:  # a load run's verdict is its `load` section
                document["verdict"]["readiness"] = readiness(record)
            write_json(self.path, document)

"""fixtures/traffic/bundled-shapes.json is what a default run sends: the yardstick of `record`'s unseen.md."""

import json
from pathlib import Path

import pytest

from scimconform.cli import main
from scimconform.traffic.recording import read_har
from scimconform.traffic.shapes import bundled_shapes_file, shape_document

pytestmark = pytest.mark.slow  # whole conformance runs: listed first (conftest.py)


def test_the_bundled_shapes_are_those_of_a_default_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    assert (
        main(["run", "--report-dir", str(tmp_path), "--har", str(har), "--seed", "5", "--throughput-seconds", "0"]) == 0
    )
    capsys.readouterr()
    stored = json.loads(bundled_shapes_file().read_text(encoding="utf-8"))
    assert shape_document(read_har(har, "--har")) == stored, (
        "the bundled cases send other request shapes now: regenerate with `scimconform run --throughput-seconds 0 "
        "--seed 5 --har run.har && python -m scimconform.traffic.shapes run.har > fixtures/traffic/bundled-shapes.json`"
    )

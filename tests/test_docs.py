"""Documentation that cannot drift: docs/cases.md is exactly what the catalogue renders."""

from pathlib import Path

from scimconform.catalogue import load_catalogue
from scimconform.reporting.catalogue import catalogue_markdown

DOCS = Path(__file__).parents[1] / "docs" / "cases.md"


def test_docs_cases_md_is_the_rendered_catalogue() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalogue_markdown(load_catalogue()), (
        "docs/cases.md is out of date: run `scimconform list --format markdown > docs/cases.md`"
    )


def test_every_case_has_a_heading() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for case in load_catalogue():
        assert f"### {case.id} — " in text

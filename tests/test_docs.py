"""Documentation that cannot drift: docs/cases.md is exactly what the catalogue renders, and every citation
in the product and its docs is one a reader can follow."""

import re
from itertools import groupby
from pathlib import Path

from scimconform.catalogue import load_catalogue
from scimconform.reporting.catalogue import catalogue_markdown
from scimconform.reporting.rfc_coverage import load_requirements, rfc_coverage_markdown

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs" / "cases.md"
RFC_COVERAGE = ROOT / "docs" / "rfc-coverage.md"
# Where users read our citations: the package, the suites, the data files and the documentation.
PUBLISHED = [ROOT / name for name in ("scimconform", "suites", "fixtures", "schemas", "docs", "README.md")]
# Team notes that users do not have; cite the public source, or a file under docs/, instead.
PRIVATE_NOTES = ("entra-wire", "allure.md §", "anchors.md", "shared/reference")
# `(docs/entra-notes.md, "PATCH dialects")`, possibly wrapped over a comment line.
DOCS_CITATION = re.compile(r'docs/([\w.-]+\.md),\s+"([^"]+)"')
WRAPPED_LINE = re.compile(r"\s*\n\s*(?:#\s*)?")


def text_files(*roots: Path) -> list[Path]:
    files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()]
    return [p for p in files if "__pycache__" not in p.parts and p.suffix != ".pyc"]


def test_docs_cases_md_is_the_rendered_catalogue() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalogue_markdown(load_catalogue()), (
        "docs/cases.md is out of date: run `scimconform list --format markdown > docs/cases.md`"
    )


def test_docs_rfc_coverage_md_is_the_rendered_requirements() -> None:
    assert RFC_COVERAGE.read_text(encoding="utf-8") == rfc_coverage_markdown(load_requirements(), load_catalogue()), (
        "docs/rfc-coverage.md is out of date: run `scimconform list --format rfc-coverage > docs/rfc-coverage.md`"
    )


def test_rfc_requirements_name_real_cases_and_every_rfc_case() -> None:
    """A requirement names a case that exists, and every ENTRA-RFC case answers at least one requirement."""
    requirements = load_requirements()
    ids = {case.id for case in load_catalogue()}
    named = {r["case"] for r in requirements if "case" in r}
    assert named - ids == set(), "rfc-requirements.yaml names cases that do not exist"
    assert {i for i in ids if i.startswith("ENTRA-RFC-")} - named == set(), "ENTRA-RFC cases no requirement names"
    assert len({r["id"] for r in requirements}) == len(requirements), "requirement ids repeat"
    runs = [section for section, _ in groupby((r["rfc"], r["section"]) for r in requirements)]
    assert len(runs) == len(set(runs)), "keep each section's requirements together, or the page lists it twice"


def test_every_case_has_a_heading() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for case in load_catalogue():
        assert f"### {case.id} — " in text


def test_no_citation_names_a_private_team_note() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in text_files(*PUBLISHED)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(note in line for note in PRIVATE_NOTES)
    ]
    assert not found, "cite the public source or a file under docs/ instead:\n" + "\n".join(found)


def test_every_citation_of_a_docs_file_names_one_of_its_headings() -> None:
    broken = []
    for path in text_files(*PUBLISHED, ROOT / "tests", ROOT / "bench"):
        if path == Path(__file__) or path.suffix not in (".py", ".md", ".yaml", ".json"):
            continue
        for name, heading in DOCS_CITATION.findall(WRAPPED_LINE.sub(" ", path.read_text(encoding="utf-8"))):
            cited = ROOT / "docs" / name
            headings = (
                {line.lstrip("#").strip() for line in cited.read_text(encoding="utf-8").splitlines() if line[:1] == "#"}
                if cited.is_file()
                else set()
            )
            if heading not in headings:
                broken.append(f'{path.relative_to(ROOT)}: docs/{name}, "{heading}"')
    assert not broken, "no such file or heading under docs/:\n" + "\n".join(broken)

"""The HTML report: one self-contained `index.html`, built from the Allure results by Allure 3.

The generator is the npm package `allure` (Allure 3, "awesome" report, single file), pinned in the
repository's `package.json` and `package-lock.json`. It is found, in this order:

1. `$SCIMCONFORM_ALLURE`, the path of an Allure 3 `allure` executable;
2. `node_modules/allure` in the working directory (`npm install allure@3.18.0` there);
3. `node_modules/allure` beside the source tree, i.e. `npm ci --omit=dev` in a checkout.

Allure 3 embeds a Google Analytics tag it cannot switch off; it is removed after generation, so a
report handed to a partner calls nobody (docs/allure-notes.md, "Analytics tag"). The page opens with the run's
verdict from `summary.json`, above Allure's own report, which shows a restated copy of the results for a reader
who is not a Python developer (scimconform.reporting.html_view).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scimconform.errors import HarnessError
from scimconform.reporting.allure import CATEGORIES
from scimconform.reporting.html_view import HIDDEN_LABELS, stage_results, verdict, verdict_section
from scimconform.reporting.results import write_json

ALLURE_VERSION = "3.18.0"  # the pin in package.json; tests/test_reports_html.py keeps the two equal
ALLURE_ENV = "SCIMCONFORM_ALLURE"
NODE_MAJOR = 20
CHECKOUT = Path(__file__).resolve().parents[2]
ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/gtag/js\?id=[^"]*"></script>\s*'
    r"<script>\s*window\.dataLayer[\s\S]*?</script>"
)
REPORT_NAME = "scimconform: Entra ID SCIM conformance"


def allurerc(word: str) -> dict[str, Any]:
    """The generator's configuration; the report's name (its title, and the browser tab's) starts with the verdict."""
    name = f"{word} · {REPORT_NAME}"
    return {
        "name": name,
        "categories": CATEGORIES,
        "hideLabels": HIDDEN_LABELS,
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportName": name,
                    "reportLanguage": "en",
                    "groupBy": ["epic", "feature", "story"],
                }
            }
        },
    }


class ReportToolMissing(HarnessError):
    """Node.js or the Allure 3 generator is not installed; the message says how to install it."""


class ReportError(HarnessError):
    """The generator ran and failed, or there is nothing to build a report from."""


def build_html(report_dir: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Build `report_dir/allure-report/index.html` from `report_dir/allure-results/`; return its path."""
    results = report_dir / "allure-results"
    if not any(results.glob("*-result.json")):
        raise ReportError(f"no Allure results in {results}: run `scimconform run --report-dir {report_dir}` first")
    command = generator(environ)
    summary = _summary(report_dir / "summary.json")
    config = report_dir / "allurerc.json"
    write_json(config, allurerc(verdict(summary)[0]))
    output = report_dir / "allure-report"
    shutil.rmtree(output, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="scimconform-allure-") as staged:
        stage_results(results, Path(staged), summary)
        command += ["generate", staged, "--config", str(config.resolve()), "--output", str(output.resolve())]
        try:
            done = subprocess.run(
                command,
                cwd=report_dir,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"the Allure generator did not run: {exc}") from None
    page = output / "index.html"
    if done.returncode != 0 or not page.is_file():
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
        raise ReportError(f"the Allure generator failed: {lines[-1]}")
    strip_analytics(page)
    open_with_verdict(page, verdict_section(summary))
    for extra in output.iterdir():  # the single-file mode also leaves its data as JSON beside the page
        if extra != page:
            extra.unlink()
    return page


def strip_analytics(page: Path) -> None:
    """Remove the generator's Google Analytics tag; refuse a page that would still call Google."""
    html = ANALYTICS.sub("", page.read_text(encoding="utf-8"))
    if "googletagmanager.com" in html:
        raise ReportError(f"{page}: the analytics tag of this Allure version could not be removed")
    page.write_text(html, encoding="utf-8")


def open_with_verdict(page: Path, section: str) -> None:
    """Put the verdict before Allure's app, in the same file: the first thing a reader sees, on every view."""
    html = page.read_text(encoding="utf-8")
    if "<body>" not in html:
        raise ReportError(f"{page}: no <body> in the page of this Allure version to put the verdict in")
    page.write_text(html.replace("<body>", f"<body>{section}", 1), encoding="utf-8")


def _summary(path: Path) -> dict[str, Any] | None:
    """The run's summary.json, or None when there is none (results from someone's own pytest run)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def generator(environ: Mapping[str, str]) -> list[str]:
    """The command that runs Allure 3, or `ReportToolMissing` saying how to install it."""
    explicit = environ.get(ALLURE_ENV)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ReportToolMissing(f"{ALLURE_ENV}={explicit} is not an executable Allure 3 `allure`")
        return [explicit]
    package = next((p for p in (Path.cwd(), CHECKOUT) if _allure_version(p).startswith("3.")), None)
    node = shutil.which("node", path=environ.get("PATH"))
    if node is None or _node_major(node) < NODE_MAJOR:
        raise ReportToolMissing(install_hint(node_missing=True))
    if package is None:
        raise ReportToolMissing(install_hint(node_missing=False))
    return [node, str(package / "node_modules" / "allure" / "cli.js")]


def install_hint(node_missing: bool) -> str:
    """One line: what to install, and where, to get the HTML report."""
    if (CHECKOUT / "package.json").is_file():
        step = f"run `npm ci --omit=dev` in {CHECKOUT}"
    else:
        step = f"run `npm install allure@{ALLURE_VERSION}` in the directory you run scimconform from"
    need = f"Node.js {NODE_MAJOR} or newer (e.g. `apt-get install nodejs npm`), then " if node_missing else ""
    return f"the HTML report needs {need}the Allure 3 generator: {step}, or set {ALLURE_ENV} to an `allure` executable"


def _allure_version(project: Path) -> str:
    try:
        manifest = json.loads((project / "node_modules" / "allure" / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(manifest.get("version", ""))


def _node_major(node: str) -> int:
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.match(r"v(\d+)\.", version.strip())
    return int(match[1]) if match else 0

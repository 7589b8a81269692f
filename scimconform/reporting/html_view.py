"""What the HTML report shows a reader who is not a Python developer: the verdict first, then the cases.

`allure-results/` stays as allure-pytest wrote it, for anyone's own Allure tooling. The HTML report is built
from a restated copy (`stage_results`): a case is named by its id, not by the pytest function that runs it;
the `scim_session`/`scim_case` fixtures become "Connect to the target", "Clean up after the case" and so on;
messages lose the Python exception class in front of the harness's own text (rule, observed, fix); the failed
steps of a warning case are marked broken (amber), not failed (red), as the case itself passes. Labels only
a developer needs (host, thread, …) are hidden by Allure's own `hideLabels` option.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from scimconform.reporting.console import CAUSES_SHOWN
from scimconform.reporting.results import case_name, write_json

HIDDEN_LABELS = ["host", "thread", "framework", "language", "package", "suite", "parentSuite", "subSuite"]
CASE_PARAMETER = "scim_case"  # the plugin's fixture, whose value is the case name (ENTRA-USER-010[default])
# Fixture name → (title of its set-up, title of its tear-down).
FIXTURE_TITLES = {
    "scim_session": ("Connect to the target", "Clean up after the run"),
    "scim_case": ("Prepare the case", "Clean up after the case"),
}
WARNING_STEP_STATUS = "broken"  # Allure has no warning status; broken is amber, and the case stays passed
SHOWN_STATUSES = ("failed", "error", "warning", "skipped", "passed")  # what needs reading first, first
VERDICT_COLOURS = {"READY": "#1a7f37", "NOT READY": "#cf222e", "NOT JUDGED": "#9a6700"}
# `scimconform.engine.outcomes.ConformanceFailure: ` as allure-pytest puts it in front of a message.
_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: ", re.MULTILINE)
_WORD = re.compile(r"^Entra gallery readiness: (READY|NOT READY|NOT JUDGED)")
_STYLE = """
#scimconform-verdict{font:15px/1.45 system-ui,sans-serif;color:#1f2328;background:#fff;max-width:920px;
margin:16px auto 0;padding:16px 24px;border-radius:12px;border-left:10px solid var(--verdict)}
#scimconform-verdict h1{margin:0 0 4px;font-size:30px;color:var(--verdict)}
#scimconform-verdict h2{margin:12px 0 4px;font-size:16px}
#scimconform-verdict p{margin:4px 0}#scimconform-verdict ol{margin:4px 0;padding-left:24px;list-style:decimal}
#scimconform-verdict li{margin:6px 0}#scimconform-verdict b{font-weight:700}#scimconform-verdict .quiet{color:#59636e}
"""


def stage_results(results: Path, staged: Path, summary: Mapping[str, Any] | None) -> None:
    """Copy `results` into `staged`, each test result and fixture container restated for a reader."""
    failures = _failures_by_step(summary)
    staged.mkdir(parents=True, exist_ok=True)
    for source in results.iterdir():
        if not source.is_file():
            continue
        if source.name.endswith("-result.json"):
            write_json(staged / source.name, reader_result(json.loads(source.read_bytes()), failures))
        elif source.name.endswith("-container.json"):
            write_json(staged / source.name, reader_container(json.loads(source.read_bytes())))
        else:
            shutil.copyfile(source, staged / source.name)


def reader_result(result: dict[str, Any], failures: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """One Allure test result as a reader should see it (see the module's docstring)."""
    parameters = result.get("parameters") or []
    case = next((str(p["value"]) for p in parameters if p.get("name") == CASE_PARAMETER), None)
    for parameter in parameters:  # renamed, not removed: Allure tells one case from another by its parameters
        if parameter.get("name") == CASE_PARAMETER:
            parameter["name"] = "case"
    labels = result.get("labels") or []
    if case is not None:  # `test_users#test_case` → `ENTRA-USER-010[default]`, the id every report uses
        result["fullName"] = case
        result["titlePath"] = [str(label["value"]) for label in labels if label.get("name") in ("epic", "feature")]
    warning = any(label.get("name") == "tag" and label.get("value") == "warning" for label in labels)
    _plain_details(result)
    result["steps"] = _reader_steps(result.get("steps") or [], failures.get(case or "", {}), warning)
    return result


def reader_container(container: dict[str, Any]) -> dict[str, Any]:
    """A fixture container: fixtures renamed for what they do; those that did nothing visible left out."""
    for key, which in (("befores", 0), ("afters", 1)):
        shown = []
        for fixture in container.get(key) or []:
            silent = fixture.get("status") in (None, "passed")  # a finalizer has no status
            if silent and not (fixture.get("steps") or fixture.get("attachments")):
                continue
            titles = FIXTURE_TITLES.get(str(fixture.get("name", "")).split("::")[0])
            if titles is not None:
                fixture["name"] = titles[which]
            _plain_details(fixture)
            fixture["steps"] = _reader_steps(fixture.get("steps") or [], {}, warning=False)
            shown.append(fixture)
        container[key] = shown
    return container


def _reader_steps(steps: list[dict[str, Any]], failures: Mapping[str, str], warning: bool) -> list[dict[str, Any]]:
    """A failed step says what the harness says of it (observed, rule, fix); in a warning case it is amber."""
    for step in steps:
        _plain_details(step)
        if step.get("status") == "failed":
            if (text := failures.get(str(step.get("name")))) is not None:
                step["statusDetails"] = {"message": text}
            if warning:
                step["status"] = WARNING_STEP_STATUS
        step["steps"] = _reader_steps(step.get("steps") or [], failures, warning)
    return steps


def _plain_details(item: dict[str, Any]) -> None:
    """The message and trace without the Python class name; a trace that only repeats the message dropped."""
    details = item.get("statusDetails")
    if not isinstance(details, dict):
        return
    for key in ("message", "trace"):
        if isinstance(details.get(key), str):
            details[key] = _CLASS_PREFIX.sub("", details[key]).rstrip()
    if details.get("trace") == details.get("message"):
        details.pop("trace", None)


def _failures_by_step(summary: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """Case name → failed step's title → the harness's account of it, from summary.json."""
    found: dict[str, dict[str, str]] = {}
    for case in (summary or {}).get("cases", []):
        steps = found.setdefault(case_name(case["id"], case["dialect"]), {})
        for failure in case.get("failures", []):
            judged = f"\njudged by: {failure['judged_by']}" if failure.get("judged_by") else ""
            steps.setdefault(
                failure["step"],
                f"observed: {failure['observed']}\nrule: {failure['rule']}\nfix: {failure['fix']}{judged}",
            )
    return found


def verdict(summary: Mapping[str, Any] | None) -> tuple[str, str]:
    """(READY | NOT READY | NOT JUDGED, the console's verdict line) of a run's summary."""
    line = (summary or {}).get("verdict", {}).get("readiness")
    if not isinstance(line, str) or not (match := _WORD.match(line)):
        return "NOT JUDGED", "Entra gallery readiness: NOT JUDGED — no conformance verdict beside these results"
    return match[1], line


def verdict_section(summary: Mapping[str, Any] | None) -> str:
    """The HTML the report opens with: the verdict, the gallery line, the counts, the root causes ranked."""
    word, line = verdict(summary)
    parts = [
        f"<style>{_STYLE}</style>",
        f'<section id="scimconform-verdict" aria-label="Verdict" style="--verdict:{VERDICT_COLOURS[word]}">',
        f"<h1>{escape(word)}</h1>",
        f"<p>{escape(line)}</p>",
    ]
    if summary:
        totals = summary.get("totals", {})
        counts = ", ".join(f"{totals[s]} {s}" for s in SHOWN_STATUSES if totals.get(s))
        parts.append(
            f'<p class="quiet">{escape(counts or "no case ran")} · target {escape(str(summary["target"]["url"]))} · '
            f"profile {escape(str(summary['profile']))} · seed {escape(str(summary['seed']))}. A warning breaks a "
            "SHOULD-level rule: it does not fail the run, and its case is listed as passed, tagged warning.</p>"
        )
        parts += _causes(summary.get("causes", []))
    return "".join(parts) + "</section>"


def _causes(causes: list[dict[str, Any]]) -> list[str]:
    """The root causes as the console lists them: the one that explains the most verdicts first."""
    if not causes:
        return []
    items = []
    for cause in causes[:CAUSES_SHOWN]:
        judged = f" (judged by {cause['judged_by']})" if cause.get("judged_by") else ""
        cases = ", ".join(cause["cases"])
        items.append(
            f"<li><b>{escape(cause['cause'] + judged)}</b><br>explains {cause['explains']}: {escape(cases)}"
            f"<br>fix: {escape(cause['fix'])}</li>"
        )
    more = len(causes) - CAUSES_SHOWN
    rest = f'<p class="quiet">… {more} more in summary.json (causes)</p>' if more > 0 else ""
    return [f"<h2>Root causes — fix 1 first</h2><ol>{''.join(items)}</ol>{rest}"]

"""What a recording sends that the bundled cases never do (see `shapes`), as `unseen.md` and a console line."""

from __future__ import annotations

from scimconform.traffic.recording import Recorded
from scimconform.traffic.shapes import CATEGORIES, load_bundled, shapes


def unseen(recorded: list[Recorded]) -> dict[str, dict[str, Recorded]]:
    """Per category, each shape of the recording no bundled case sends, with the first exchange that has it."""
    bundled = load_bundled()
    return {
        category: {shape: exchange for shape, exchange in found.items() if shape not in bundled[category]}
        for category, found in shapes(recorded).items()
    }


def unseen_markdown(found: dict[str, dict[str, Recorded]]) -> str:
    lines = [
        "# What the recording sends that the bundled cases never do",
        "",
        "Each line is a request shape (values taken out) that a default `scimconform run` never sends, with the",
        "first exchange of traffic.har that has it. A shape here is a case worth adding: the endpoint's answer to",
        "it is judged only by the recorded case's status.",
        "",
    ]
    if not any(found.values()):
        return "\n".join([*lines, "Nothing: every request shape of the recording is one the bundled cases send.", ""])
    for category, title in CATEGORIES.items():
        if found[category]:
            lines += [f"## {title}", ""]
            lines += [f"- `{shape}` — {exchange.label}" for shape, exchange in sorted(found[category].items())]
            lines.append("")
    return "\n".join(lines)


def unseen_summary(found: dict[str, dict[str, Recorded]]) -> str:
    """One line: how many unseen shapes of each kind."""
    counts = [f"{len(items)} {category}" for category, items in found.items() if items]
    return ("unseen by the bundled cases: " + ", ".join(counts)) if counts else "nothing the bundled cases never send"

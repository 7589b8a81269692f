"""Reproducers: for every case with a failed step, a bash script in `<report dir>/repro/` that replays the
failure against the server again, with curl, the token from `$SCIM_TOKEN`, and python3.

A one-request curl line stops reproducing once the run's cleanup has deleted what it points at. So the
script replays the case's own requests that change state (setup included) with a fresh run-tag-like suffix
in place of the run's tag, takes the ids of what its POSTs create from the answers and puts them where the
run's ids stood, sends each failing request, judges the answer again against what the failed check
expected (`CheckFailure.expected`; the status alone when a check gives nothing), and deletes what it
created, whatever happens. It exits 1 ("REPRODUCED") while a failure is still there, 0 ("PASSES") when
none is, and 2 ("NOT JUDGED") when a failing request could not be sent.

Each process writes the scripts of the cases it ran, at `CaseEnded` (the case's cleanup comes after); the
controller empties the folder when it starts and lists the scripts in its README at `RunFinished`.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import quote, quote_plus

from scimconform import __version__
from scimconform.catalogue import Case, load_catalogue
from scimconform.checks import CheckFailure
from scimconform.events import (
    CaseEnded,
    CaseStarted,
    Event,
    ExchangeRecorded,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from scimconform.exchange import Exchange
from scimconform.reporting import repro_judge
from scimconform.reporting.results import RunRecord, case_name

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED_HEADERS = ("content-type", "accept")  # as `Exchange.curl()`; the rest are the client's own


def script_name(name: str) -> str:
    """`ENTRA-USER-010[default]` → `ENTRA-USER-010_default.sh`: no character a shell would expand."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") + ".sh"


@cache
def _catalogue() -> dict[str, Case]:
    return {case.id: case for case in load_catalogue()}


@dataclass
class _FailedStep:
    """One failed step: its title and what its check expected."""

    step: str
    failure: CheckFailure


@dataclass
class _CaseTraffic:
    """What one case sent, in order, each with the step that sent it, and which of its steps failed on what."""

    case_id: str
    dialect: str | None
    step: str = ""
    exchanges: list[tuple[str, Exchange]] = field(default_factory=list)
    failed: list[tuple[Exchange, _FailedStep]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return case_name(self.case_id, self.dialect)

    def failures_of(self, exchange: Exchange) -> list[_FailedStep]:
        return [failed for sent, failed in self.failed if sent is exchange]


class ReproWriter:
    """Reporter: gathers each case's traffic and failed steps, and writes its reproducer when the case ends."""

    def __init__(self, directory: Path, run_tag: str, *, controller: bool) -> None:
        """`run_tag` is the tag the scripts replace; `controller` is the process that clears stale scripts
        before any worker writes, and writes the index."""
        self.directory = directory
        self.run_tag = run_tag
        self.base_url = ""
        self.case: _CaseTraffic | None = None
        if controller:
            shutil.rmtree(directory, ignore_errors=True)

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.base_url = event.base_url
        elif isinstance(event, CaseStarted):
            self.case = _CaseTraffic(event.case_id, event.dialect)
        elif self.case is None:
            if isinstance(event, RunFinished):
                self.write_index(event.record)
        elif isinstance(event, StepStarted):
            self.case.step = event.title
        elif isinstance(event, ExchangeRecorded):
            self.case.exchanges.append((self.case.step, event.exchange))
        elif isinstance(event, StepFinished) and isinstance(event.error, CheckFailure) and event.exchange:
            self.case.failed.append((event.exchange, _FailedStep(event.title, event.error)))
        elif isinstance(event, CaseEnded):
            # Only what the verdict names: a refusal judged by another case, or got past, is not this case's.
            self.case.failed = [(x, f) for x, f in self.case.failed if any(x is e for e in event.failed)]
            if self.case.failed:
                self.write_script(self.case)
            self.case = None

    def write_script(self, case: _CaseTraffic) -> None:
        text = Script(case, self.base_url, self.run_tag).render()
        path = self.directory / script_name(case.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.failed[0][0].redact(text))  # secrets are out already; this holds to it
        path.chmod(0o755)

    def write_index(self, record: RunRecord) -> None:
        """README: what each script reproduces, and how to run them."""
        rows = []
        for result in record.results:
            path = self.directory / script_name(case_name(result.id, result.dialect))
            if path.exists():
                rows.append(f"{path.name}\n    {result.display_name} — {result.status}: {result.message}")
        if not rows:
            return
        self.directory.joinpath("README").write_text(
            f"Reproducers of scimconform run {record.run_tag} against {record.target}\n\n"
            "Each script replays one failed case against a SCIM server: it creates what the case needs (every\n"
            "value tagged with a fresh scf… suffix), sends each failing request again, prints the answer, judges\n"
            "it as the run did and deletes what it created. It needs bash, curl and python3:\n\n"
            "    SCIM_TOKEN=<bearer token> bash <script> [TENANT_URL]    (or SCIM_URL; default: the run's URL)\n\n"
            "Exit 1 REPRODUCED: a failure is still there. Exit 0 PASSES: none is. Exit 2 NOT JUDGED: a failing\n"
            "request could not be sent.\n\n" + "\n".join(rows) + "\n"
        )


class Script:
    """One case's reproducer, rendered request by request."""

    def __init__(self, case: _CaseTraffic, base_url: str, run_tag: str) -> None:
        self.case = case
        self.base_url = base_url
        self.run_tag = run_tag
        self.posts = 0
        self.tag = (re.compile(re.escape(run_tag)), "TAG")
        self.body_forms: list[tuple[re.Pattern[str], str]] = []  # a run id in a JSON body → its variable
        self.url_forms: list[tuple[re.Pattern[str], str]] = []  # … in a path segment or a quoted filter value

    def render(self) -> str:
        replayed = [
            (step, exchange)
            for step, exchange in self.case.exchanges
            if exchange.method in STATE_CHANGING or self.case.failures_of(exchange)
        ]
        # A request sent without being recorded (the throughput case's) goes last.
        recorded = {id(exchange) for _, exchange in self.case.exchanges}
        replayed += [(failed.step, sent) for sent, failed in self.case.failed if id(sent) not in recorded]
        blocks = [self._block(number, step, exchange) for number, (step, exchange) in enumerate(replayed, 1)]
        return "\n".join([*self._header(), _PRELUDE, *blocks, _VERDICT])

    def _header(self) -> list[str]:
        case, name = _catalogue().get(self.case.case_id), self.case.name
        command = ["scimconform", "run", "--url", self.base_url, "-k", self.case.case_id]
        command += ["--dialect", self.case.dialect] if self.case.dialect else []
        lines = [
            "#!/usr/bin/env bash",
            f"# Reproducer of {name}" + (f": {case.title}" if case else ""),
            *([f"# Rule: {case.requirement}", f"# Source: {case.source}"] if case else []),
            f"# Run {self.run_tag} against {self.base_url} (scimconform {__version__}) saw these steps fail:",
        ]
        for sent, failed in self.case.failed:
            lines += [f"#   {failed.step} — {sent.label}", f"#     {failed.failure.check}: {failed.failure.message}"]
        lines += [
            f"# The same case in scimconform: {shlex.join(command)}",
            "#",
            f"# Usage: SCIM_TOKEN=<bearer token> bash {shlex.quote(script_name(name))} [TENANT_URL]  (or SCIM_URL=…)",
            "# It replays the case's requests that change state, with a fresh tag in place of the run's, sends each",
            "# failing request again and judges the answer as the run did, then deletes what it created.",
            "# Exit 1 REPRODUCED: a failure is still there; 0 PASSES; 2 NOT JUDGED: a failing request was not sent.",
            f"CASE={shlex.quote(name)}",
            f"RUN_URL={shlex.quote(self.base_url)}",
            f"RUN_TAG={shlex.quote(self.run_tag)}",
        ]
        return [_comment(line) if line.startswith("#") else line for line in lines]

    def _block(self, number: int, step: str, exchange: Exchange) -> str:
        failures = self.case.failures_of(exchange)
        title = shlex.quote(f"{number}. {step}")
        lines = ["", _comment(f"# {number}. {step} (the run: {exchange.label})")]
        path = self._relative(exchange)
        if path is None or not exchange.sent:
            lines.append(f"echo {shlex.quote(f'==> {number}. {step}: not replayed, it is outside the Tenant URL')}")
            return "\n".join(lines + ([f"UNJUDGED+=({title})"] if failures else []))
        url = self._cut(path, self.url_forms)
        body = self._cut(exchange.request_body, self.body_forms) if exchange.request_body is not None else None
        needs = url.variables | (body.variables if body is not None else set())
        needs.discard("TAG")
        auth = _auth(exchange, failures)
        send = ["send", auth, exchange.method, '"${URL}' + url.render('"') + '"']
        send += [
            f"-H {shlex.quote(f'{name.title()}: {value}')}"
            for name, value in exchange.request_headers.items()
            if name in REPLAYED_HEADERS
        ]
        ready = " ".join(["ready", title, *sorted({v.removesuffix("_URL") for v in needs})])
        lines.append(f"if {ready}; then")
        if body is None:
            lines.append("  " + " ".join(send))
        else:
            delimiter = _delimiter("SCIM_BODY", exchange.request_body or "")
            lines += ["  " + " ".join([*send, f"--data-binary @- <<{delimiter}"]), body.render(""), delimiter]
        if failures:
            expected = self._cut(json.dumps(self._expected(exchange, failures), ensure_ascii=False), self.body_forms)
            delimiter = _delimiter("SCIM_EXPECTED", expected.text)
            lines += [f"  judge {title} <<{delimiter}", expected.render(""), delimiter]
        if exchange.method == "POST":
            self.posts += 1
            collection = url.render('"').split("?")[0]
            lines.append(f'  created "${{URL}}{collection}" ID{self.posts}')
            self._learn(exchange, f"ID{self.posts}")
        lines.append(f"else\n  UNJUDGED+=({title})\nfi" if failures else "fi")
        return "\n".join(lines)

    def _cut(self, text: str, forms: list[tuple[re.Pattern[str], str]]) -> _Template:
        """`text` with the run's ids (as `forms` finds them) and the run's tag cut out as variables."""
        template = _Template(text)
        template.replace([*forms, self.tag])
        return template

    def _relative(self, exchange: Exchange) -> str | None:
        """The request's URL after the Tenant URL, or None when it is not inside it."""
        base, url = self.base_url, exchange.url
        if url == base or (url.startswith(base) and url[len(base)] in "/?"):
            return url[len(base) :]
        return None

    @staticmethod
    def _expected(exchange: Exchange, failures: list[_FailedStep]) -> dict[str, object]:
        """What `repro_judge.judge` reads: the status the run saw, and each failure's check, message and
        structured expectation (None: the status alone is judged)."""
        judged = [
            {"check": failed.failure.check, "message": failed.failure.message, "expected": failed.failure.expected}
            for failed in failures
        ]
        return {"observed": exchange.status or 0, "failures": judged}

    def _learn(self, exchange: Exchange, variable: str) -> None:
        """The id the run's POST created, wherever later requests carry it, stands for what this one creates."""
        try:
            document = exchange.json()
        except ValueError:
            return
        found = document.get("id") if isinstance(document, dict) else None
        if not isinstance(found, str) or not found:
            return
        forms = "|".join(re.escape(json.dumps(found, ensure_ascii=ascii)[1:-1]) for ascii in (True, False))
        self.body_forms.append((re.compile(rf'(?<=")(?:{forms})(?=")|(?<=\\")(?:{forms})(?=\\")'), variable))
        segment, query = re.escape(quote(found, safe="")), re.escape(quote_plus(found))
        self.url_forms.append((re.compile(rf"(?<=/){segment}(?=[/?]|$)|(?<=%22){query}(?=%22)"), f"{variable}_URL"))


def _auth(exchange: Exchange, failures: list[_FailedStep]) -> str:
    """`token` ($SCIM_TOKEN), `none`, or `invalid`: a request that had to be refused with 401 carried a
    wrong, expired or revoked token on purpose, which the redacted record no longer shows."""
    if "authorization" not in exchange.request_headers:
        return "none"
    refused = any(failed.failure.check == "status_code" and failed.failure.expected == [401] for failed in failures)
    return "invalid" if refused else "token"


def _comment(line: str) -> str:
    """A comment line stays one line, whatever the server answered."""
    return line.replace("\r", " ").replace("\n", " ")


def _delimiter(word: str, text: str) -> str:
    """A here-document delimiter that no line of `text` equals."""
    while word in text.splitlines():
        word += "_"
    return word


class _Template:
    """Text from the run with the run's ids and tag cut out as variables, rendered for bash."""

    def __init__(self, text: str) -> None:
        self.parts: list[tuple[str, bool]] = [(text, False)]  # (text, is a variable name)

    @property
    def text(self) -> str:
        return "".join(part for part, _ in self.parts)

    @property
    def variables(self) -> set[str]:
        return {part for part, variable in self.parts if variable}

    def replace(self, forms: list[tuple[re.Pattern[str], str]]) -> None:
        for pattern, variable in forms:
            parts: list[tuple[str, bool]] = []
            for text, is_variable in self.parts:
                if is_variable:
                    parts.append((text, True))
                    continue
                pieces = pattern.split(text)
                for index, piece in enumerate(pieces):
                    parts += [(variable, True)] if index else []
                    parts.append((piece, False))
            self.parts = parts

    def render(self, quote_char: str) -> str:
        """Inside double quotes (`quote_char` `"`) or an unquoted here-document (`""`): literal text with
        `\\`, `$` and backquotes escaped (and the quote), variables expanded."""
        special = re.compile(r"([\\$`" + quote_char + "])")
        return "".join("${" + part + "}" if variable else special.sub(r"\\\1", part) for part, variable in self.parts)


_PRELUDE = (
    r"""
set -u -o pipefail
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "needs curl and python3" >&2; exit 2; }
: "${SCIM_TOKEN:?set SCIM_TOKEN to the bearer token}"
URL="${1:-${SCIM_URL:-$RUN_URL}}"
URL="${URL%/}"
TAG="scf$(python3 -c 'import secrets; print(secrets.token_hex(3))')"  # in place of $RUN_TAG in every value
WORK="$(mktemp -d)"
CREATED=() STILL=() UNJUDGED=()
printf 'Authorization: Bearer %s\n' "$SCIM_TOKEN" >"$WORK/auth"  # a file, so no process list shows it
chmod 600 "$WORK/auth"
IFS= read -r -d '' JUDGE <<'SCIM_JUDGE' || true
"""
    + inspect.getsource(repro_judge)
    + r"""SCIM_JUDGE

send() {  # send AUTH METHOD URL [CURL ARGUMENT…]: its status in STATUS, its answer in $WORK/answer
  local auth=()
  case $1 in
    token) auth=(-H "@$WORK/auth") ;;
    invalid) auth=(-H "Authorization: Bearer invalid-$TAG") ;;
  esac
  echo "    $2 $3"
  STATUS=$(curl -sS -g --max-time 60 -o "$WORK/answer" -w '%{http_code}' -X "$2" ${auth[@]+"${auth[@]}"} "${@:4}" "$3")
  STATUS=${STATUS:-000}
  echo "    → HTTP $STATUS"
}

ready() {  # ready TITLE [ID…]: announce a request; false when an id it needs was not created
  local id
  echo "==> $1"
  for id in "${@:2}"; do
    [[ -n ${!id:-} ]] || { echo "    not sent: it needs what an earlier request did not create"; return 1; }
  done
}

judge() {  # judge TITLE < EXPECTED: print the answer and judge it again against what the run expected
  head -c 4000 "$WORK/answer" 2>/dev/null; echo
  if python3 -c "$JUDGE" judge "$STATUS" "$WORK/answer"; then return 0; fi
  STILL+=("$1 → HTTP $STATUS")
}

created() {  # created COLLECTION_URL ID: what a POST created, to use its id and delete it at exit
  [[ $STATUS == 2* ]] || return 0
  local forms
  if ! forms=$(python3 -c "$JUDGE" id "$WORK/answer"); then
    echo "    it created something whose id the answer does not give: delete it by hand"
    return 0
  fi
  printf -v "$2" '%s' "${forms%%$'\n'*}"
  printf -v "$2_URL" '%s' "${forms#*$'\n'}"
  CREATED+=("$1/${forms#*$'\n'}")
}

cleanup() {  # delete what this script created, newest first, whatever happened
  local index
  ((${#CREATED[@]})) && echo "==> cleanup: delete what this script created"
  for ((index = ${#CREATED[@]} - 1; index >= 0; index--)); do
    send token DELETE "${CREATED[index]}"
  done
  CREATED=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "$CASE against $URL, tag $TAG"
"""
)

_VERDICT = r"""
cleanup
listed() { local joined; printf -v joined '%s; ' "$@"; echo "${joined%; }"; }
if ((${#STILL[@]})); then
  echo "REPRODUCED: $CASE — still failing: $(listed "${STILL[@]}")"
  exit 1
fi
if ((${#UNJUDGED[@]})); then
  echo "NOT JUDGED: $CASE — not sent: $(listed "${UNJUDGED[@]}")"
  exit 2
fi
echo "PASSES: $CASE — every request that failed in run $RUN_TAG holds now"
exit 0
"""

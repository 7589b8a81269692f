"""`scimconform record`: proxy one provisioning cycle, then write what it holds — `traffic.har` (redacted),
`recorded.yaml` (a case that replays it with fresh identities) and `unseen.md` (what the bundled cases never
send). Every file is made from the redacted HAR, so no secret the redactor hid can reach another. The case's
id is `--case-id`, or the first `ENTRA-REC-NNN` that neither a bundled case nor a case file in `--out` uses,
so that recordings can run side by side."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import yaml

from scimconform import idp
from scimconform.catalogue import load_case, load_catalogue
from scimconform.client import SHORTEST_LEARNT
from scimconform.errors import ConfigError
from scimconform.exchange import Exchange
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.profiles import load_profile
from scimconform.reporting.har import har_document, har_entry
from scimconform.reporting.results import write_json
from scimconform.settings import check_output_dir, has_credentials, url_problem
from scimconform.traffic.proxy import Listener, RawExchange, RecordingProxy, serve_until_interrupted
from scimconform.traffic.recording import read_har
from scimconform.traffic.redaction import RecordingRedactor
from scimconform.traffic.to_sequence import to_sequence
from scimconform.traffic.unseen import unseen, unseen_markdown, unseen_summary

_CASE_ID = re.compile(r"^id:\s*['\"]?([A-Z0-9-]+)", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class RecordOptions:
    listener: Listener
    upstream: str
    out: Path
    personal: tuple[str, ...] = ()
    profile: str = "entra-default"
    ca_bundle: Path | None = None
    case_id: str | None = None


def check_options(options: RecordOptions) -> None:
    """Everything the recording needs, checked before Entra's first request arrives."""
    if has_credentials(options.upstream):
        raise ConfigError("--upstream holds user:password@: give the endpoint's URL alone; Entra sends the token")
    if problem := url_problem(options.upstream):
        raise ConfigError(
            f"--upstream is not a usable URL: {problem}; give the endpoint's Tenant URL, e.g. https://api.example.com/scim/v2"
        )
    if urlsplit(options.upstream).query:
        raise ConfigError("--upstream carries a query: give the Tenant URL without flags such as ?aadOptscim062020")
    if (options.listener.certificate is None) != (options.listener.private_key is None):
        raise ConfigError("give --certificate and --private-key together, or neither (then the proxy speaks http)")
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise ConfigError(f"--ca-bundle {options.ca_bundle} is not a file: name a PEM file of CA certificates")
    load_profile(options.profile)
    check_output_dir(options.out, "--out")
    pattern = idp.provider().case_id
    if options.case_id is not None and not pattern.fullmatch(options.case_id):
        raise ConfigError(f"--case-id {options.case_id}: not an Entra case id ({pattern.pattern}), e.g. ENTRA-REC-002")
    if options.case_id in _used_case_ids(options.out):
        raise ConfigError(f"--case-id {options.case_id}: a bundled case or a case file in --out has it; choose another")


def _used_case_ids(out: Path) -> set[str]:
    """The ids of the bundled cases and of the case files in `out` (but recorded.yaml, which is rewritten)."""
    files = [path for path in out.glob("*.yaml") if path.name != "recorded.yaml"] if out.is_dir() else []
    found = {match for path in files for match in _CASE_ID.findall(path.read_text(encoding="utf-8", errors="replace"))}
    return found | {case.id for case in load_catalogue()}


def _case_id(options: RecordOptions) -> str:
    if options.case_id is not None:
        return options.case_id
    used = _used_case_ids(options.out)
    return next(case_id for n in range(1, 1000) if (case_id := f"ENTRA-REC-{n:03d}") not in used)


def run_record(options: RecordOptions, out: TextIO) -> None:
    """Proxy until Ctrl-C (or SIGTERM), then write the recording."""
    check_options(options)
    bundle = options.ca_bundle
    proxy = RecordingProxy(options.upstream, verify=ssl.create_default_context(cafile=str(bundle)) if bundle else True)
    try:
        with interrupts_as_keyboard_interrupt():
            serve_until_interrupted(
                proxy,
                options.listener,
                ready=lambda url: out.write(
                    f"scimconform record: point Entra's Tenant URL at {url}; forwarding to {options.upstream} "
                    "(Ctrl-C stops and writes the recording)\n"
                ),
            )
    finally:
        proxy.close()
    for line in write_recording(proxy.exchanges, options):
        out.write(f"scimconform record: {line}\n")


def write_recording(exchanges: list[RawExchange], options: RecordOptions) -> list[str]:
    """Write the three files; return what to tell the user."""
    redactor = RecordingRedactor(options.personal)
    for raw in exchanges:  # learn everything first: a secret met late may have passed earlier too
        redactor.learn(raw.request_headers, raw.request_body.decode("utf-8", "replace"), urlsplit(raw.url).query)
        redactor.learn(raw.response_headers, raw.response_text())
    har = options.out / "traffic.har"
    write_json(har, har_document([har_entry(_exchange(raw, redactor), raw.started) for raw in exchanges]))
    told = [f"{len(exchanges)} exchanges, secrets redacted: {har}"]
    recorded = read_har(har, "traffic.har")
    when = datetime.now(UTC).date().isoformat()
    upstream = urlsplit(options.upstream).netloc
    source = (
        f"The vendor's own Entra provisioning cycle, recorded by scimconform record in front of {upstream} on {when}"
    )
    case_id = _case_id(options)
    conversion = to_sequence(recorded, load_profile(options.profile), case_id=case_id, source=source)
    sequence = options.out / "recorded.yaml"
    if conversion.case is not None:
        header = [
            f"# {case_id}: {len(conversion.case['steps'])} requests of traffic.har, for profile {options.profile}.",
            f"# Run it with: scimconform run --sequence {sequence} --profile {options.profile} --url …",
            *(f"# left out: {' '.join(line.splitlines())}" for line in conversion.left_out),
        ]
        text = yaml.safe_dump(conversion.case, sort_keys=False, allow_unicode=True, width=120)
        sequence.write_text("\n".join(header) + "\n" + text, encoding="utf-8")
        load_case(sequence)  # what was written must load
        told.append(f"{len(conversion.case['steps'])} steps, {len(conversion.left_out)} left out: {sequence}")
    else:
        told.append("no request a case could replay: recorded.yaml not written")
    if redactor.short_personal:
        told.append(
            f"warning: {redactor.short_personal} personal values are shorter than {SHORTEST_LEARNT} characters: "
            "they are redacted where they stand whole (a JSON value, a query value, a quoted filter value), "
            "not inside other text"
        )
    found = unseen(recorded)
    (options.out / "unseen.md").write_text(unseen_markdown(found), encoding="utf-8")
    told.append(f"{unseen_summary(found)}: {options.out / 'unseen.md'}")
    return told


def _exchange(raw: RawExchange, redactor: RecordingRedactor) -> Exchange:
    """The exchange as the HAR writer takes it, every part redacted."""
    redact = redactor.redact
    body = raw.request_body.decode("utf-8", "replace")
    return Exchange(
        method=raw.method,
        url=redactor.url(raw.url),
        request_headers=redact.headers(_joined(raw.request_headers)),
        request_body=redactor.body(body) if raw.request_body else None,
        status=raw.status,
        response_headers=redact.headers(_joined(raw.response_headers)),
        response_body=redactor.body(raw.response_text()),
        elapsed_ms=raw.elapsed_ms,
        transport_error=redact(raw.error) if raw.error else None,
        redact=redact,
    )


def _joined(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers as one, their values joined (RFC 9110 §5.3)."""
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined

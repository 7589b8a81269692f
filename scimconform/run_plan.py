"""What every run settles before it touches the target, the same for `run`, `load` and `cleanup`: the
profile, the target (None: the embedded server), the seed and the run tag, and the preflight that decides
whether the target can be judged at all.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from scimconform.auth import TokenEndpointError
from scimconform.client import RETRY_STATUSES, RecordingClient
from scimconform.exchange import Exchange
from scimconform.identities import check_generators, new_run_tag
from scimconform.profiles import Profile, load_profile
from scimconform.reporting.results import RunRecord
from scimconform.settings import Settings
from scimconform.target import Target, configured_target


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    settings: Settings
    profile: Profile
    target: Target | None  # None: the embedded reference server, started when the run begins
    seed: int
    run_tag: str

    def record(self, dialects: tuple[str, ...]) -> RunRecord:
        """An empty record of this run, for the dialects it replays."""
        return RunRecord(
            target=self.target.base_url if self.target else "embedded",
            embedded=self.target is None,
            profile=self.profile.name,
            dialects=dialects,
            seed=self.seed,
            run_tag=self.run_tag,
            workers=self.settings.workers or 1,
        )


def plan_run(settings: Settings, run_tag: str | None = None) -> RunPlan:
    """Settle the run from its settings; a ConfigError names anything no run could use."""
    profile = load_profile(settings.profile)
    check_generators(profile)
    seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(10**6)
    return RunPlan(
        settings=settings,
        profile=profile,
        target=configured_target(settings),
        seed=seed,
        run_tag=run_tag or new_run_tag(),
    )


# Entra's Test Connection probe: a match query for a user that does not exist.
PROBE_QUERY = {"filter": 'userName eq "scimconform-preflight"'}
# Asked only when the probe got no SCIM answer: any of them answering like SCIM proves a SCIM service at this
# base path. The unfiltered list is for servers without discovery endpoints, which Entra never calls.
DISCOVERY: tuple[tuple[str, dict[str, str] | None], ...] = (
    ("/ServiceProviderConfig", None),
    ("/Schemas", None),
    ("/Users", {"count": "1"}),
)
SCIM_URN = "urn:ietf:params:scim:"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
EXCERPT_CHARS = 120
TENANT_URL_FIX = "check the Tenant URL: the base URL of /Users and /Groups, e.g. https://host/scim/v2"
_DNS_FAILURE = re.compile(r"Name or service not known|nodename nor servname|getaddrinfo|name resolution|Errno -[235]\b")


@dataclass(frozen=True, kw_only=True)
class TargetProblem:
    """Why a target cannot be judged: what is wrong, its likely cause and fix, and the exchange that showed it."""

    headline: str
    cause: str
    fix: str
    exchange: Exchange | None = None  # None: nothing reached the target

    def __str__(self) -> str:
        """The one line summary.json and the verdict carry."""
        return f"{self.headline}: {self.fix}"

    def block(self) -> str:
        """What the user reads instead of any case output: the request, the answer, the cause and the fix."""
        lines = [self.headline]
        if self.exchange is not None:
            lines += [f"  sent:   {self.exchange.method} {self.exchange.url}", f"  got:    {_answer(self.exchange)}"]
        return "\n".join([*lines, f"  cause:  {self.cause}", f"  fix:    {self.fix}"])


@dataclass(frozen=True, kw_only=True)
class Preflight:
    """The preflight's verdict on a target, with the client that asked and every exchange it sent: the run goes
    on with that client (so it fetches no second OAuth token) and reports the exchanges as its own."""

    client: RecordingClient
    problem: TargetProblem | None
    exchanges: list[Exchange]


def preflight(client: RecordingClient) -> Preflight:
    """Can this target be judged at all? `problem` is None when it can; decided before any case runs.

    Cannot be judged: no answer (refused, unresolvable, silent past the timeout, TLS or protocol failure), no
    OAuth token, the token refused (401/403), 429/503 past every retry, or no evidence of SCIM at this base
    path. Evidence is one successful answer in SCIM's shape (a ListResponse, or a body naming a SCIM schema)
    to the Test Connection probe or, when the probe got none, to /ServiceProviderConfig, /Schemas or an
    unfiltered /Users. One piece of evidence is enough, so a server with defects is still judged: one that
    answers the probe 404 with a SCIM Error (Entra's "filter zero match → 404" defect) but serves its
    configuration or its user list, or one without discovery endpoints whose probe works. A SCIM Error alone
    is no evidence: SCIM servers answer unknown paths with one too (the reference server does), so a wrong
    base path on a SCIM server looks just like it. A JSON 404 that is not SCIM, a web page, a redirect or a
    server error on every one of these requests means the URL, not the server's conformance, is what to fix.
    """
    exchanges: list[Exchange] = []
    client.listeners.append(exchanges.append)
    try:
        problem = _problem(client, exchanges)
    finally:
        client.listeners.remove(exchanges.append)
    return Preflight(client=client, problem=problem, exchanges=exchanges)


def _problem(client: RecordingClient, seen: list[Exchange]) -> TargetProblem | None:
    try:
        probe = client.send("GET", "/Users", PROBE_QUERY)
    except TokenEndpointError as exc:
        return TargetProblem(
            headline=str(exc),
            cause="without a token no SCIM request can be sent; Entra's Test Connection fails the same way",
            fix="check --oauth-token-url, --oauth-client-id, the secret in --oauth-secret-env and --oauth-auth-method",
            exchange=seen[-1] if seen else None,
        )
    if probe.transport_error:
        return _unreachable(client.target.base_url, probe)
    if probe.status in (401, 403):
        issued = "tokens from this token endpoint (audience, issuer or scopes)" if client.tokens else "this token"
        return TargetProblem(
            headline=f"the target refused the bearer token (HTTP {probe.status})",
            cause=f"the server does not accept {issued}",
            fix="give the token the server issued for Entra (--token-env, --token-file or the OAuth options)",
            exchange=probe,
        )
    if probe.status in RETRY_STATUSES:
        return TargetProblem(
            headline=f"the target keeps answering HTTP {probe.status} ({probe.attempt} attempts): not serving now",
            cause="the server is overloaded, rate-limiting or down for maintenance",
            fix="run again once it serves; against a rate limit, slow the run down with --rate",
            exchange=probe,
        )
    if speaks_scim(probe) or any(speaks_scim(answer) for answer in _discovery(client)):
        return None
    return _not_scim(client.target.base_url, probe)


def _discovery(client: RecordingClient) -> Iterator[Exchange]:
    """The discovery answers, one at a time; none after a request that got no answer, so a silent target
    costs one timeout, not four."""
    for path, query in DISCOVERY:
        try:
            answer = client.send("GET", path, query, retries=0)
        except TokenEndpointError:  # a renewal after a 401 failed: no more evidence to be had
            return
        yield answer
        if answer.transport_error:
            return


def speaks_scim(exchange: Exchange) -> bool:
    """A successful answer in SCIM's shape: a ListResponse (its schemas or its members, which some servers
    spell in another case), a body naming a SCIM schema, or /Schemas as a bare list of schemas."""
    if exchange.status is None or not 200 <= exchange.status < 300:
        return False
    try:
        body = exchange.json()
    except ValueError:
        return False
    if isinstance(body, list):
        return any(isinstance(item, dict) and str(item.get("id", "")).startswith(SCIM_URN) for item in body)
    if not isinstance(body, dict):
        return False
    members = {str(key).lower() for key in body} & {"totalresults", "resources"}
    return _names_scim_schema(body, ERROR_URN) or bool(members)


def _names_scim_schema(body: dict[str, object], *but: str) -> bool:
    schemas = body.get("schemas")
    return isinstance(schemas, list) and any(
        isinstance(uri, str) and uri.startswith(SCIM_URN) and uri not in but for uri in schemas
    )


def _not_scim(base: str, probe: Exchange) -> TargetProblem:
    """No evidence of SCIM at `base`: say what the probe's answer suggests instead."""
    shown = f"{base} does not look like a SCIM endpoint: GET /Users answered HTTP {probe.status}"
    try:
        body = probe.json()
    except ValueError:
        body = None
        kind = probe.header("content-type") or "no content type"
        headline = f"{shown} with {kind}, not JSON"
    else:
        headline = f"{shown} with JSON that is not SCIM"
    status = probe.status or 0
    if status >= 500:
        cause = "the server fails on this request and on every discovery request (its log says why)"
        fix = "make GET /Users?filter=... answer (Entra's Test Connection fails the same way), or " + TENANT_URL_FIX
    elif location := probe.header("location"):
        cause = f"the URL redirects to {location}, which Entra does not follow"
        fix = TENANT_URL_FIX
    elif isinstance(body, dict) and _names_scim_schema(body):
        headline = f"{shown} with a SCIM Error, and no SCIM answer at this base path"
        cause = "a SCIM server answers, but /Users, /ServiceProviderConfig and /Schemas are not at this path"
        fix = TENANT_URL_FIX + " (a segment such as /v2 missing or extra?)"
    else:
        cause = "something else answers at this path (a web page, another API, a gateway): nothing there spoke SCIM"
        fix = TENANT_URL_FIX
    return TargetProblem(headline=headline, cause=cause, fix=fix, exchange=probe)


def _unreachable(base: str, probe: Exchange) -> TargetProblem:
    error = probe.transport_error or "no answer"
    where = urlsplit(base).netloc
    if "(timeout)" in error:
        cause = "the server took the connection but sent no answer in time, or a firewall drops the packets"
        fix = "check that the server is up and sees the request; if it is only slow, raise --timeout"
    elif "certificate verification failed" in error:
        cause = "this machine does not trust the server's TLS certificate"
        fix = "give its CA with --ca-bundle (or SSL_CERT_FILE); Entra needs a publicly trusted certificate"
    elif _DNS_FAILURE.search(error):
        cause = f"the host name {urlsplit(base).hostname} does not resolve"
        fix = "check the host name in the Tenant URL"
    elif error.startswith("cannot connect"):
        cause = f"nothing accepts connections at {where}: the server is not running, or the port is wrong"
        fix = "check the host and port in the Tenant URL, and that the server is running"
    else:
        cause = "the connection broke before an answer: http:// to a TLS port (or the reverse), or a proxy in the way"
        fix = "check the scheme and port in the Tenant URL, and --proxy or HTTPS_PROXY"
    return TargetProblem(headline=f"target {base} unreachable: {error}", cause=cause, fix=fix, exchange=probe)


def _answer(exchange: Exchange) -> str:
    """`HTTP 404, application/json: {"error": "not found"}`: status, content type and the body's start."""
    if exchange.status is None:
        return f"no answer: {exchange.transport_error}"
    kind = exchange.header("content-type") or "no content type"
    body = " ".join(exchange.response_body.split())
    excerpt = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
    return f"HTTP {exchange.status}, {kind}" + (f": {excerpt}" if excerpt else ", no body")

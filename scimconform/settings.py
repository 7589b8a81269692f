"""One settings object for a run, from `scimconform.yaml`, the environment and the command line.

Precedence: command line over config file over defaults. The config file may use `${VAR}`
placeholders, replaced from the environment in the parsed values (not the raw text, where a `#` would start
a comment); a missing variable is an error naming file, line and variable. Secrets never live here as
literals: the token is read from the variable `token_env` names (or from `token_file`), the OAuth client
secret from the variable `oauth_secret_env` names.

Values are checked as they are read, before a run sends anything: a mistake found halfway through a
run is a traceback or a misleading verdict, found here it is one line naming the setting.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scimconform import idp
from scimconform.documents import parse_yaml, read_text
from scimconform.errors import ConfigError

DEFAULT_USERS = 12  # users of a provisioning cycle; a run with more runs the cycles "at scale"
REMOTE_WORKERS = 16  # cases at once against a target on another machine, unless --workers says otherwise

CONFIG_FILE_NAME = "scimconform.yaml"
DIALECT_NAMES = tuple(idp.provider().dialects)  # the provider says which dialects it speaks
# How Entra sends OAuth client credentials to the token endpoint: the "How credentials are sent" field
# (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Getting started").
OAUTH_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "both")
# The gallery bar, 25 requests per second per tenant (Microsoft Learn, "User provisioning requirements for
# Microsoft Entra App Gallery", § "SCIM API requirements"): the throughput case runs this long against a
# --url target, and only briefly against the embedded server so that a default run stays fast.
THROUGHPUT_SECONDS, EMBEDDED_THROUGHPUT_SECONDS = 10.0, 1.0
_RATE = re.compile(r"^\s*(\S+?)\s*(?:/\s*s)?\s*$")  # any number float() reads, then an optional /s
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A header name is an RFC 9110 §5.6.2 token; a value (and a bearer token) is visible ASCII, space and tab:
# CR or LF would end the header early, and the HTTP client encodes header values as ASCII.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Seeds are printed in reports that JavaScript reads; beyond 2**53 it would print a different number.
MAX_SEED = 2**53 - 1
# A token file holds one token; anything bigger is the wrong file.
_TOKEN_FILE_BYTES = 64 * 1024
# What each setting that is not free text accepts, for the error that names a bad value.
_EXPECTED = {
    "seed": f"a whole number from 0 to {MAX_SEED}",
    "users": "a whole number, at least 1",
    "workers": "a whole number of cases at once, at least 1",
    "timeout": "a number of seconds",
    "rate": "requests per second, e.g. 20 or 20/s",
    "throughput_seconds": "a number of seconds (0 skips the case)",
    "throughput_p95_ms": "a number of milliseconds",
    "insecure": "true or false",
    "headers": "a mapping of header names to values",
    "sequences": "a list of case files",
}


def _help(text: str) -> dict[str, str]:
    """A setting's one-line help, which the pytest plugin's `--scim-<name>` option shows."""
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a run needs to know before it touches the target: built once (by `load_settings`) and
    handed on. Each field is the settings file's key; the pytest plugin's option is `--scim-<key>` with
    dashes (`plugin_option`), so the three spellings are one."""

    url: str | None = field(
        default=None, metadata=_help("Tenant URL of the SCIM endpoint (default: the embedded reference server)")
    )
    token_env: str = field(default="SCIM_TOKEN", metadata=_help("environment variable holding the bearer token"))
    profile: str = field(
        default="entra-default", metadata=_help("attribute-mapping profile: a shipped name or a YAML file")
    )
    dialect: str = field(default="all", metadata=_help(f"{', '.join(DIALECT_NAMES)} or all"))
    seed: int | None = field(default=None, metadata=_help("seed for test identities, to repeat a run"))
    report_dir: Path = field(default_factory=lambda: Path("reports"), metadata=_help("where reports go"))
    timeout: float = field(default=30.0, metadata=_help("seconds to wait for each answer"))
    users: int = field(default=DEFAULT_USERS, metadata=_help("users in the provisioning-cycle cases"))
    token_file: Path | None = field(
        default=None, metadata=_help("file holding the bearer token (instead of the variable)")
    )
    headers: dict[str, str] = field(
        default_factory=dict,
        metadata=_help(
            "extra request header 'Name: value', repeatable; ${VAR} is read from the environment at run time"
        ),
    )
    oauth_token_url: str | None = field(
        default=None, metadata=_help("OAuth 2.0 token endpoint: use client credentials")
    )
    oauth_revocation_url: str | None = field(
        default=None, metadata=_help("RFC 7009 revocation endpoint (the revocation case needs it)")
    )
    oauth_client_id: str | None = field(default=None, metadata=_help("OAuth client identifier"))
    oauth_secret_env: str = field(
        default="SCIM_CLIENT_SECRET", metadata=_help("environment variable holding the client secret")
    )
    oauth_scopes: str = field(default="", metadata=_help("OAuth scopes, space-separated"))
    oauth_auth_method: str = field(
        default="client_secret_basic", metadata=_help("client_secret_basic, client_secret_post or both")
    )
    expired_token_env: str = field(
        default="SCIM_EXPIRED_TOKEN",
        metadata=_help("environment variable holding a token the target issued that has expired"),
    )
    ca_bundle: Path | None = field(default=None, metadata=_help("trust the CA certificates in this PEM file"))
    insecure: bool = field(default=False, metadata=_help("true: do not verify TLS certificates"))
    proxy: str | None = field(default=None, metadata=_help("HTTP(S) proxy URL"))
    rate: float | None = field(default=None, metadata=_help("send at most N requests per second, e.g. 20/s"))
    throughput_seconds: float | None = field(
        default=None,
        metadata=_help("how long the 25 requests/s case runs (default 10, 1 on the embedded server; 0 skips it)"),
    )
    throughput_p95_ms: float = field(
        default=2000.0, metadata=_help("p95 latency bound of the throughput case, in milliseconds")
    )
    # None: `scimconform run` sizes them from the Tenant URL (`workers.sized`): against a remote target most of a
    # run is waiting, which cases at once overlap (bench/results.md, "Latency"); on this machine they gain little.
    workers: int | None = field(
        default=None,
        metadata=_help(
            "cases run at once, in threads (engine/ahead.py), each with up to N of its users at once; under "
            "pytest-xdist (-n N --dist loadgroup), a case's users N at once in each worker process (N² in the steps "
            f"of a case that runs alone); 1 runs them one after another (default in scimconform run: {REMOTE_WORKERS} "
            "for a Tenant URL on another machine, 1 for one on this machine and the embedded server; under pytest: 1)"
        ),
    )
    sequences: tuple[Path, ...] = field(
        default=(),
        metadata=_help(
            "a case file (fixtures/sequences/README.md) to run besides the bundled cases, e.g. the recorded.yaml "
            "of scimconform record; repeatable"
        ),
    )

    @property
    def dialects(self) -> tuple[str, ...]:
        """The dialects to replay: one name, or all of them."""
        return DIALECT_NAMES if self.dialect == "all" else (self.dialect,)

    def token(self) -> str | None:
        """The bearer token, read from `token_file` or the environment at the moment it is needed."""
        if self.token_file is not None:
            where = f"token file {self.token_file}"
            token = read_text(self.token_file, where, _TOKEN_FILE_BYTES).strip()
        else:
            where, token = f"environment variable {self.token_env}", os.environ.get(self.token_env, "")
        if not _HEADER_VALUE.fullmatch(token):
            raise ConfigError(
                f"{where} holds a control or non-ASCII character: it must hold the bearer token alone, on one line"
            )
        return token or None

    def request_headers(self) -> dict[str, str]:
        """The extra headers with `${VAR}` replaced; a missing variable, or a value the environment filled
        with CR, LF or another character no header may hold, names the header."""
        return dict(
            checked_header(name, _substitute_env(value, f"header {name}")) for name, value in self.headers.items()
        )


# Settings given once per value on a command line (`--header A --header B`), each flag named in the singular.
REPEATED = {"headers": "header", "sequences": "sequence"}


def cli_flag(name: str) -> str:
    """The `scimconform` command's flag for a setting: `token_env` → `--token-env` (`headers` → `--header`)."""
    return "--" + REPEATED.get(name, name).replace("_", "-")


def plugin_option(name: str) -> str:
    """The pytest plugin's option for a setting: `token_env` → `--scim-token-env` (`headers` → `--scim-header`)."""
    return "--scim-" + cli_flag(name).removeprefix("--")


def settings_file(config_file: Path | None, default_file: bool = True) -> Path | None:
    """The settings file a run reads: the one given, else `scimconform.yaml` in the working directory when
    there is one (and `default_file`), else None."""
    if config_file is not None:
        return config_file
    default = Path(CONFIG_FILE_NAME)
    return default if default_file and default.is_file() else None


def load_settings(
    config_file: Path | None = None,
    *,
    default_file: bool = True,
    flag: Callable[[str], str] = cli_flag,
    **overrides: Any,
) -> Settings:
    """Merge the config file (explicit, or `scimconform.yaml` in the working directory unless `default_file`
    is False) with overrides, given on a command line whose option for a setting is `flag(name)`.

    Overrides whose value is None are ignored, so CLI options that were not given do not mask the file. An
    error says where a value came from, the way the user wrote it: `--users on the command line` (`--scim-users`
    to pytest), or the file's path and line, and the environment variable a `${VAR}` there was read from.
    """
    values: dict[str, Any] = {}
    written: dict[str, str] = {}
    if (path := settings_file(config_file, default_file)) is not None:
        from_file, origins = _read_config_file(path)
        values.update(_coerce(from_file, where=origins.__getitem__))
        written.update({name: f"{name} in {origins[name]}" for name in from_file})
    given = {k: v for k, v in overrides.items() if v is not None}

    def on_command_line(name: str) -> str:
        return f"{flag(name)} on the command line"

    values.update(_coerce(given, where=on_command_line))
    written.update({name: on_command_line(name) for name in given})
    return validate(replace(Settings(), **values), written)


def validate(settings: Settings, written: Mapping[str, str]) -> Settings:
    """Reject values no run could use; the message names the setting, where it was written (`written`: the
    option or file key that gave each setting that is not a default) and the accepted values."""

    def where(name: str) -> str:
        return f" ({written.get(name, name)})"

    if settings.dialect not in (*DIALECT_NAMES, "all"):
        raise ConfigError(f"unknown dialect {settings.dialect!r}: choose one of {', '.join(DIALECT_NAMES)} or all")
    if settings.seed is not None and not 0 <= settings.seed <= MAX_SEED:
        raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED}, not {settings.seed}{where('seed')}")
    if settings.users < 1:
        raise ConfigError(f"users must be at least 1, not {settings.users}{where('users')}")
    if settings.workers is not None and settings.workers < 1:
        raise ConfigError(
            f"workers must be at least 1, not {settings.workers}{where('workers')}: give 1 to run the cases one "
            "after another"
        )
    if not _positive(settings.timeout):
        raise ConfigError(f"timeout must be a positive number of seconds, not {settings.timeout:g}{where('timeout')}")
    if settings.oauth_auth_method not in OAUTH_AUTH_METHODS:
        raise ConfigError(
            f"unknown oauth_auth_method {settings.oauth_auth_method!r}: choose one of {', '.join(OAUTH_AUTH_METHODS)}"
        )
    if settings.oauth_token_url and not settings.oauth_client_id:
        raise ConfigError("oauth_token_url is set but oauth_client_id is not: give the client identifier too")
    if settings.oauth_revocation_url and not settings.oauth_token_url:
        raise ConfigError(
            "oauth_revocation_url is set but oauth_token_url is not: revocation is tested with OAuth client credentials"
        )
    if settings.rate is not None and not _positive(settings.rate):
        raise ConfigError(
            f"rate must be a positive number of requests per second, not {settings.rate:g}{where('rate')}"
        )
    if settings.throughput_seconds is not None and not (
        settings.throughput_seconds == 0 or _positive(settings.throughput_seconds)
    ):
        raise ConfigError(
            f"throughput_seconds must be 0 (skip the case) or more, not {settings.throughput_seconds:g}"
            + where("throughput_seconds")
        )
    if not _positive(settings.throughput_p95_ms):
        raise ConfigError(
            f"throughput_p95_ms must be a positive number, not {settings.throughput_p95_ms:g}"
            + where("throughput_p95_ms")
        )
    if settings.proxy is not None and (problem := url_problem(settings.proxy)):
        raise ConfigError(
            f"proxy{where('proxy')} is not a usable proxy URL: {problem}; give http://host:port or https://host:port"
        )
    return settings


def plugin_args(settings: Settings) -> list[str]:
    """The plugin options that give exactly these settings, for processes that cannot be handed the object
    (pytest-xdist workers, which receive them over pytest-xdist's channel, not a command line). A header
    given with `${VAR}` on the command line stays so, and is read where it is used; one from the settings
    file was expanded when the file was read."""
    args: list[str] = []
    default = Settings()
    for setting in fields(Settings):
        value = getattr(settings, setting.name)
        if value == getattr(default, setting.name):
            continue
        if setting.name == "headers":
            args += [f"{plugin_option('headers')}={name}: {text}" for name, text in value.items()]
        elif setting.name == "sequences":
            args += [f"{plugin_option('sequences')}={path}" for path in value]
        else:
            args.append(f"{plugin_option(setting.name)}={str(value).lower() if isinstance(value, bool) else value}")
    return args


def _positive(number: float) -> bool:
    """Above zero and finite: NaN compares false with everything, so `<= 0` alone lets it through."""
    return math.isfinite(number) and number > 0


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL a client could connect to, or None; never quotes the URL, which may
    carry a password."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it holds whitespace or a control character"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "its host is malformed"
    if not parts.scheme or not parts.netloc:
        return "it does not start with http:// or https://"
    if parts.scheme not in ("http", "https"):
        return f"the scheme is {parts.scheme!r}, not http or https"
    if not parts.hostname:
        return "it names no host"
    try:
        port = parts.port
    except ValueError:
        return "invalid port"
    return "invalid port" if port == 0 else None


def has_credentials(url: str) -> bool:
    """Whether `url` carries `user:password@` before its host, with or without a scheme."""
    rest = url.strip().split("://", 1)[-1]
    return "@" in re.split(r"[/?#]", rest, maxsplit=1)[0]


def check_output_dir(path: Path, option: str) -> None:
    """Refuse, before anything is sent, a folder the reports cannot go to: it is created, and a probe file
    written and removed, since permissions alone say nothing when running as root."""
    try:
        resolved = Path(os.path.realpath(path))
        if resolved == resolved.parent:
            raise ConfigError(f"{option} {path} is the root folder: name a folder for the reports, e.g. reports/")
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{option} {path} is a file: name a folder for the reports, e.g. reports/")
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".scimconform-probe-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{option} {path}: cannot write there ({reason}): name a folder you can write to") from None


def check_output_file(path: Path, option: str) -> None:
    """Refuse, before any work, a file that cannot be written: a folder, or a place where no file can be made.
    Its folder is created; the file is opened for appending (so left as it was), and removed if it is new."""
    try:
        if path.is_dir():
            raise ConfigError(f"{option} {path} is a folder: name a file")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
        if not existed:
            path.unlink()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{option} {path}: cannot write there ({reason}): name a file you can write") from None


def _read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The file's settings with `${VAR}` replaced in their parsed values (so a `#` or `: ` the environment
    holds stays part of the value), and where each was written: path and line, and the variable it came from."""
    data, tree = parse_yaml(read_text(path, f"config file {path}"), path)
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(tree, yaml.MappingNode):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    nodes = {key.value: value for key, value in tree.value}  # the last of a repeated key wins, as in `data`
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, raw in data.items():
        node = nodes.get(name, tree)
        variables: list[str] = []
        values[name] = _expanded(raw, node, path, variables)
        origins[name] = f"{path} line {node.start_mark.line + 1}" + "".join(
            f", environment variable {variable}" for variable in dict.fromkeys(variables)
        )
    return values, origins


def _expanded(value: Any, node: yaml.Node, path: Path, variables: list[str]) -> Any:
    """`value` with `${VAR}` replaced in every string it holds; `node` is its YAML node, for the line of an
    unset variable, and `variables` collects the names read."""
    if isinstance(value, str):
        variables += _PLACEHOLDER.findall(value)
        return _substitute_env(value, f"{path} line {node.start_mark.line + 1}")
    if isinstance(value, dict) and isinstance(node, yaml.MappingNode):
        nodes = {key.value: item for key, item in node.value}
        return {key: _expanded(item, nodes.get(key, node), path, variables) for key, item in value.items()}
    if isinstance(value, list) and isinstance(node, yaml.SequenceNode):
        return [_expanded(item, item_node, path, variables) for item, item_node in zip(value, node.value, strict=True)]
    return value


def _substitute_env(text: str, where: str) -> str:
    """Replace `${VAR}` with the environment's value; a missing variable is an error naming `where`, never ''."""
    for name in _PLACEHOLDER.findall(text):
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set: export it before the run")
    return _PLACEHOLDER.sub(lambda m: os.environ[m.group(1)], text)


def parse_rate(text: str) -> float:
    """`20/s`, `20` or `2e-05` → requests per second (finite and positive is `validate`'s to check)."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(text)
    return float(match.group(1))


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` → (Name, value), as curl's -H takes it; the text is not quoted back, it may be a secret."""
    name, colon, value = text.partition(":")
    if not colon:
        raise ConfigError("a --header is not of the form 'Name: value': it has no colon (its text is not shown)")
    return checked_header(name.strip(), value.strip())


def checked_header(name: str, value: str) -> tuple[str, str]:
    """(name, value) if a request can carry them as given; an error names the header, never shows the value."""
    if not _HEADER_NAME.fullmatch(name):
        raise ConfigError(
            f"header name {name!r} is not an HTTP token (RFC 9110): use letters, digits and !#$%&'*+-.^_`|~ only"
        )
    if not _HEADER_VALUE.fullmatch(value):
        raise ConfigError(
            f"header {name}: its value holds CR, LF, another control character or a non-ASCII character; "
            "a header value is printable ASCII (the value is not shown)"
        )
    return name, value


def _coerce(values: dict[str, Any], where: Callable[[str], str]) -> dict[str, Any]:
    """Values converted to the settings' types; `where(name)` is where a value was written, for the error."""
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where(unknown[0])}: unknown setting {unknown[0]!r}{hint}; known settings: {', '.join(known)}"
        )
    converted: dict[str, Any] = {}
    for name, raw in values.items():
        try:
            if name in ("seed", "users", "workers"):
                converted[name] = _integer(raw)
            elif name in ("timeout", "throughput_seconds", "throughput_p95_ms"):
                converted[name] = _number(raw)
            elif name == "rate":
                converted[name] = parse_rate(str(raw))
            elif name in ("report_dir", "token_file", "ca_bundle"):
                converted[name] = Path(str(raw))
            elif name == "sequences":
                converted[name] = tuple(Path(str(path)) for path in (raw if isinstance(raw, list) else [raw]))
            elif name == "insecure":
                converted[name] = _boolean(raw)
            elif name == "headers":
                converted[name] = _headers(raw)
            else:
                converted[name] = str(raw)
        except (TypeError, ValueError, OverflowError):  # OverflowError: float() of a 400-digit integer
            shown = "" if name == "headers" else f" {raw!r}"  # header values may be secrets
            expected = f": expected {_EXPECTED[name]}" if name in _EXPECTED else ""
            raise ConfigError(f"{where(name)}: setting {name!r} has an invalid value{shown}{expected}") from None
    return converted


def _integer(raw: Any) -> int:
    """A whole number; True, 2.5 and infinity are not one, though int() would take the first two."""
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    return int(raw)


def _number(raw: Any) -> float:
    """A number; range and finiteness are checked by `validate`, for command-line values too."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    return float(raw)


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "yes", "1"):
        return True
    if str(raw).lower() in ("false", "no", "0"):
        return False
    raise ValueError(raw)


def _headers(raw: Any) -> dict[str, str]:
    """A mapping (settings file) or a list of `Name: value` lines (command line)."""
    if isinstance(raw, dict):
        return dict(checked_header(str(k), str(v)) for k, v in raw.items())
    if isinstance(raw, list):
        return dict(parse_header(str(line)) for line in raw)
    raise ValueError(raw)

"""One settings object for a run, from `scimconform.yaml`, the environment and the command line.

Precedence: command line over config file over defaults. The config file may use `${VAR}`
placeholders, resolved from the environment; a missing variable is an error naming file, line and
variable. Secrets never live here as literals: the token is read from the variable `token_env` names
(or from `token_file`), the OAuth client secret from the variable `oauth_secret_env` names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from scimconform.errors import ConfigError

CONFIG_FILE_NAME = "scimconform.yaml"
DIALECT_NAMES = ("default", "aadOptscim062020", "tutorial")
# How Entra sends OAuth client credentials to the token endpoint (entra-wire §6.1, "How credentials are sent").
OAUTH_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "both")
# The gallery bar (entra-wire §8.2): the throughput case runs this long against a --url target, and
# only briefly against the embedded server so that a default run stays fast.
THROUGHPUT_SECONDS, EMBEDDED_THROUGHPUT_SECONDS = 10.0, 1.0
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know before it touches the target."""

    url: str | None = None
    token_env: str = "SCIM_TOKEN"
    profile: str = "entra-default"
    dialect: str = "all"
    seed: int | None = None
    report_dir: Path = field(default_factory=lambda: Path("reports"))
    timeout: float = 30.0
    users: int = 12
    token_file: Path | None = None
    # Extra request headers; a value may name `${VAR}`, read from the environment when the run starts.
    headers: dict[str, str] = field(default_factory=dict)
    oauth_token_url: str | None = None
    # The target's RFC 7009 revocation endpoint; without it the revocation case is skipped.
    oauth_revocation_url: str | None = None
    oauth_client_id: str | None = None
    oauth_secret_env: str = "SCIM_CLIENT_SECRET"
    oauth_scopes: str = ""
    oauth_auth_method: str = "client_secret_basic"
    # An access token the target issued that has expired or was revoked, for the expiry cases.
    expired_token_env: str = "SCIM_EXPIRED_TOKEN"
    ca_bundle: Path | None = None
    insecure: bool = False
    proxy: str | None = None
    rate: float | None = None  # requests per second, at most; None: as fast as the target answers
    throughput_seconds: float | None = None  # None: THROUGHPUT_SECONDS, or EMBEDDED_THROUGHPUT_SECONDS
    throughput_p95_ms: float = 2000.0

    @property
    def dialects(self) -> tuple[str, ...]:
        """The dialects to replay: one name, or all of them."""
        return DIALECT_NAMES if self.dialect == "all" else (self.dialect,)

    def token(self) -> str | None:
        """The bearer token, read from `token_file` or the environment at the moment it is needed."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigError(f"cannot read token file {self.token_file}: {exc.strerror or exc}") from None
        return os.environ.get(self.token_env) or None

    def request_headers(self) -> dict[str, str]:
        """The extra headers with `${VAR}` replaced; a missing variable names the header."""
        return {name: _substitute_env(value, Path(f"header {name}")) for name, value in self.headers.items()}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Merge the config file (explicit, or `scimconform.yaml` in the working directory) with overrides.

    Overrides whose value is None are ignored, so CLI options that were not given do not mask the file.
    """
    values: dict[str, Any] = {}
    path = config_file if config_file is not None else Path(CONFIG_FILE_NAME)
    if config_file is not None or path.is_file():
        values.update(_read_config_file(path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return validate(_coerce(values, source=str(path)))


def validate(settings: Settings) -> Settings:
    """Reject values no run could use; the message names the setting and the accepted values."""
    if settings.dialect not in (*DIALECT_NAMES, "all"):
        raise ConfigError(f"unknown dialect {settings.dialect!r}: choose one of {', '.join(DIALECT_NAMES)} or all")
    if settings.users < 1:
        raise ConfigError(f"users must be at least 1, not {settings.users}")
    if settings.timeout <= 0:
        raise ConfigError(f"timeout must be a positive number of seconds, not {settings.timeout}")
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
    if settings.rate is not None and settings.rate <= 0:
        raise ConfigError(f"rate must be a positive number of requests per second, not {settings.rate:g}")
    if settings.throughput_seconds is not None and settings.throughput_seconds < 0:
        raise ConfigError(f"throughput_seconds must be 0 (skip the case) or more, not {settings.throughput_seconds:g}")
    if settings.throughput_p95_ms <= 0:
        raise ConfigError(f"throughput_p95_ms must be a positive number, not {settings.throughput_p95_ms:g}")
    return settings


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(_substitute_env(text, path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    return data


def _substitute_env(text: str, path: Path) -> str:
    """Replace `${VAR}` with the environment's value; a missing variable is an error, never ''."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("#"):
            continue
        for name in _PLACEHOLDER.findall(line):
            if name not in os.environ:
                raise ConfigError(f"{path} line {number}: environment variable {name} is not set")
        lines[number - 1] = _PLACEHOLDER.sub(lambda m: os.environ[m.group(1)], line)
    return "".join(lines)


def parse_rate(text: str) -> float:
    """`20/s` or `20` → 20.0 requests per second."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(text)
    return float(match.group(1))


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` → (Name, value), as curl's -H takes it."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or " " in name.strip():
        raise ConfigError(f"header {text!r} is not of the form 'Name: value'")
    return name.strip(), value.strip()


def _coerce(values: dict[str, Any], source: str) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r}; known settings: {', '.join(known)}")
    settings = Settings()
    converted: dict[str, Any] = {}
    for name, raw in values.items():
        try:
            if name in ("seed", "users"):
                converted[name] = int(raw)
            elif name in ("timeout", "throughput_seconds", "throughput_p95_ms"):
                converted[name] = float(raw)
            elif name == "rate":
                converted[name] = parse_rate(str(raw))
            elif name in ("report_dir", "token_file", "ca_bundle"):
                converted[name] = Path(str(raw))
            elif name == "insecure":
                converted[name] = _boolean(raw)
            elif name == "headers":
                converted[name] = _headers(raw)
            else:
                converted[name] = str(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: setting {name!r} has an invalid value {raw!r}") from None
    return replace(settings, **converted)


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
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return dict(parse_header(str(line)) for line in raw)
    raise ValueError(raw)

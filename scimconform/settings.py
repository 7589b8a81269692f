"""One settings object for a run, from `scimconform.yaml`, the environment and the command line.

Precedence: command line over config file over defaults. The config file may use `${VAR}`
placeholders, resolved from the environment; a missing variable is an error naming file, line and
variable. Secrets never live here as literals: the token is read from the variable `token_env` names.
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

    @property
    def dialects(self) -> tuple[str, ...]:
        """The dialects to replay: one name, or all of them."""
        return DIALECT_NAMES if self.dialect == "all" else (self.dialect,)

    def token(self) -> str | None:
        """The bearer token, read from the environment at the moment it is needed."""
        return os.environ.get(self.token_env) or None


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
            elif name == "timeout":
                converted[name] = float(raw)
            elif name == "report_dir":
                converted[name] = Path(str(raw))
            else:
                converted[name] = str(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: setting {name!r} has an invalid value {raw!r}") from None
    return replace(settings, **converted)

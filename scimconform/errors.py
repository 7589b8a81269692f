"""Errors that end a run before any verdict: the user's input or the target's reachability.

Each carries one line meant for a human; the CLI prints it and exits 2, never a traceback.
"""


class HarnessError(Exception):
    """A problem that stops the harness from judging the target at all."""


class ConfigError(HarnessError):
    """Bad settings: a malformed URL, an unknown profile or dialect, a broken YAML file."""


class TargetError(HarnessError):
    """The target cannot be talked to: unreachable, refusing the token, not speaking JSON."""


class UnsafeIdError(ValueError):
    """An id from the target that no request path can carry (empty, `.` or `..`): a fault of the target."""


class CaseSkipped(Exception):
    """The case does not apply to this profile or target; the message says why."""


class PreconditionFailed(Exception):
    """The case could not be judged: a setup step failed, or the answers allow no verdict."""

"""Every exception the harness raises on purpose, in one tree under `ScimconformError`:

    ScimconformError
    ├── HarnessError            stops the run before any verdict; the CLI prints its one line, exit 2
    │   ├── ConfigError         the user's input: settings, files, options
    │   ├── TargetError         the target cannot be talked to (auth.TokenEndpointError is one)
    │   └── (reporting.html)    ReportToolMissing, ReportError: the HTML report cannot be built
    ├── CaseOutcome             how one case ends other than by passing
    │   ├── CaseSkipped         it did not run: the run's options or the target leave it out (it is not judged)
    │   │   └── NotApplicable       the profile maps nothing it is about (Entra would never send it)
    │   ├── PreconditionFailed  it could not be judged (a setup step failed, the answers allow no verdict)
    │   │   └── MissingDependency   a step needs what no earlier step could make (a failed create)
    │   └── (engine.outcomes)   ConformanceFailure: its rule is broken (also an AssertionError)
    ├── (checks)                CheckFailure: one check on one answer (also an AssertionError)
    ├── StepFailed              a step's failure is recorded: the rest of that step is skipped, the case goes on
    └── UnsafeIdError           an id from the target that no request path can carry (also a ValueError)

The reference server (`scimconform.server`) answers bad requests with SCIM errors rather than raising
through the harness; its own exceptions stay inside it. `exchange.NotJsonError` is a ValueError of its
own, because `exchange` imports nothing from the package.
"""


class ScimconformError(Exception):
    """The root: catch it to catch everything the harness raises on purpose."""


class HarnessError(ScimconformError):
    """A problem that stops the harness from judging the target at all."""


class ConfigError(HarnessError):
    """Bad settings: a malformed URL, an unknown profile or dialect, a broken YAML file."""


class TargetError(HarnessError):
    """The target cannot be talked to: unreachable, refusing the token, not speaking JSON."""


class UnsafeIdError(ScimconformError, ValueError):
    """An id from the target that no request path can carry (empty, `.` or `..`): a fault of the target."""


class CaseOutcome(ScimconformError):
    """One case ended other than by passing."""


class CaseSkipped(CaseOutcome):
    """The case did not run, for the reason and with the option to run it that the message gives: a run that
    skipped a blocking case cannot say the target is ready for the gallery."""


class NotApplicable(CaseSkipped):
    """The case is about attributes or resources the profile does not map, which Entra would never send."""


class PreconditionFailed(CaseOutcome):
    """The case could not be judged: a setup step failed, or the answers allow no verdict."""


class MissingDependency(PreconditionFailed):
    """A step refers to something an earlier step should have made and did not (an identity with no id): after
    a failed step that step is left out; with no failure to blame, the case cannot be judged."""


class StepFailed(ScimconformError):
    """One step of a case failed and its failure is recorded; the case goes on with the steps after it."""

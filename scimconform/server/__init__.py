"""The reference SCIM 2.0 server: in-memory, compliant by default, with named faults to break single rules.

A separate product inside scimconform: nothing here imports from outside `scimconform.server`.
"""

from .app import DEFAULT_TOKEN, ReferenceServer
from .faults import FAULTS, UnknownFaultError
from .oauth import REVOCATION_PATH, TOKEN_PATH
from .serving import ListenError, TlsFiles, serve_forever, serve_in_thread

__all__ = [
    "DEFAULT_TOKEN",
    "FAULTS",
    "REVOCATION_PATH",
    "TOKEN_PATH",
    "ListenError",
    "ReferenceServer",
    "TlsFiles",
    "UnknownFaultError",
    "serve_forever",
    "serve_in_thread",
]

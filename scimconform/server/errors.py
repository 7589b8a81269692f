"""The one exception type the server's layers raise for anything the client must be told about."""

from __future__ import annotations


class ScimError(Exception):
    """A failure answered as an RFC 7644 §3.12 Error body; `scim_type` is the §3.12 keyword, if any."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

"""scimconform: replay Microsoft Entra ID's SCIM provisioning traffic against any SCIM server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scimconform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

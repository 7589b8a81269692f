"""Where the data rooms (suites, schemas, fixtures) live, in a source tree or inside the wheel."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory `name` ("suites", "schemas" or "fixtures").

    A wheel carries them under `scimconform/_data/`; a source checkout (editable install) keeps
    them at the top of the repository, beside the package.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"scimconform data directory {name!r} is missing from this installation")

"""Repository-level pytest configuration for the harness's own tests.

The conformance suites in `suites/` carry their own `pytest.ini`; the scimconform plugin is
registered through the `pytest11` entry point, so nothing here is needed to run them.
"""

import os
import tempfile

import pytest

pytest_plugins = ["pytester"]
collect_ignore = ["reports", "bench", "fixtures", "schemas", "suites"]
RAM_DISK = "/dev/shm"
RAM_DISK_NEEDS = 2 << 30  # a full run's reports are about 16 MB; a container's default /dev/shm is 64 MB


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The tests' temporary files in memory where Linux offers it: every run a test makes writes thousands of
    small Allure result files, and on a VM's disk creating each costs ten times as much. xdist workers
    inherit TMPDIR and take their folders under the controller's; a passed test's folder is removed at the end
    (tmp_path_retention_policy)."""
    if config.option.basetemp is None and "TMPDIR" not in os.environ and _room(RAM_DISK) >= RAM_DISK_NEEDS:
        os.environ["TMPDIR"] = RAM_DISK
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def _room(folder: str) -> int:
    """Bytes free in `folder` for this user, 0 when it is missing or not writable."""
    if not os.access(folder, os.W_OK):
        return 0
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (real servers, then whole runs), so the session ends on short ones instead of one
    worker finishing a long test while the other waits. pytest-xdist hands the first worker a block of them;
    `--dist worksteal` (pyproject.toml) lets the other take half of what waits there once it runs out."""
    items.sort(
        key=lambda item: 0 if item.get_closest_marker("thirdparty") else 1 if item.get_closest_marker("slow") else 2
    )

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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The tests' temporary files in memory where Linux offers it: every run a test makes writes thousands of
    small Allure result files, and on a VM's disk creating each costs ten times as much. xdist workers
    inherit TMPDIR and take their folders under the controller's."""
    if config.option.basetemp is None and "TMPDIR" not in os.environ and os.access(RAM_DISK, os.W_OK):
        os.environ["TMPDIR"] = RAM_DISK
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again

"""Repository-level pytest configuration for the harness's own tests.

The conformance suites in `suites/` carry their own `pytest.ini`; the scimconform plugin is
registered through the `pytest11` entry point, so nothing here is needed to run them.
"""

pytest_plugins = ["pytester"]
collect_ignore = ["reports", "bench", "fixtures", "schemas", "suites"]

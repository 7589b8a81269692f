"""The reference server checked by scim2-tester (PyPI), timed like `scimconform run`, with its check count.

Run: python -m bench.scim2_tester [--repeat 5]. scim2-tester is installed at first use into its own
venv under $TMPDIR (never into scimconform's dependencies) and run as a library: its check_server()
through scim2-client's httpx2 engine, timed from outside the whole process, counting the requests it sends.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.servers import TOKEN, reference_server

VENV = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "scimconform-bench-scim2-tester"
RUNNER = """
import collections, json, sys
import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
sent = []
http = httpx2.Client(
    base_url=sys.argv[1],
    headers={"Authorization": "Bearer " + sys.argv[2]},
    event_hooks={"request": [sent.append]},
)
client = SyncSCIMClient(http)
client.discover()
results = check_server(client)
statuses = collections.Counter(r.status.name for r in results)
print(json.dumps({"checks": len(results), "statuses": statuses, "requests": len(sent)}))
"""


def python() -> Path:
    """The venv's interpreter, with scim2-tester installed the first time."""
    interpreter = VENV / "bin" / "python"
    if not interpreter.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(interpreter), "-m", "pip", "install", "-q", "scim2-tester[httpx2]"], check=True)
    return interpreter


def version() -> str:
    command = [str(python()), "-c", "import importlib.metadata as m; print(m.version('scim2-tester'))"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def one_run(url: str) -> tuple[float, dict[str, object]]:
    """Wall seconds of one whole scim2-tester process, and what it reported."""
    started = time.perf_counter()
    done = subprocess.run([str(python()), "-c", RUNNER, url, TOKEN], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    outcome: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return elapsed, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with reference_server() as url:
        runs = [one_run(url) for _ in range(args.repeat)]
    wall = statistics.median(r[0] for r in runs)
    print(f"scim2-tester {version()}: {runs[-1][1]} median {wall:.2f} s over {args.repeat} runs")


if __name__ == "__main__":
    main()

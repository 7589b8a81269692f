"""The load workload in Locust's distributed mode: one master and two workers on loopback provision
tenants on one reference server; every answer and every end state is as expected, nothing is left."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import scimconform.load
from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import TOKEN

# A path, not an import: importing locust would monkey-patch this pytest process with gevent.
LOCUSTFILE = Path(scimconform.load.__file__).parent / "locustfile.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_master_and_two_workers_against_the_reference_server(tmp_path: Path) -> None:
    app = ReferenceServer(token=TOKEN)
    port = str(free_port())
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    environment = {**os.environ, "SCIM_TOKEN": TOKEN, "SCIMCONFORM_LOAD_USERS": "12"}
    with serve_in_thread(app) as url:
        workers = [
            subprocess.Popen(
                [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                env=environment,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            master = subprocess.run(
                [
                    *locust,
                    "--master",
                    "--headless",
                    "--master-bind-host=127.0.0.1",
                    f"--master-bind-port={port}",
                    "--expect-workers=2",
                    "--users=4",
                    "--spawn-rate=4",
                    "--run-time=12s",
                    "--stop-timeout=30",
                    f"--host={url}",
                    "--json",
                    "--only-summary",
                ],
                env=environment,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=50,
            )
            codes = [worker.wait(timeout=40) for worker in workers]
        finally:
            for worker in workers:
                worker.kill()
        counts = app.resource_count()
    assert master.returncode == 0, master.stderr[-2000:]
    assert codes == [0, 0]
    stats = {(entry["method"], entry["name"]): entry for entry in json.loads(master.stdout)}
    assert sum(entry["num_failures"] for entry in stats.values()) == 0
    assert stats["CHECK", "end state"]["num_requests"] >= 2, "each of the four users checks its tenant's end state"
    assert stats["POST", "create-user"]["num_requests"] >= 24
    assert counts == {"User": 0, "Group": 0}, "every tenant cleaned up before its worker stopped"

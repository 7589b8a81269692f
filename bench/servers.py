"""Loopback servers the benchmarks measure against, each in its own process (its own core and GIL)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN = "bench-token-8c1f"


@contextmanager
def reference_server() -> Iterator[str]:
    """`scimconform serve` on a free loopback port; yields its Tenant URL once it is bound."""
    command = [sys.executable, "-m", "scimconform.cli", "serve", "--port", "0", "--token", TOKEN]
    with _process(command) as line:
        yield line.split(" on ", 1)[1].split(" ", 1)[0]


@contextmanager
def fast_server() -> Iterator[str]:
    """bench/fast_server.py: canned answers over keep-alive, the fastest loopback endpoint Python offers."""
    with _process([sys.executable, "-m", "bench.fast_server"]) as line:
        yield line.strip()


@contextmanager
def _process(command: list[str]) -> Iterator[str]:
    """Start a server, yield the first line it prints (where it listens), stop it on exit."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)

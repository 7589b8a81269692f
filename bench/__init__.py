"""Benchmarks (never timed tests): `python -m bench` runs them all and writes bench/results.md."""

from __future__ import annotations

import argparse
import os
import platform
import re
from collections.abc import Callable
from pathlib import Path


def host() -> str:
    """The machine a figure was measured on, as bench/results.md notes it."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (
        f"{os.cpu_count()} cores ({cpu[1] if cpu else platform.machine()}), {memory:.0f} GiB, "
        f"{platform.system()} {platform.release()}"
    )


def print_lines(description: str, lines: Callable[[int], list[str]], repeat: int = 3) -> None:
    """A benchmark module's command line: `--repeat N`, then its table printed."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=repeat)
    print("\n".join(lines(parser.parse_args().repeat)))

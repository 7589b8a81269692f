"""Latency and error tallies of a load run: per operation, merged from every worker thread.

Each worker keeps its own `Stats`, so recording takes no lock; the runner merges them at the end.
Percentiles are nearest-rank over every sample (a load run keeps at most a few hundred thousand).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scimconform.exchange import Exchange


def percentile(ordered: list[float], rank: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(math.ceil(rank / 100 * len(ordered)) - 1, 0)]


def status_key(exchange: Exchange) -> str:
    """How errors are counted: the HTTP status, or `transport` when no answer came."""
    return str(exchange.status) if exchange.status is not None else "transport"


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    op_errors: Counter[str] = field(default_factory=Counter)

    def record(self, op: str, exchange: Exchange, expected: bool) -> None:
        self.latencies.setdefault(op, []).append(exchange.elapsed_ms)
        if not expected:
            self.errors[status_key(exchange)] += 1
            self.op_errors[op] += 1

    def merge(self, other: Stats) -> None:
        for op, samples in other.latencies.items():
            self.latencies.setdefault(op, []).extend(samples)
        self.errors.update(other.errors)
        self.op_errors.update(other.op_errors)

    @property
    def requests(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())

    def operations(self) -> dict[str, dict[str, Any]]:
        """Per operation: count, errors and p50/p95/p99 latency in milliseconds."""
        table: dict[str, dict[str, Any]] = {}
        for op, samples in self.latencies.items():
            ordered = sorted(samples)
            table[op] = {"count": len(ordered), "errors": self.op_errors[op]} | {
                f"p{rank}_ms": round(percentile(ordered, rank), 2) for rank in (50, 95, 99)
            }
        return table

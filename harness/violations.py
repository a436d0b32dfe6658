"""What the checker reports: violations (with the operations around them) and the result."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.history import Op


@dataclass(frozen=True, slots=True)
class Violation:
    anomaly: str
    message: str
    ops: tuple[Op, ...] = ()
    count: int = 1
    """How many anomalies this one report stands for (a torn final file loses them all)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "anomaly": self.anomaly,
            "message": self.message,
            "count": self.count,
            "ops": [describe(op) for op in self.ops],
        }


@dataclass(slots=True)
class CheckResult:
    checked: list[str]
    violations: list[Violation] = field(default_factory=list)

    def count(self, anomaly: str) -> int:
        return sum(v.count for v in self.violations if v.anomaly == anomaly)

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for violation in self.violations:
            counts[violation.anomaly] += violation.count
        return dict(counts)

    @property
    def ok(self) -> bool:
        return not self.violations


def describe(op: Op) -> dict[str, Any]:
    """A compact view of an op for reports: enough context to see what happened when."""
    data: dict[str, Any] = {"id": op.id, "kind": op.kind, "outcome": op.outcome}
    for name in ("channel", "instance", "key", "value", "revision", "phase", "error"):
        value = getattr(op, name)
        if value not in (None, ""):
            data[name] = value
    data["start_ms"] = round(op.start / 1e6, 3)
    data["end_ms"] = None if op.end is None else round(op.end / 1e6, 3)
    if op.info:
        data["info"] = op.info
    return data

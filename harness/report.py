"""Verdicts: one row per (scenario, target), the table, the JSON, and the exit code.

A `safe` row passes when taskmaster held every invariant the scenario checks; a `baseline`
row passes when the checker found the scenario's expected anomaly in the naive stack's
history ("reproduced"): a check that cannot fail there proves nothing. A row the machine
could not run (no redis-server) is "skipped", with the reason, and does not fail the run
(TM_REQUIRE_REDIS=1 turns that into an error). The run exits 0 only when every row passes.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checker import CheckResult, Violation, check, meta_of
from harness.history import INFO, OK, READ, WRITE, Op, read_history
from harness.targets import BASELINE, SAFE

HOLDS = "holds"
VIOLATED = "VIOLATED"
REPRODUCED = "reproduced"
NOT_REPRODUCED = "NOT reproduced"
ERROR = "ERROR"
SKIPPED = "skipped"
SHOWN_VIOLATIONS = 5


@dataclass
class Row:
    scenario: str
    target: str
    checked: list[str]
    expected: str
    figures: dict[str, Any]
    verdict: str
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    folder: str | None = None
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        if self.verdict == SKIPPED:
            return True
        return self.verdict == (HOLDS if self.target == SAFE else REPRODUCED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.target,
            "checked": self.checked,
            "baseline_expected": self.expected,
            "figures": self.figures,
            "verdict": self.verdict,
            "passed": self.passed,
            "violations": [v.to_dict() for v in self.violations[:SHOWN_VIOLATIONS]],
            "notes": self.notes,
            "error": self.error,
            "skipped": self.skipped,
            "folder": self.folder,
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[int(q) - 1], 2)


def figures(ops: list[Op], result: CheckResult, meta: dict[str, Any]) -> dict[str, Any]:
    writes = [op for op in ops if op.kind == WRITE]
    reads = [op for op in ops if op.kind == READ]
    write_ms = [op.latency_ms for op in writes if op.outcome == OK and op.latency_ms is not None]
    read_ms = [op.latency_ms for op in reads if op.outcome == OK and op.latency_ms is not None]
    counts = result.counts
    return {
        "ops": len(writes) + len(reads),
        "writes": {
            "ok": sum(op.outcome == OK for op in writes),
            "failed": sum(op.outcome not in (OK, INFO) for op in writes),
            "unknown": sum(op.outcome == INFO for op in writes),
        },
        "reads": {"ok": sum(op.outcome == OK for op in reads), "failed": len(reads) - len(read_ms)},
        "lost_updates": counts.get("lost-update", 0),
        "stale_reads": counts.get("stale-read", 0),
        "torn_files": counts.get("torn-file", 0),
        "anomalies": counts,
        "write_ms": {"p50": _percentile(write_ms, 50), "p99": _percentile(write_ms, 99)},
        "read_ms": {"p50": _percentile(read_ms, 50), "p99": _percentile(read_ms, 99)},
        # supervised processes, plus one `tm` (or naive CLI) process per CLI operation
        "processes": (meta.get("processes") or 0)
        + sum(
            op.channel == "cli" and "exit" in op.info and "probed" not in op.info for op in writes
        ),
        "duration_s": meta.get("duration_s"),
    }


def evaluate(folder: Path | str) -> Row:
    """Check the history recorded in a target's folder: the same function for `run` and
    `replay`, so a replay reaches the same verdict from the same history."""
    ops = read_history(folder)
    meta = meta_of(ops)
    if not meta:
        raise ValueError(f"{folder}: no meta record; not a harness run folder")
    result = check(ops, meta.get("invariants"), meta)
    target = meta["target"]
    expected = meta.get("baseline_expected", "")
    error = meta.get("error")
    skipped = meta.get("skipped")
    if error:
        verdict = ERROR
    elif skipped:
        verdict = SKIPPED
    elif target == BASELINE:
        verdict = REPRODUCED if result.count(expected) else NOT_REPRODUCED
    else:
        verdict = HOLDS if result.ok else VIOLATED
    violations = result.violations
    if target == BASELINE:
        # The expected anomaly first: it is the one the row is about.
        violations = sorted(violations, key=lambda v: v.anomaly != expected)
    return Row(
        scenario=meta["scenario"],
        target=target,
        checked=list(result.checked),
        expected=expected,
        figures=figures(ops, result, meta),
        verdict=verdict,
        violations=violations,
        notes=list(meta.get("notes") or []),
        error=error,
        folder=str(folder),
        skipped=skipped,
    )


def exit_code(rows: Iterable[Row]) -> int:
    rows = list(rows)
    return 0 if rows and all(row.passed for row in rows) else 1


# rendering -------------------------------------------------------------------------------------


def _ms(pair: dict[str, Any]) -> str:
    p50, p99 = pair.get("p50"), pair.get("p99")
    if p50 is None:
        return "-"
    return f"{p50:g}/{p99:g}"


def _verdict_text(row: Row) -> str:
    if row.target == BASELINE and row.verdict == REPRODUCED:
        return f"{REPRODUCED} ({row.expected} x{row.figures['anomalies'].get(row.expected, 0)})"
    if row.verdict == NOT_REPRODUCED:
        return f"{NOT_REPRODUCED} (no {row.expected})"
    if row.verdict == VIOLATED:
        kinds = ", ".join(f"{k} x{v}" for k, v in row.figures["anomalies"].items())
        return f"{VIOLATED} ({kinds})"
    if row.verdict == ERROR:
        return f"{ERROR}: {row.error}"
    if row.verdict == SKIPPED:
        return f"{SKIPPED}: {row.skipped}"
    return row.verdict


def _other(row: Row) -> str:
    main = ("lost-update", "stale-read", "torn-file")
    others = {
        k: v for k, v in row.figures["anomalies"].items() if k not in main and k != row.expected
    }
    return ", ".join(f"{k} {v}" for k, v in others.items())


NAME_WIDTH = 26  # the longest scenario name ("mixed-frontends-postgres") and a gap

HEADER = (
    f"{'scenario':<{NAME_WIDTH}}{'target':<10}{'ops':>6}{'lost':>6}{'stale':>7}{'torn':>6}  "
    f"{'write ms p50/p99':<18}{'read ms p50/p99':<17}{'verdict':<40}other anomalies"
)


def table(rows: list[Row]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    last = None
    for row in rows:
        f = row.figures
        if row.scenario != last and last is not None:
            lines.append("")
        name = row.scenario if row.scenario != last else ""
        last = row.scenario
        lines.append(
            f"{name:<{NAME_WIDTH}}{row.target:<10}{f['ops']:>6}{f['lost_updates']:>6}"
            f"{f['stale_reads']:>7}{f['torn_files']:>6}  {_ms(f['write_ms']):<18}"
            f"{_ms(f['read_ms']):<17}{_verdict_text(row):<40}{_other(row)}".rstrip()
        )
        if row is _last_of(rows, row.scenario):
            lines.append(f"{'':<{NAME_WIDTH}}checked: {', '.join(row.checked)}")
            for other in rows:
                if other.scenario == row.scenario:
                    lines.extend(
                        f"{'':<{NAME_WIDTH}}{other.target}: {note}" for note in other.notes
                    )
    return "\n".join(lines)


LEGEND = """\
How to read this table:
  target    baseline: a deliberately naive task store (no lock, a cache nothing invalidates),
            run only to prove each check can fail: "reproduced" there is the expected outcome.
            safe: Task Master Pro under the same seed and load: "holds" means no check failed.
  ops       operations recorded (reads and writes, over the CLI, the REST API and the library)
  lost      acknowledged writes missing from the file at the end (lost updates)
  stale     reads that answered older data than a write acknowledged before the read began
  torn      times the task file did not parse when read (a half-written file)
  ms        how long the writes and reads took: median / 99th percentile, in milliseconds
  checked   the invariants checked on both targets; the indented lines show what happened
  other anomalies  further problems the checker found (e.g. not-converged: a server still
            answered old data after everything settled)"""


def _last_of(rows: list[Row], scenario: str) -> Row:
    return [row for row in rows if row.scenario == scenario][-1]


def failures(rows: list[Row]) -> str:
    """The first violations of each failing row, with the operations around them."""
    lines = []
    for row in rows:
        if row.passed:
            continue
        lines.append(f"\n{row.scenario}/{row.target}: {_verdict_text(row)}")
        if row.verdict == NOT_REPRODUCED:
            seen = ", ".join(f"{k} x{v}" for k, v in row.figures["anomalies"].items()) or "none"
            lines.append(
                f"  the baseline showed no {row.expected}: this run's check proved nothing "
                f"(anomalies seen: {seen})"
            )
            continue
        for violation in row.violations[:SHOWN_VIOLATIONS]:
            lines.append(f"  - {violation.anomaly}: {violation.message}")
            for op in violation.to_dict()["ops"]:
                lines.append(f"      {json.dumps(op, default=str)[:300]}")
        if row.folder:
            lines.append(f"  history: {row.folder}/history")
    return "\n".join(lines)


def as_json(rows: list[Row], **extra: Any) -> str:
    data = {
        "ok": exit_code(rows) == 0,
        "exit_code": exit_code(rows),
        **extra,
        "rows": [row.to_dict() for row in rows],
    }
    return json.dumps(data, indent=2, default=str)

"""`python -m benchmarks gate [RESULTS.json]`: check results against `gates.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATES_FILE = Path(__file__).with_name("gates.toml")


@dataclass(frozen=True)
class Verdict:
    gate: str
    passed: bool
    detail: str


def load_gates(path: Path = GATES_FILE) -> list[dict[str, Any]]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)["gate"]


def _within(value: float, gate: dict[str, Any]) -> bool:
    if "max" in gate and value > gate["max"]:
        return False
    return not ("min" in gate and value < gate["min"])


def _bounds(gate: dict[str, Any]) -> str:
    parts = []
    if "min" in gate:
        parts.append(f">= {gate['min']:g}")
    if "max" in gate:
        parts.append(f"<= {gate['max']:g}")
    return " and ".join(parts)


def check(results: list[dict[str, Any]], gates: list[dict[str, Any]]) -> list[Verdict]:
    verdicts = []
    for gate in gates:
        rows = [
            row
            for row in results
            if row.get("benchmark") == gate["benchmark"]
            and str(row.get("case", "")).startswith(gate["case"])
            and isinstance(row.get(gate["figure"]), int | float)
        ]
        figure = gate["figure"]
        if not rows:
            verdicts.append(Verdict(gate["name"], False, f"no result has {figure}: not measured"))
            continue
        if gate.get("aggregate") == "sum":
            total = sum(row[figure] for row in rows)
            detail = f"sum of {figure} over {len(rows)} rows = {total:g} ({_bounds(gate)})"
            verdicts.append(Verdict(gate["name"], _within(total, gate), detail))
            continue
        failing = [row for row in rows if not _within(row[figure], gate)]
        shown = ", ".join(f"{row['case']}: {row[figure]:g}" for row in (failing or rows)[:4])
        detail = f"{figure} {_bounds(gate)}; " + ("failing " if failing else "") + shown
        verdicts.append(Verdict(gate["name"], not failing, detail))
    return verdicts

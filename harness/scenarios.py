"""Scenario files (`scenarios/*.toml`) and running one scenario against one target.

A scenario file declares: `name`, `order`, `kind` (which runner function interprets it),
`summary`, `invariants` (checker names), `baseline_expected` (the anomaly the naive stack must
show), `[actors]`, and the runner's parameters (`[forced]`, `[storm]`, `[[steps]]`...). A
`[quick]` table holds overrides merged in for `--quick`. The runner reads everything it does
from these parameters: the file really drives what runs.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checker import ANOMALIES, INVARIANTS

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
_RESERVED = {"name", "order", "kind", "summary", "invariants", "baseline_expected", "quick"}


class ScenarioError(ValueError):
    """A scenario file that cannot be run as written."""


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str
    summary: str
    invariants: tuple[str, ...]
    baseline_expected: str
    params: dict[str, Any]
    actors: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    path: Path | None = None

    def param(self, *names: str, default: Any = None) -> Any:
        value: Any = self.params
        for name in names:
            if not isinstance(value, dict) or name not in value:
                return default
            value = value[name]
        return value


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def override(params: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """Set `name` wherever the parameters have it (any table depth): `--writers 8` sets every
    `writers` of the scenario."""
    out: dict[str, Any] = {}
    for key, current in params.items():
        if key == name and not isinstance(current, dict):
            out[key] = value
        elif isinstance(current, dict):
            out[key] = override(current, name, value)
        else:
            out[key] = current
    return out


def load(path: Path, *, quick: bool = False, overrides: dict[str, Any] | None = None) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: {err}") from None
    for key in ("name", "kind", "invariants", "baseline_expected"):
        if key not in data:
            raise ScenarioError(f"{path}: missing `{key}`")
    unknown = [name for name in data["invariants"] if name not in INVARIANTS]
    if unknown:
        raise ScenarioError(f"{path}: unknown invariant(s) {', '.join(unknown)}")
    if data["baseline_expected"] not in ANOMALIES:
        raise ScenarioError(
            f"{path}: baseline_expected {data['baseline_expected']!r} is not an anomaly the "
            f"checker reports ({', '.join(ANOMALIES)})"
        )
    from harness.runners import RUNNERS

    if data["kind"] not in RUNNERS:
        raise ScenarioError(f"{path}: no runner for kind {data['kind']!r}")
    params = {k: v for k, v in data.items() if k not in _RESERVED and k != "actors"}
    if quick:
        params = merge(params, data.get("quick", {}))
    for name, value in (overrides or {}).items():
        if value is not None:
            params = override(params, name, value)
    return Scenario(
        name=data["name"],
        kind=data["kind"],
        summary=data.get("summary", ""),
        invariants=tuple(data["invariants"]),
        baseline_expected=data["baseline_expected"],
        params=params,
        actors=data.get("actors", {}),
        order=int(data.get("order", 100)),
        path=path,
    )


def load_all(
    directory: Path = SCENARIO_DIR,
    *,
    quick: bool = False,
    overrides: dict[str, Any] | None = None,
) -> list[Scenario]:
    scenarios = [
        load(path, quick=quick, overrides=overrides) for path in sorted(directory.glob("*.toml"))
    ]
    names = [s.name for s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ScenarioError(f"duplicate scenario names: {', '.join(sorted(duplicates))}")
    return sorted(scenarios, key=lambda s: (s.order, s.name))


def select(scenarios: list[Scenario], names: list[str]) -> list[Scenario]:
    if not names or names == ["all"]:
        return scenarios
    by_name = {s.name: s for s in scenarios}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ScenarioError(
            f"unknown scenario(s): {', '.join(missing)} (known: {', '.join(by_name)})"
        )
    return [by_name[n] for n in dict.fromkeys(names)]

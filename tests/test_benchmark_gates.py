"""The benchmark gates: bounds per row, sums, and no vacuous pass."""

from __future__ import annotations

from benchmarks.gates import check, load_gates

GATES = [
    {"name": "p99", "benchmark": "inv", "case": "ack", "figure": "p99_ms", "max": 10.0},
    {"name": "ratio", "benchmark": "api", "case": "cached", "figure": "ratio", "min": 0.8},
    {
        "name": "loses",
        "benchmark": "c",
        "case": "naive",
        "figure": "lost",
        "aggregate": "sum",
        "min": 1,
    },
]


def verdicts(results: list[dict]) -> dict[str, bool]:
    return {v.gate: v.passed for v in check(results, GATES)}


def test_every_selected_row_must_be_within_bounds() -> None:
    results = [
        {"benchmark": "inv", "case": "ack -> fresh, 1", "p99_ms": 4.0},
        {"benchmark": "inv", "case": "ack -> fresh, 3", "p99_ms": 12.0},
        {"benchmark": "api", "case": "cached, 100", "ratio": 0.85},
        {"benchmark": "c", "case": "naive, 2", "lost": 0},
        {"benchmark": "c", "case": "naive, 4", "lost": 3},
    ]
    assert verdicts(results) == {"p99": False, "ratio": True, "loses": True}


def test_a_gate_without_results_fails() -> None:
    assert verdicts([{"benchmark": "c", "case": "naive, 2", "lost": 0}]) == {
        "p99": False,
        "ratio": False,
        "loses": False,
    }


def test_the_shipped_gates_file_parses_and_names_figures() -> None:
    gates = load_gates()
    assert len(gates) >= 5
    assert all({"name", "benchmark", "case", "figure"} <= set(g) for g in gates)
    assert all("min" in g or "max" in g for g in gates)

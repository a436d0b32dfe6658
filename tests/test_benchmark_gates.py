"""The benchmark gates: bounds per row, sums, and no vacuous pass."""

from __future__ import annotations

import pytest

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


# The PostgreSQL gates of the shipped file, fed rows made by the benchmarks' own code (their
# case names and ratios), once within the bounds and once outside them.


def shipped(*names: str) -> list[dict]:
    """The shipped gates whose name contains every one of `names`."""
    gates = [g for g in load_gates() if all(name in g["name"] for name in names)]
    assert gates, f"no shipped gate named with {names}"
    return gates


def passes(results: list[dict], gates: list[dict]) -> bool:
    return all(verdict.passed for verdict in check(results, gates))


def contention_rows(
    postgres_ops: float, *, lost: int = 0, acknowledged: int = 100, sqlite: bool = True
) -> list[dict]:
    from benchmarks.contention import WRITERS, add_ratios, case_name

    stores = [("sqlite", 4000.0)] if sqlite else []
    rows = []
    for writers in WRITERS:
        for store, ops in [*stores, ("postgresql", postgres_ops)]:
            rows.append(
                {
                    "benchmark": "contention",
                    "case": case_name(store, writers),
                    "store": store,
                    "writers": writers,
                    "ops_per_s": ops,
                    "acknowledged": acknowledged if writers == 8 or store == "sqlite" else 100,
                    "lost_updates": lost if writers == 2 and store == "postgresql" else 0,
                }
            )
    add_ratios(rows)
    return rows


def test_postgres_contention_gates_fail_on_a_lost_update_or_no_acknowledged_write() -> None:
    lost = shipped("PostgreSQL loses no update")
    acked = shipped("PostgreSQL acknowledges writes")
    assert passes(contention_rows(2400.0), lost + acked)
    assert not passes(contention_rows(2400.0, lost=1), lost)
    assert not passes(contention_rows(2400.0, acknowledged=0), acked)


def test_postgres_scale_gate_fails_when_a_write_grows_with_the_project() -> None:
    from benchmarks.scale import postgres_rows

    gates = shipped("PostgreSQL set-status at 10,000")

    def rows(at_10000: float) -> list[dict]:
        writes = {100: [2.0, 2.1, 1.9], 1000: [2.0] * 3, 10000: [at_10000] * 3, 100000: [50.0] * 3}
        return postgres_rows({"set-status": writes, "list_tasks": {100: [0.1], 10000: [0.2]}})

    assert passes(rows(3.5), gates)  # 1.75 x; the 100,000-task row is not what this gates
    assert not passes(rows(4.5), gates)  # 2.25 x


def test_postgres_invalidation_gate_fails_on_a_slow_tail() -> None:
    from benchmarks.invalidation import _rows

    gates = shipped("3 instances over PostgreSQL")
    fast = [1.0 + i / 100 for i in range(200)]  # p99 under 3 ms
    # p99 71 ms: what a read path slowed on purpose (60 ms added to every uncached read)
    # measured, a reader waiting for something other than the revision
    slow = fast[:-5] + [71.0] * 5
    case = "3 instances, PostgreSQL NOTIFY"
    assert passes(_rows(case, fast, fast), gates)
    assert not passes(_rows(case, slow, fast), gates)
    # The file-watcher rows of the same benchmark do not satisfy it.
    assert not passes(_rows("3 instances", fast, fast), gates)


def test_one_instance_invalidation_gate_fails_when_each_fresh_read_waits() -> None:
    from benchmarks.invalidation import _rows

    gates = shipped("fresh answer on one instance")
    loaded = [4.0 + i / 20 for i in range(200)]  # p99 about 14 ms: a loaded machine's day
    slowed = [64.0 + i / 20 for i in range(200)]  # 60 ms more on every uncached read
    assert passes(_rows("1 instance", loaded, loaded), gates)
    assert not passes(_rows("1 instance", slowed, loaded), gates)


def test_contention_rounds_combine_into_one_figure_that_keeps_every_lost_update() -> None:
    from benchmarks.contention import combine

    def part(acked: int, seconds: float, lost: int = 0) -> dict:
        return {
            "acknowledged": acked,
            "failed": 0,
            "lost_updates": lost,
            "torn_final_file": False,
            "seconds": seconds,
            "ops_per_s": acked / seconds,
        }

    combined = combine([part(300, 0.6), part(60, 0.6, lost=1), part(240, 0.6)])
    assert combined["acknowledged"] == 600
    assert abs(combined["ops_per_s"] - 600 / 1.8) < 1e-9
    assert combined["lost_updates"] == 1  # one round's loss is the row's loss
    row = {"benchmark": "contention", "case": "postgresql, 2 writers", **combined}
    assert not passes([row], shipped("PostgreSQL loses no update"))


def test_claims_gates_fail_on_a_double_claim_an_unrecorded_claim_or_no_claim() -> None:
    from benchmarks.claims import BACKENDS, case_name, contention_row

    gates = shipped("claims:", "agents")
    assert len(gates) == 3

    def rows(**changed: int) -> list[dict]:
        figures = {"claims": 40, "recorded": 40, "double_claims": 0, "unrecorded": 0}
        return [
            contention_row(backend, {**figures, **(changed if backend == "postgresql" else {})})
            for backend in BACKENDS
        ]

    assert {row["case"] for row in rows()} == {case_name(b) for b in BACKENDS}
    assert passes(rows(), gates)
    assert not passes(rows(double_claims=1), gates)
    assert not passes(rows(unrecorded=1), gates)
    assert not passes(rows(claims=0), gates)


def test_claims_latency_gate_fails_when_a_claim_writes_the_whole_project() -> None:
    from benchmarks.claims import latency_rows

    gates = shipped("PostgreSQL claim --next at 10,000")

    def rows(at_10000: float) -> list[dict]:
        samples = {100: [2.0, 2.1, 1.9], 10000: [at_10000] * 3}
        return latency_rows("file", {100: [1.0], 10000: [500.0]}) + latency_rows(
            "postgresql", samples
        )

    assert passes(rows(36.0), gates)  # 18 x: a pass over the tag; the file rows are not gated
    assert not passes(rows(250.0), gates)  # 125 x: every task's row written


def test_journal_cost_gates_fail_when_a_journaled_write_costs_too_much() -> None:
    from benchmarks.journal_cost import row

    gates = shipped("journaled set-status")
    assert len(gates) == 4

    def rows(ratios: dict[tuple[str, int], float]) -> list[dict]:
        found = []
        for (backend, tasks), ratio in ratios.items():
            benchmark = "transaction" if backend == "file" else "scale"
            bare = [[2.0, 2.2, 1.8]] * 3  # three rounds, median 2.0
            found.append(row(benchmark, backend, tasks, [[2.0 * ratio] * 3] * 3, bare))
        return found

    fine = {("file", 100): 1.4, ("file", 10000): 1.8, ("postgresql", 100): 1.2}
    fine[("postgresql", 10000)] = 1.5
    assert passes(rows(fine), gates)
    for place, ratio in [
        (("file", 100), 2.26),  # whole-list entries, measured
        (("file", 10000), 2.6),
        (("postgresql", 100), 2.07),  # whole-list entries, measured
        (("postgresql", 10000), 28.4),  # the whole document before rebuilt, measured
    ]:
        assert not passes(rows({**fine, place: ratio}), gates), place
    # A size that was not measured fails its gate (nothing to check proves nothing).
    assert not passes(rows({k: v for k, v in fine.items() if k != ("file", 10000)}), gates)


def test_journal_ratio_is_the_median_of_the_rounds_ratios() -> None:
    from benchmarks.journal_cost import TARGET_JOURNAL_RATIO, row

    # One disturbed round (10 x) does not decide the figure.
    figures = row("scale", "postgresql", 100, [[3.0], [30.0], [3.3]], [[3.0], [3.0], [3.0]])
    assert figures["round_journal_ratios"] == pytest.approx([1.0, 10.0, 1.1])
    assert figures["journal_ratio"] == pytest.approx(1.1)
    assert figures["target_journal_ratio"] == TARGET_JOURNAL_RATIO
    assert figures["median_ms"] == 3.3 and figures["without_journal_median_ms"] == 3.0

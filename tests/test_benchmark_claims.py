"""The claims benchmark's pure parts: the ready pool, the audit of a run, its rows; and one
short real run of contending agent processes on a task file, audited."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import claims
from taskmaster.model import DEFAULT_TAG
from taskmaster.ops.next import next_task


def test_the_pool_is_all_ready_tasks_so_next_never_runs_dry_early() -> None:
    pool = claims.ready_pool(30)
    tasks = pool.tasks(DEFAULT_TAG)
    assert len(tasks) == 30
    assert all(t["dependencies"] == [] and t["subtasks"] == [] for t in tasks)
    assert all(t["status"] == "pending" for t in tasks)
    for task in tasks:  # finish one at a time: next always offers one of the rest
        assert next_task(pool, DEFAULT_TAG) is not None
        task["status"] = "done"
    assert next_task(pool, DEFAULT_TAG) is None


def entry(token: int, agent: str = "a") -> dict[str, Any]:
    return {"token": token, "agent": agent, "outcome": "released", "status": "done"}


def document(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {DEFAULT_TAG: {"tasks": list(tasks), "metadata": {"claimSequence": 9}}}


def task(task_id: int, *history: dict[str, Any], live: dict[str, Any] | None = None) -> dict:
    metadata: dict[str, Any] = {"claimHistory": list(history)}
    if live is not None:
        metadata["claim"] = live
    return {"id": task_id, "status": "done" if history else "pending", "metadata": metadata}


def test_a_clean_run_audits_to_no_double_claim() -> None:
    data = document(task(1, entry(1)), task(2, entry(2, "b")), task(3), {"id": 4})
    assert claims.audit(data, [("1", 1), ("2", 2)]) == {
        "claims": 2,
        "recorded": 2,
        "double_claims": 0,
        "unrecorded": 0,
        "duplicate_tokens": 0,
        "tasks_done": 2,
    }


def test_a_task_recorded_claimed_twice_is_a_double_claim() -> None:
    data = document(task(1, entry(1), entry(3, "b")), task(2, entry(2)))
    counts = claims.audit(data, [("1", 1), ("2", 2), ("1", 3)])
    assert counts["double_claims"] == 1
    assert counts["recorded"] == 3


def test_a_task_given_to_two_agents_is_a_double_claim_even_if_one_record_was_lost() -> None:
    # A lost update: both agents were given task 1, the document kept only the second claim.
    data = document(task(1, entry(3, "b")), task(2, entry(2)))
    counts = claims.audit(data, [("1", 1), ("2", 2), ("1", 3)])
    assert counts["double_claims"] == 1
    assert counts["unrecorded"] == 1  # token 1 is nowhere in the document


def test_a_live_claim_counts_as_recorded_and_a_reused_token_is_counted() -> None:
    data = document(task(1, entry(1), live={"token": 2, "agent": "b"}))
    counts = claims.audit(data, [("1", 1), ("1", 2)])
    assert counts["recorded"] == 2
    assert counts["double_claims"] == 1
    assert (
        claims.audit(document(task(1, entry(1)), task(2, entry(1))), [("1", 1), ("2", 1)])[
            "duplicate_tokens"
        ]
        == 1
    )


def test_latency_rows_carry_the_same_run_ratio_and_postgresql_the_target() -> None:
    samples = {100: [2.0, 1.0, 3.0], 10000: [20.0, 30.0, 40.0]}
    file_rows = claims.latency_rows("file", samples)
    pg_rows = claims.latency_rows("postgresql", samples)
    assert [r["ratio_to_100_tasks"] for r in pg_rows] == [1.0, 15.0]
    assert pg_rows[1]["target_ratio_to_100_tasks"] == claims.TARGET_RATIO_TO_100_TASKS
    assert "target_ratio_to_100_tasks" not in pg_rows[0]
    assert all("target_ratio_to_100_tasks" not in r for r in file_rows)


def part(count: int, seconds: float, double: int = 0) -> dict[str, Any]:
    return {
        "n": count,
        "claims": count,
        "recorded": count,
        "double_claims": double,
        "unrecorded": 0,
        "duplicate_tokens": 0,
        "tasks_done": count,
        "released": count,
        "failed": 0,
        "pool_exhausted": False,
        "seconds": seconds,
        "claims_per_s": count / seconds,
        "per_agent": [count],
    }


def test_rounds_combine_into_one_figure_that_keeps_every_double_claim() -> None:
    combined = claims.combine([part(30, 1.5), part(15, 1.5, double=1)])
    assert combined["claims"] == 45
    assert combined["claims_per_s"] == pytest.approx(15.0)
    assert combined["double_claims"] == 1
    assert combined["round_claims_per_s"] == [20.0, 10.0]


def test_contending_agents_on_a_task_file_are_audited_from_the_final_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(claims, "AGENTS", 3)
    monkeypatch.setattr(claims, "POOL", 40)
    figures = claims.contend("file", None, 0.5)
    assert figures["claims"] >= 1
    assert figures["double_claims"] == 0 and figures["unrecorded"] == 0
    assert figures["failed"] == 0
    # Every claim was released as done, and the document records each exactly once.
    assert figures["recorded"] == figures["claims"] == figures["released"]
    assert figures["tasks_done"] == figures["claims"]
    assert len(figures["per_agent"]) == 3

"""The checker of claim histories on crafted histories: each bad one is reported, good ones pass."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.checker import INVARIANT_ANOMALIES, check
from harness.claims_check import (
    ACQUIRE,
    CLAIM_ANOMALIES,
    CLAIMS,
    NEXT,
    RELEASE,
    WORK,
    claims_of,
    double_claimed_tasks,
)
from harness.history import FAIL, INFO, OK, READ, WRITE, Op

_ids = itertools.count()
MS = 1_000_000
CLAIM_INVARIANTS = list(CLAIM_ANOMALIES)


def op(kind: str, start: float, end: float | None, **values: Any) -> Op:
    return Op(
        id=f"op{next(_ids)}",
        kind=kind,
        start=int(start * MS),
        end=None if end is None else int(end * MS),
        **values,
    )


def acquire(
    agent: str,
    start: float,
    end: float,
    task: int,
    token: int | None,
    *,
    lease_s: float | None = 60.0,
    revision: int | None = None,
    outcome: str = OK,
) -> Op:
    info: dict[str, Any] = {"claim": ACQUIRE}
    if token is not None:
        info.update(token=token, lease_s=lease_s)
    return op(
        WRITE,
        start,
        end,
        actor=agent,
        key=f"task/{task}",
        value={"status": "in-progress"},
        info=info,
        revision=revision,
        outcome=outcome,
    )


def work(
    agent: str,
    start: float,
    end: float,
    acquired: Op,
    details: str | None = None,
    *,
    fenced: bool = True,
    outcome: str = OK,
) -> Op:
    token = acquired.info.get("token")
    return op(
        WRITE,
        start,
        end,
        actor=agent,
        key=acquired.key,
        value={"details": details or f"{agent} t{token}"},
        info={"claim": WORK, "token": token, "fenced": fenced, "acquisition": acquired.id},
        outcome=outcome,
    )


def release(agent: str, start: float, end: float, acquired: Op, outcome: str = OK) -> Op:
    return op(
        WRITE,
        start,
        end,
        actor=agent,
        key=acquired.key,
        value={"status": "done"},
        info={"claim": RELEASE, "token": acquired.info.get("token"), "acquisition": acquired.id},
        outcome=outcome,
    )


def claims_record(at: float, **tasks: dict[str, Any]) -> Op:
    return op(CLAIMS, at, at, actor="harness", value={"tasks": tasks, "sequences": {}})


def ended(token: int, agent: str, outcome: str = "released", **extra: Any) -> dict[str, Any]:
    return {"token": token, "agent": agent, "outcome": outcome, **extra}


def good_history() -> list[Op]:
    """Two agents, three tasks: a's claim of task 1 runs out unworked and b takes the task
    over; every other claim is worked once and released done."""
    a1 = acquire("a", 0, 10, 1, 1, lease_s=0.03, revision=2)  # certainly over at 30 ms
    b1 = acquire("b", 5, 20, 2, 2, revision=3)
    b2 = acquire("b", 52, 55, 1, 3, revision=5)
    a2 = acquire("a", 60, 70, 3, 4, revision=6)
    return [
        a1,
        b1,
        work("b", 25, 35, b1),
        release("b", 40, 45, b1),
        b2,
        work("b", 56, 58, b2),
        release("b", 59, 61, b2),
        a2,
        work("a", 71, 72, a2),
        release("a", 73, 74, a2),
        claims_record(
            100,
            **{
                "1": {
                    "status": "done",
                    "details": "b t3",
                    "claim": None,
                    "claimHistory": [ended(1, "a", "expired"), ended(3, "b", status="done")],
                },
                "2": {
                    "status": "done",
                    "details": "b t2",
                    "claimHistory": [ended(2, "b", status="done")],
                },
                "3": {
                    "status": "done",
                    "details": "a t4",
                    "claimHistory": [ended(4, "a", status="done")],
                },
            },
        ),
    ]


def anomalies(history: list[Op], invariants: list[str] | None = None) -> dict[str, int]:
    return check(history, invariants or CLAIM_INVARIANTS, {}).counts


def test_every_claim_anomaly_is_an_anomaly_of_the_checker() -> None:
    for name, found in CLAIM_ANOMALIES.items():
        assert INVARIANT_ANOMALIES[name] == found


def test_a_good_history_holds_every_claim_invariant() -> None:
    history = good_history()
    assert anomalies(history) == {}
    assert len(claims_of(history)) == 4
    assert double_claimed_tasks(history) == {}


def test_no_claim_ops_no_violation() -> None:
    assert anomalies([op(WRITE, 0, 1, actor="w", key="task/1", value={"status": "done"})]) == {}


# one-claim-holder ----------------------------------------------------------------------------


def test_overlapping_claims_of_two_agents_are_a_double_claim() -> None:
    a = acquire("a", 0, 10, 1, None, lease_s=None)
    b = acquire("b", 2, 15, 1, None, lease_s=None)  # a's release was invoked only at 40
    history = [a, b, work("a", 20, 30, a), work("b", 21, 31, b)]
    history += [release("a", 40, 50, a), release("b", 41, 51, b)]
    result = check(history, ["one-claim-holder"], {})
    (violation,) = result.violations
    assert violation.anomaly == "double-claim"
    assert "task 1: a and b both held it, for 25.0 ms" in violation.message
    assert double_claimed_tasks(history) == {"1": {"a", "b"}}


def test_a_claim_without_release_holds_to_the_end() -> None:
    a = acquire("a", 0, 10, 1, None, lease_s=None)
    b = acquire("b", 500, 510, 1, None, lease_s=None)
    (violation,) = check([a, b], ["one-claim-holder"], {}).violations
    assert "until the end" in violation.message


def test_claims_whose_release_answered_late_do_not_overlap() -> None:
    # a's release committed before b's claim began; its answer came after b's: no overlap
    a = acquire("a", 0, 10, 1, 1)
    b = acquire("b", 30, 40, 1, 2)
    history = [a, work("a", 12, 15, a), release("a", 20, 45, a), b]
    assert anomalies(history, ["one-claim-holder"]) == {}


def test_a_lease_bounds_a_claim_that_was_never_released() -> None:
    a = acquire("a", 0, 10, 1, 1, lease_s=0.05)  # certainly over at 50 ms
    b = acquire("b", 60, 70, 1, 2)
    assert anomalies([a, b], ["one-claim-holder"]) == {}
    early = acquire("b", 30, 40, 1, 2)  # while a's lease may still run
    assert anomalies([a, early], ["one-claim-holder"]) == {"double-claim": 1}


def test_refused_acquisitions_hold_nothing() -> None:
    a = acquire("a", 0, 10, 1, 1)
    b = acquire("b", 2, 12, 1, None, outcome=FAIL)
    assert anomalies([a, b], ["one-claim-holder"]) == {}


# worked-once ---------------------------------------------------------------------------------


def test_a_task_worked_twice_is_reported() -> None:
    a = acquire("a", 0, 10, 1, None, lease_s=None)
    b = acquire("b", 60, 70, 1, None, lease_s=None)
    history = [a, work("a", 11, 12, a), release("a", 13, 14, a)]
    history += [b, work("b", 71, 72, b), release("b", 73, 74, b)]
    result = check(history, ["worked-once"], {})
    assert result.counts == {"worked-twice": 1}
    assert "task 1 was worked 2 times (a, b)" in result.violations[0].message


def test_a_claimed_task_nobody_worked_is_reported_unless_the_work_may_have_landed() -> None:
    a = acquire("a", 0, 10, 1, 1)
    refused = work("a", 11, 12, a, outcome=FAIL)
    assert anomalies([a, refused], ["worked-once"]) == {"not-worked": 1}
    unknown = work("a", 11, None, a, outcome=INFO)
    assert anomalies([a, unknown], ["worked-once"]) == {}


# releases-recorded ---------------------------------------------------------------------------


def test_a_release_missing_from_the_claim_history_is_reported() -> None:
    history = good_history()
    record = history[-1]
    record.value["tasks"]["2"]["claimHistory"] = []
    result = check(history, ["releases-recorded"], {})
    assert result.counts == {"release-not-recorded": 1}
    assert "b's acknowledged release of token 2 (task 2) is not in its claimHistory" in (
        result.violations[0].message
    )


def test_a_release_recorded_as_expired_or_with_another_status_is_reported() -> None:
    history = good_history()
    history[-1].value["tasks"]["2"]["claimHistory"] = [ended(2, "b", "expired")]
    history[-1].value["tasks"]["3"]["claimHistory"] = [ended(4, "a", status="review")]
    assert anomalies(history, ["releases-recorded"]) == {"release-not-recorded": 2}


def test_a_final_status_that_is_not_the_last_release_s_is_reported() -> None:
    history = good_history()
    history[-1].value["tasks"]["3"]["status"] = "in-progress"
    (violation,) = check(history, ["releases-recorded"], {}).violations
    assert "task 3 is 'in-progress' at the end" in violation.message


def test_releases_without_a_record_of_the_claims_are_reported() -> None:
    history = good_history()[:-1]
    (violation,) = check(history, ["releases-recorded"], {}).violations
    assert violation.anomaly == "release-not-recorded" and violation.count == 3


def test_a_history_trimmed_to_its_last_claims_forgives_the_old_ones() -> None:
    a = acquire("a", 0, 10, 1, 1)
    kept = [ended(token, "x", status="done") for token in range(2, 22)]
    history = [a, work("a", 11, 12, a), release("a", 13, 14, a)]
    history.append(claims_record(20, **{"1": {"status": "done", "claimHistory": kept}}))
    assert anomalies(history, ["releases-recorded"]) == {}


# tokens-increase -----------------------------------------------------------------------------


def test_a_token_given_twice_is_reported() -> None:
    a = acquire("a", 0, 10, 1, 5)
    b = acquire("b", 20, 30, 2, 5)
    result = check([a, b], ["tokens-increase"], {})
    assert result.counts["token-reused"] == 1
    assert "token 5 was given 2 times" in result.violations[0].message


def test_a_later_claim_with_a_lower_token_is_reported() -> None:
    a = acquire("a", 0, 10, 1, 7)
    b = acquire("b", 20, 30, 2, 3)  # began after a was acknowledged
    result = check([a, b], ["tokens-increase"], {})
    assert result.counts == {"token-out-of-order": 1}
    assert "(token 3) on task 2 began 10.0 ms after a (token 7)" in result.violations[0].message


def test_concurrent_claims_may_get_their_tokens_in_either_order() -> None:
    a = acquire("a", 0, 10, 1, 2)
    b = acquire("b", 5, 15, 2, 1)
    assert anomalies([a, b], ["tokens-increase"]) == {}


def test_revisions_and_tokens_must_agree_on_the_order() -> None:
    a = acquire("a", 0, 10, 1, 2, revision=8)
    b = acquire("b", 5, 15, 2, 1, revision=9)  # concurrent, but committed after a
    assert anomalies([a, b], ["tokens-increase"]) == {"token-out-of-order": 1}


def test_a_claim_history_not_in_token_order_is_reported() -> None:
    record = claims_record(
        50,
        **{"1": {"status": "done", "claimHistory": [ended(3, "a"), ended(2, "b")], "claim": None}},
    )
    (violation,) = check([record], ["tokens-increase"], {}).violations
    assert "tokens [3, 2], not strictly increasing" in violation.message
    live = claims_record(
        50, **{"1": {"claimHistory": [ended(3, "a")], "claim": {"token": 3, "agent": "b"}}}
    )
    assert anomalies([live], ["tokens-increase"]) == {"token-out-of-order": 1}


# fenced-writes -------------------------------------------------------------------------------


def zombie(*, fenced: bool, outcome: str) -> list[Op]:
    a = acquire("A", 0, 10, 1, 1, lease_s=1.0)
    b = acquire("B", 2000, 2010, 1, 2)
    b_work = work("B", 2020, 2030, b, "B's work")
    a_work = work("A", 2100, 2110, a, "A's work", fenced=fenced, outcome=outcome)
    final = "A's work" if outcome == OK else "B's work"
    record = claims_record(
        3000,
        **{
            "1": {
                "status": "done",
                "details": final,
                "claimHistory": [ended(1, "A", "expired"), ended(2, "B", status="done")],
            }
        },
    )
    return [a, b, b_work, a_work, release("B", 2200, 2210, b), record]


def test_a_zombie_write_that_was_refused_holds() -> None:
    assert anomalies(zombie(fenced=True, outcome=FAIL)) == {}


def test_a_zombie_write_that_landed_is_a_write_under_a_dead_token_over_the_holder_s_work() -> None:
    history = zombie(fenced=False, outcome=OK)
    result = check(history, ["fenced-writes"], {})
    assert result.counts == {"write-under-dead-token": 1, "holder-work-lost": 1}
    dead, lost = result.violations
    assert "A's write to task 1 under token 1 was acknowledged (unfenced)" in dead.message
    assert "B (token 2)'s claim of task 1 was acknowledged" in dead.message
    assert "final details is A's write under its dead token 1, not B's" in lost.message
    # and the zombie's work makes the task worked twice
    assert anomalies(history, ["worked-once"]) == {"worked-twice": 1}


def test_a_write_after_its_own_release_or_past_its_lease_is_under_a_dead_token() -> None:
    a = acquire("a", 0, 10, 1, 1)
    late = work("a", 30, 31, a)
    assert anomalies([a, release("a", 15, 20, a), late], ["fenced-writes"]) == {
        "write-under-dead-token": 1
    }
    short = acquire("a", 0, 10, 1, 1, lease_s=0.5)
    assert anomalies([short, work("a", 700, 701, short)], ["fenced-writes"]) == {
        "write-under-dead-token": 1
    }
    # within the clocks' slack of the lease's end: not judged
    assert anomalies([short, work("a", 550, 551, short)], ["fenced-writes"]) == {}


def test_the_naive_protocol_has_no_token_to_be_dead() -> None:
    a = acquire("a", 0, 10, 1, None, lease_s=None)
    b = acquire("b", 20, 30, 1, None, lease_s=None)
    assert anomalies([a, b, work("a", 40, 41, a)], ["fenced-writes"]) == {}


def test_next_reads_are_not_claims() -> None:
    offered = op(READ, 0, 1, actor="a", key="task/1", value={"status": "pending"})
    offered.info["claim"] = NEXT
    assert claims_of([offered]) == []


@pytest.mark.parametrize("name", CLAIM_INVARIANTS)
def test_each_claim_invariant_holds_on_the_good_history(name: str) -> None:
    assert check(good_history(), [name], {}).ok

"""The history checker on crafted histories: each anomaly is reported, clean histories pass."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.checker import ANOMALIES, INVARIANT_ANOMALIES, INVARIANTS, check
from harness.history import FAIL, FINAL, INFO, INITIAL, META, OBSERVE, OK, READ, WRITE, Op

_ids = itertools.count()
MS = 1_000_000


def op(kind: str, start: float, end: float | None, **values: Any) -> Op:
    values.setdefault("actor", "a")
    return Op(
        id=f"op{next(_ids)}",
        kind=kind,
        start=int(start * MS),
        end=None if end is None else int(end * MS),
        **values,
    )


def initial(**tasks: dict[str, Any]) -> Op:
    return op(INITIAL, 0, 0, value={f"task/{k}": v for k, v in tasks.items()})


def write(start: float, end: float | None, task: int, outcome: str = OK, **fields: Any) -> Op:
    extras = {name: fields.pop(name) for name in ("revision", "phase") if name in fields}
    return op(
        WRITE,
        start,
        end,
        key=f"task/{task}",
        value=fields,
        outcome=outcome,
        channel="cli",
        **extras,
    )


def read(start: float, end: float, task: int, actor: str = "r", **fields: Any) -> Op:
    revision = fields.pop("revision", None)
    phase = fields.pop("phase", None)
    instance = fields.pop("instance", None)
    return op(
        READ,
        start,
        end,
        key=f"task/{task}",
        value=fields,
        actor=actor,
        channel="api",
        revision=revision,
        phase=phase,
        instance=instance,
    )


def final(tasks: dict[int, dict[str, Any]], titles: list[str] = (), parses: bool = True) -> Op:
    value = {"parses": parses, "tasks": {str(k): v for k, v in tasks.items()}}
    value["titles"] = list(titles) or [t.get("title") for t in tasks.values() if "title" in t]
    return op(FINAL, 10_000, 10_000, value=value)


def anomalies(ops: list[Op], *invariants: str, **config: Any) -> list[str]:
    return [v.anomaly for v in check(ops, invariants or None, config).violations]


# lost update ----------------------------------------------------------------------------------


def test_the_design_documents_lost_update_is_reported() -> None:
    # A reads, B reads, A writes Task1 done, B writes the whole file back with Task1 pending.
    history = [
        initial(**{"1": {"status": "pending"}, "2": {"status": "pending"}}),
        write(10, 30, 1, status="done"),
        write(12, 40, 2, status="in-progress"),
        final({1: {"status": "pending"}, 2: {"status": "in-progress"}}),
    ]
    result = check(history, ["acknowledged-writes-present"], {})
    assert [v.anomaly for v in result.violations] == ["lost-update"]
    assert "done" in result.violations[0].message


def test_both_updates_present_is_clean() -> None:
    history = [
        initial(**{"1": {"status": "pending"}, "2": {"status": "pending"}}),
        write(10, 30, 1, status="done"),
        write(12, 40, 2, status="in-progress"),
        final({1: {"status": "done"}, 2: {"status": "in-progress"}}),
    ]
    assert anomalies(history, "acknowledged-writes-present") == []


def test_an_overwritten_value_is_not_lost_when_a_later_write_replaced_it() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(10, 20, 1, title="t1"),
        write(30, 40, 1, title="t2"),
        final({1: {"title": "t2"}}),
    ]
    assert anomalies(history, "acknowledged-writes-present") == []
    history[-1] = final({1: {"title": "t1"}})
    assert anomalies(history, "acknowledged-writes-present") == ["lost-update"]


def test_concurrent_writes_may_end_in_either_order() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(10, 50, 1, title="a"),
        write(20, 40, 1, title="b"),
        final({1: {"title": "a"}}),
    ]
    assert anomalies(history, "acknowledged-writes-present") == []


def test_an_indeterminate_write_may_or_may_not_be_present() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(10, None, 1, outcome=INFO, title="killed"),
        final({1: {"title": "t0"}}),
    ]
    assert anomalies(history, "acknowledged-writes-present") == []
    history[-1] = final({1: {"title": "killed"}})
    assert anomalies(history, "acknowledged-writes-present") == []


def test_a_lost_add_task_is_reported() -> None:
    history = [
        op(WRITE, 10, 20, key="add/w1-0", value={"title": "w1-0"}),
        op(WRITE, 15, 25, key="add/w2-0", value={"title": "w2-0"}),
        op(WRITE, 15, None, key="add/w3-0", value={"title": "w3-0"}, outcome=INFO),
        final({1: {"title": "w2-0"}}),
    ]
    found = check(history, ["acknowledged-writes-present"], {}).violations
    assert [v.anomaly for v in found] == ["lost-update"]
    assert "w1-0" in found[0].message


def test_a_final_file_that_does_not_parse_loses_every_acknowledged_write() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(10, 20, 1, status="done"),
        final({}, parses=False),
    ]
    assert anomalies(history, "acknowledged-writes-present", "file-parses") == [
        "lost-update",
        "torn-file",
    ]


def test_a_snapshot_only_owes_the_writes_acknowledged_before_it() -> None:
    def snapshot(at: float, title: str) -> Op:
        value = {"parses": True, "tasks": {"1": {"title": title}}, "titles": [title]}
        return op(FINAL, at, at, value=value, phase="after A")

    history = [
        initial(**{"1": {"title": "t0"}}),
        write(10, 20, 1, title="a"),
        snapshot(30, "a"),
        write(40, 50, 1, title="b"),
        op(WRITE, 41, 45, key="add/x", value={"title": "x"}),
        final({1: {"title": "b"}}, titles=["b", "x"]),
    ]
    assert anomalies(history, "acknowledged-writes-present") == []
    history[2] = snapshot(30, "t0")
    found = check(history, ["acknowledged-writes-present"], {}).violations
    assert [v.anomaly for v in found] == ["lost-update"]
    assert "the file after A" in found[0].message


def test_a_write_lost_at_two_snapshots_counts_once() -> None:
    snap = op(
        FINAL, 30, 30, phase="after A", value={"parses": True, "tasks": {"1": {"title": "t0"}}}
    )
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(10, 20, 1, title="a"),
        snap,
        final({1: {"title": "t0"}}),
    ]
    result = check(history, ["acknowledged-writes-present"], {})
    assert result.count("lost-update") == 1
    assert "after A" in result.violations[0].message


def test_a_torn_final_file_counts_every_acknowledged_write_as_lost() -> None:
    history = [
        initial(**{"1": {"title": "t0"}, "2": {"title": "t0"}}),
        write(10, 20, 1, title="a"),
        write(10, 20, 2, title="b"),
        write(10, None, 2, outcome=INFO, title="c"),
        final({}, parses=False),
    ]
    result = check(history, ["acknowledged-writes-present"], {})
    assert len(result.violations) == 1
    assert result.count("lost-update") == result.counts["lost-update"] == 2


# stale reads ----------------------------------------------------------------------------------


def test_a_read_after_the_ack_that_returns_the_old_value_is_stale() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(0, 10, 1, status="done"),
        read(15, 16, 1, status="pending"),
    ]
    found = check(history, ["no-stale-read"], {}).violations
    assert [v.anomaly for v in found] == ["stale-read"]
    assert "5.0 ms after" in found[0].message


def test_a_read_concurrent_with_the_write_may_see_either_value() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(0, 10, 1, status="done"),
        read(5, 16, 1, status="pending"),
        read(5, 16, 1, status="done"),
        read(20, 21, 1, status="done"),
    ]
    assert anomalies(history, "no-stale-read") == []


def test_a_stale_revision_is_reported_even_when_the_value_is_ambiguous() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        op(WRITE, 0, 10, key="task/2", value={"title": "x"}, revision=7),
        read(15, 16, 1, status="pending", revision=6),
        read(15, 16, 1, status="pending", revision=7, actor="other"),
    ]
    found = check(history, ["no-stale-read"], {}).violations
    assert [v.anomaly for v in found] == ["stale-read"]
    assert "revision 6" in found[0].message


def test_a_value_nobody_wrote_is_reported() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(0, 10, 1, title="t1"),
        read(15, 16, 1, title="t1\x00garbage"),
    ]
    assert anomalies(history, "no-stale-read") == ["unknown-value"]


def test_a_read_cannot_have_seen_a_write_that_started_after_it() -> None:
    # The statuses repeat: the old value read at 15 must not be excused by a later write of it.
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(0, 10, 1, status="done"),
        read(15, 16, 1, status="pending"),
        write(20, 30, 1, status="pending"),
        read(35, 36, 1, status="pending"),
    ]
    found = check(history, ["no-stale-read"], {}).violations
    assert [(v.anomaly, v.ops[0].start) for v in found] == [("stale-read", 15 * MS)]
    history.append(read(40, 41, 1, status="review"))
    assert anomalies(history, "no-stale-read") == ["stale-read", "unknown-value"]


def test_failed_writes_are_not_sources() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(0, 10, 1, outcome=FAIL, title="refused"),
        read(15, 16, 1, title="t0"),
    ]
    assert anomalies(history, "no-stale-read") == []
    history.append(read(17, 18, 1, title="refused"))
    assert anomalies(history, "no-stale-read") == ["unknown-value"]


# monotonic reads ------------------------------------------------------------------------------


def test_a_client_that_goes_back_in_time_is_reported() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(0, 100, 1, title="t1"),
        read(10, 20, 1, title="t1", instance=0),
        read(30, 40, 1, title="t0", instance=1),  # concurrent with the write: not stale...
    ]
    assert anomalies(history, "no-stale-read") == []
    # ...but the same client had already seen t1
    assert anomalies(history, "monotonic-reads") == ["non-monotonic-read"]


def test_different_clients_may_disagree_during_a_write() -> None:
    history = [
        initial(**{"1": {"title": "t0"}}),
        write(0, 100, 1, title="t1"),
        read(10, 20, 1, title="t1", actor="r1"),
        read(30, 40, 1, title="t0", actor="r2"),
    ]
    assert anomalies(history, "monotonic-reads") == []


def test_revisions_must_not_go_backwards_for_one_client() -> None:
    history = [
        read(10, 20, 1, title="t0", revision=5),
        read(30, 40, 1, title="t0", revision=4),
        read(30, 40, 1, title="t0", revision=4, actor="other"),
    ]
    assert anomalies(history, "monotonic-reads") == ["non-monotonic-read"]


def test_overlapping_reads_of_one_client_are_not_ordered() -> None:
    history = [read(10, 50, 1, title="t0", revision=5), read(30, 40, 1, title="t0", revision=4)]
    assert anomalies(history, "monotonic-reads") == []


# torn file, convergence -----------------------------------------------------------------------


def test_a_torn_observation_is_reported() -> None:
    history = [
        op(OBSERVE, 5, 5, value={"parses": True, "sha": "a"}),
        op(OBSERVE, 6, 6, value={"parses": False, "sha": "b", "error": "Expecting value"}),
    ]
    found = check(history, ["file-parses"], {}).violations
    assert [v.anomaly for v in found] == ["torn-file"]
    assert "Expecting value" in found[0].message


def test_an_instance_that_disagrees_with_the_file_at_the_end_has_not_converged() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(0, 10, 1, status="done"),
        read(20, 21, 1, status="done", phase="final", instance=0),
        read(20, 21, 1, status="pending", phase="final", instance=1, actor="r2"),
        final({1: {"status": "done"}}),
    ]
    found = check(history, ["converged"], {}).violations
    assert [v.anomaly for v in found] == ["not-converged"]
    assert "instance 1" in found[0].message
    assert anomalies(history[:3] + history[4:], "converged") == []


# scenario-specific invariants -----------------------------------------------------------------


def test_corrupt_file_invariants() -> None:
    config = {"refuse_phases": ["corrupt"]}
    good = [
        write(0, 10, 1, outcome=FAIL, phase="corrupt"),
        op(
            READ,
            0,
            1,
            key="task/1",
            channel="api",
            instance=0,
            outcome=FAIL,
            phase="corrupt",
            info={"status": 503, "content_type": "application/problem+json"},
        ),
        op(
            OBSERVE,
            20,
            20,
            value={"parses": False, "sha": "x"},
            phase="corrupt",
            info={"expect_sha": "x"},
        ),
    ]
    invariants = ("writes-refused", "bytes-unchanged", "clear-503")
    assert anomalies(good, *invariants, **config) == []
    bad = [
        write(0, 10, 1, phase="corrupt", title="over"),
        op(
            READ,
            0,
            1,
            key="task/1",
            channel="api",
            instance=0,
            phase="corrupt",
            value={"title": "t0"},
            info={"status": 200},
        ),
        op(
            READ,
            0,
            1,
            key="task/1",
            channel="api",
            instance=1,
            outcome=FAIL,
            phase="corrupt",
            info={"status": 500, "content_type": "text/plain"},
        ),
        op(
            OBSERVE,
            20,
            20,
            value={"parses": True, "sha": "y"},
            phase="corrupt",
            info={"expect_sha": "x"},
        ),
    ]
    assert sorted(anomalies(bad, *invariants, **config)) == [
        "bytes-changed",
        "corrupt-served",
        "unclear-error",
        "write-not-refused",
    ]


def test_writes_that_must_succeed() -> None:
    config = {"expect_ok_phases": ["after-kill"]}
    history = [write(0, 10, 1, phase="after-kill", title="a"), write(0, 10, 1, phase="other")]
    assert anomalies(history, "writes-succeed", **config) == []
    history.append(write(0, 10, 1, outcome=FAIL, phase="after-kill", title="b"))
    assert anomalies(history, "writes-succeed", **config) == ["write-failed"]


def test_rate_limit_budget_per_window() -> None:
    config = {"rate_limit": {"budget": 3, "window_s": 1}}

    def hit(t: float, outcome: str = OK, instance: int = 0) -> Op:
        return op(READ, t, t + 1, phase="burst", outcome=outcome, instance=instance)

    within = [hit(0), hit(10), hit(20), hit(30, FAIL), hit(1500), hit(25, instance=1)]
    assert anomalies(within, "rate-limit", **config) == []
    assert anomalies([*within, hit(40)], "rate-limit", **config) == ["rate-limit-exceeded"]
    shared = {"rate_limit": {"budget": 3, "window_s": 1, "shared": True}}
    assert anomalies(within, "rate-limit", **shared) == ["rate-limit-exceeded"]


def test_every_request_must_succeed_through_an_outage() -> None:
    config = {"available_phases": ["storm"], "outage": {"windows": [[50 * MS, 80 * MS]]}}
    history = [
        write(0, 10, 1, phase="storm", title="a"),
        read(60, 61, 1, phase="storm", title="a"),
        op(READ, 62, 63, phase="warm", outcome=FAIL, key="task/1"),  # a phase that does not count
    ]
    assert anomalies(history, "available", **config) == []
    during = op(READ, 60, 70, phase="storm", outcome=FAIL, key="task/1", error="HTTP 500")
    after = write(90, None, 1, outcome=INFO, phase="storm", title="b")
    result = check([*history, during, after], ["available"], config)
    assert [v.anomaly for v in result.violations] == ["request-failed", "request-failed"]
    assert "while Redis was down" in result.violations[0].message
    assert "while Redis was down" not in result.violations[1].message


def test_every_instance_must_recover() -> None:
    fine = {"0": {"seconds": 0.2}, "1": {"seconds": 1.5}}
    config = {"recovery": {"within_s": 5, "instances": fine}}
    assert anomalies([], "recovers", **config) == []
    assert anomalies([], "recovers") == []  # nothing to recover (the naive stack)
    late = {**fine, "2": {"seconds": None, "last": {"redis": {"state": "down"}}}}
    config = {"recovery": {"within_s": 5, "instances": late}}
    (violation,) = check([], ["recovers"], config).violations
    assert violation.anomaly == "not-recovered" and "instance 2" in violation.message
    slow = {"recovery": {"within_s": 1, "instances": fine}}
    assert anomalies([], "recovers", **slow) == ["not-recovered"]


def test_every_writer_must_get_a_write_through_after_the_database_came_back() -> None:
    writers = {"writer-0": {"seconds": 0.4, "writes_after": 9}}
    recovery = {"within_s": 5, "what": "storage ok", "server": "PostgreSQL", "writers": writers}
    assert anomalies([], "recovers", recovery=recovery) == []
    stuck = {**writers, "writer-1": {"seconds": None, "writes_after": 12}}
    (violation,) = check([], ["recovers"], {"recovery": {**recovery, "writers": stuck}}).violations
    assert violation.anomaly == "not-recovered"
    assert "writer writer-1" in violation.message and "PostgreSQL" in violation.message
    assert "12 attempted" in violation.message
    late = {"writer-0": {"seconds": 7.5, "writes_after": 3}}
    assert anomalies([], "recovers", recovery={**recovery, "writers": late}) == ["not-recovered"]
    # an instance of a PostgreSQL run says what it did not report
    instance = {"0": {"seconds": None, "last": {"http": 503, "storage": "error"}}}
    (violation,) = check(
        [], ["recovers"], {"recovery": {**recovery, "instances": instance}}
    ).violations
    assert "did not report storage ok" in violation.message


# plumbing -------------------------------------------------------------------------------------


# the journal record of that history (`journal-agrees`): w-1's entry, the document holding it
_W1 = {"id": 2, "title": "w-1"}
_JOURNAL = {
    "entries": [
        {
            "revision": 5,
            "kind": "command",
            "command": "add-task",
            "changes": [{"tag": "master", "id": "2", "field": None, "after": _W1}],
        }
    ],
    "document": {"master": {"tasks": [{"id": 1, "status": "done", "title": "t1"}, _W1]}},
    "initial_ids": ["1"],
}
_GOT = [[2, 1], [3, 2]]  # an event-stream client got both commits, over two connections


def test_a_clean_mixed_history_has_no_violation_under_every_invariant() -> None:
    history = [
        op(META, 0, 0, value={"invariants": list(INVARIANTS)}),
        initial(**{"1": {"status": "pending", "title": "t0"}}),
        write(1, 10, 1, status="done", revision=2),
        read(12, 13, 1, status="done", title="t0", revision=2, instance=0),
        write(14, 20, 1, title="t1", revision=3),
        read(21, 22, 1, status="done", title="t1", revision=3, instance=1),
        op(WRITE, 23, 24, key="add/w-1", value={"title": "w-1"}),
        op(OBSERVE, 25, 25, value={"parses": True, "sha": "s"}, info={"expect_sha": "s"}),
        read(30, 31, 1, status="done", title="t1", revision=4, phase="final", instance=0),
        final({1: {"status": "done", "title": "t1"}}, titles=["t1", "w-1"]),
        op(OBSERVE, 32, 32, channel="journal", value=_JOURNAL),
        op(OBSERVE, 33, 33, channel="sse", value={"committed": [2, 3], "deliveries": _GOT}),
    ]
    result = check(history)  # the invariants come from the meta record
    assert result.checked == list(INVARIANTS)
    assert result.violations == []


def test_unknown_invariants_are_refused() -> None:
    with pytest.raises(ValueError, match="no-such"):
        check([], ["no-such"], {})


def test_every_anomaly_belongs_to_one_invariant() -> None:
    assert len(ANOMALIES) == len(set(ANOMALIES))
    assert set(INVARIANTS) == set(INVARIANT_ANOMALIES)


def test_violations_serialise_with_their_context() -> None:
    history = [
        initial(**{"1": {"status": "pending"}}),
        write(0, 10, 1, status="done"),
        read(15, 16, 1, status="pending"),
    ]
    (violation,) = check(history, ["no-stale-read"], {}).violations
    data = violation.to_dict()
    assert data["anomaly"] == "stale-read"
    assert [o["kind"] for o in data["ops"]] == ["read", "write"]
    assert data["ops"][0]["start_ms"] == 15.0

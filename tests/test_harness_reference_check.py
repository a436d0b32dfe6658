"""`reference-interop` on hand-made histories and journals: what counts as lost, as detected,
as silent, and what the baseline (no detection credited) is charged with."""

from __future__ import annotations

import itertools
from typing import Any

from harness.checker import check
from harness.history import FINAL, OBSERVE, OK, WRITE, Op
from harness.reference_check import REFERENCE_CHANNEL, count, detected

_ids = itertools.count()


def _op(kind: str, **values: Any) -> Op:
    values.setdefault("actor", "a")
    start = next(_ids)
    return Op(id=f"op{start}", kind=kind, start=start, end=start + 1, **values)


def write(task: int, field: str, value: str, *, reference: bool = False, outcome: str = OK) -> Op:
    return _op(
        WRITE,
        channel=REFERENCE_CHANNEL if reference else "core",
        key=f"task/{task}",
        value={field: value},
        outcome=outcome,
    )


def final(tasks: dict[str, dict[str, Any]]) -> Op:
    return _op(FINAL, channel="file", value={"parses": True, "tasks": tasks})


HISTORY = [
    write(1, "status", "done", reference=True),  # kept
    write(2, "status", "done", reference=True),  # lost to tm
    write(3, "status", "done", reference=True, outcome="fail"),  # never acknowledged
    write(10, "title", "tm-10"),  # kept
    write(11, "title", "tm-11"),  # reverted, detected
    write(12, "details", "tm-12"),  # reverted, detected at a later revision
    write(13, "title", "tm-13"),  # reverted, silent: the journal names another field
    write(14, "title", "tm-14"),  # reverted, silent: its commit is not in the journal
    final(
        {
            "1": {"status": "done"},
            "2": {"status": "pending"},
            "3": {"status": "pending"},
            "10": {"title": "tm-10"},
            "11": {"title": "task 11"},
            "12": {"details": ""},
            "13": {"title": "task 13"},
            "14": {"title": "task 14"},
        }
    ),
]


def commit(task: int, field: str, after: str, revision: int) -> dict[str, Any]:
    return {"tag": "master", "id": str(task), "field": field, "after": after, "revision": revision}


def revert(task: int, field: str | None, revision: int) -> dict[str, Any]:
    return {"revision": revision, "tag": "master", "id": str(task), "field": field}


CONFIG: dict[str, Any] = {
    "invariants": ["reference-interop", "file-parses"],
    "tm_commits": [
        commit(10, "title", "tm-10", 100),
        commit(11, "title", "tm-11", 110),
        commit(12, "details", "tm-12", 120),
        commit(13, "title", "tm-13", 130),
    ],
    "reverts": [revert(11, "title", 110), revert(12, "details", 125), revert(13, "details", 130)],
    "credit_detections": True,
}


def test_the_counts_of_each_side() -> None:
    counts = count(HISTORY, CONFIG)
    assert counts.to_dict() == {
        "reference_acked": 2,
        "reference_failed": 1,
        "reference_lost": 1,
        "tm_acked": 5,
        "tm_failed": 0,
        "tm_lost": 4,
        "tm_detected": 2,
        "tm_silent": 2,
        "torn": 0,
    }
    assert "1 lost to tm" in counts.summary() and "2 silent" in counts.summary()


def test_the_violations_name_the_reference_loss_and_the_silent_ones() -> None:
    result = check(HISTORY, config=CONFIG)
    assert result.count("silent-loss") == 3
    lost = {v.ops[0].key: v.message for v in result.violations if v.anomaly == "silent-loss"}
    assert set(lost) == {"task/2", "task/13", "task/14"}
    assert "a tm write replaced the file" in lost["task/2"]
    assert "no journal entry" in lost["task/13"]


def test_the_baseline_is_credited_no_detection() -> None:
    counts = count(HISTORY, {**CONFIG, "credit_detections": False})
    assert (counts.tm_lost, counts.tm_detected, counts.tm_silent) == (4, 0, 4)
    baseline = check(HISTORY, config={**CONFIG, "credit_detections": False})
    assert baseline.count("silent-loss") == 5  # the reference's lost write and 4 of tm's


def test_a_reversion_named_before_the_commit_does_not_count() -> None:
    place = ("master", "11", "title")
    assert detected(place, 110, [revert(11, "title", 110)])
    assert detected(place, 110, [revert(11, "title", 111)])
    assert not detected(place, 110, [revert(11, "title", 109)])
    assert not detected(place, None, [revert(11, "title", 110)])
    assert not detected(place, 110, [{**revert(11, "title", 110), "tag": "other"}])


def test_every_place_kept_and_nothing_torn_holds() -> None:
    ops = [
        write(1, "status", "done", reference=True),
        write(10, "title", "tm-10"),
        _op(OBSERVE, channel="file", value={"parses": True}),
        final({"1": {"status": "done"}, "10": {"title": "tm-10"}}),
    ]
    assert check(ops, config=CONFIG).ok


def test_a_torn_look_is_counted_and_reported() -> None:
    ops = [
        write(10, "title", "tm-10"),
        _op(OBSERVE, channel="file", value={"parses": False, "error": "half"}),
        final({"10": {"title": "tm-10"}}),
    ]
    assert count(ops, CONFIG).torn == 1
    assert check(ops, config=CONFIG).count("torn-file") == 1

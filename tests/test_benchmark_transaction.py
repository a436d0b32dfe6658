"""The transaction benchmark's floor: the same durable replace, with no taskmaster code."""

from __future__ import annotations

from pathlib import Path

import orjson

from benchmarks.transaction import floor_write


def test_the_floor_writes_the_reserialised_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    source = tmp_path / "tasks.json"
    source.write_bytes(b'{"master": {"tasks": [{"id": 1, "title": "t"}]}}')
    target = tmp_path / "floor.json"
    target.write_bytes(b"old")
    floor_write(source, target)
    floor_write(source, target)
    assert orjson.loads(target.read_bytes()) == orjson.loads(source.read_bytes())
    # no temporary file left; the journal a journaled store must flush: one line per write
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "floor.json",
        "floor.json.floor-journal",
        "tasks.json",
    ]
    journal = (tmp_path / "floor.json.floor-journal").read_bytes()
    assert journal.count(b"\n") == 2 and b'"command":"set-status"' in journal


def test_the_journal_cost_pair_is_one_journaled_and_one_bare_project() -> None:
    """The baseline really writes no journal (else the ratio is 1 whatever the journal costs),
    and both projects change on every step."""
    from benchmarks.journal_cost import file_pair, interleaved

    with file_pair(20) as (journaled, bare):
        before = (journaled.revision(), bare.revision())
        with_rounds, without_rounds = interleaved(journaled, bare, 20, rounds=2, per_round=3)
        assert [len(r) for r in with_rounds + without_rounds] == [3, 3, 3, 3]
        writes = 5 + 2 * 3  # the warm-up and the rounds
        assert len(journaled.history().value) == writes
        assert bare.history().value == []
        assert journaled.revision() > before[0] and bare.revision() > before[1]
        for facade in (journaled, bare):
            journal = Path(facade.storage.path).with_name("tasks.json.tm-journal")  # type: ignore[attr-defined]
            assert journal.exists() is (facade is journaled)


def test_the_100_task_gate_passes_the_path_as_measured_and_fails_it_slowed_by_2_ms() -> None:
    from benchmarks.gates import check, load_gates

    gates = [g for g in load_gates() if g["name"].startswith("transaction: set-status at 100")]
    assert len(gates) == 1

    def row(ratio: float) -> dict[str, object]:
        case = "set-status, 100 tasks, 70 KiB"
        return {"benchmark": "transaction", "case": case, "ratio_to_floor": ratio}

    assert all(v.passed for v in check([row(2.53)], gates))  # the highest measured as shipped
    assert not any(v.passed for v in check([row(4.04)], gates))  # 2 ms of sleep, the same day

"""Recording histories: JSON lines per process, pending ops paired with their completions."""

from __future__ import annotations

from pathlib import Path

from harness.history import (
    INFO,
    OK,
    READ,
    WRITE,
    HistoryWriter,
    Op,
    count_completed,
    read_history,
)


def test_ops_round_trip_through_json_lines(tmp_path: Path) -> None:
    with HistoryWriter.in_dir(tmp_path, "a") as history:
        op = history.record(WRITE, key="task/1", value={"status": "done"}, revision=5)
    (back,) = read_history(tmp_path)
    assert back == op
    assert back.id == "a:0" and back.outcome == OK and back.end == back.start


def test_a_pending_op_without_completion_is_indeterminate(tmp_path: Path) -> None:
    with HistoryWriter.in_dir(tmp_path, "w") as history:
        done = history.op(WRITE, key="task/1", value={"title": "x"})
        history.pending(done)
        history.complete(done, revision=3)
        killed = history.op(WRITE, key="task/1", value={"title": "y"})
        history.pending(killed)
    ops = {op.id: op for op in read_history(tmp_path)}
    assert ops[done.id].outcome == OK and ops[done.id].revision == 3
    assert ops[killed.id].outcome == INFO and ops[killed.id].end is None


def test_a_line_cut_short_by_a_kill_is_ignored(tmp_path: Path) -> None:
    with HistoryWriter.in_dir(tmp_path, "w") as history:
        history.record(READ, key="task/1", value={"status": "done"})
    with open(tmp_path / "history" / "w.jsonl", "a") as handle:
        handle.write('{"id": "w:1", "kind": "wri')
    assert len(read_history(tmp_path)) == 1


def test_histories_of_several_processes_merge_in_time_order(tmp_path: Path) -> None:
    with HistoryWriter.in_dir(tmp_path, "b") as b, HistoryWriter.in_dir(tmp_path, "a") as a:
        b.record(READ, start=20)
        a.record(WRITE, start=10)
        b.record(WRITE, start=30)
    assert [(op.actor, op.start) for op in read_history(tmp_path)] == [
        ("a", 10),
        ("b", 20),
        ("b", 30),
    ]
    assert count_completed(tmp_path / "history") == 3
    assert count_completed(tmp_path / "history", (WRITE,)) == 2


def test_actor_can_be_named_per_op(tmp_path: Path) -> None:
    with HistoryWriter.in_dir(tmp_path, "harness") as history:
        op = history.record(READ, actor="client-1")
    assert op.actor == "client-1" and op.id.startswith("harness:")
    # fields a newer harness may add are ignored by an older reader
    assert Op.from_dict({"id": "i", "actor": "a", "kind": READ, "start": 1, "new": 2}).id == "i"

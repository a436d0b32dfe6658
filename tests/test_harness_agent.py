"""The agent actor of `mixed-frontends`: MCP tool calls recorded like every other op, through
the real `tm mcp` (the SDK's stdio client) and through the naive agent server."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.actors import mcp_call
from harness.agent import AgentActor, McpSession, NaiveSession
from harness.history import EVENT, FAIL, OK, READ, WRITE, HistoryWriter, Op, read_history
from harness.runners.base import initial_task
from harness.runners.mixed_frontends import _reverted, agent_plan
from harness.targets import BASELINE, SAFE, Target


def make_target(tmp_path: Path, name: str) -> Target:
    target = Target(name, tmp_path / name)
    folder = target.tasks_file.parent
    folder.mkdir(parents=True)
    tasks = [initial_task(i) for i in (1, 2)]
    target.tasks_file.write_text(json.dumps({"master": {"tasks": tasks, "metadata": {}}}))
    (folder / "state.json").write_text('{"currentTag": "master"}\n')
    return target


def test_writes_map_to_the_tools_of_tm_mcp() -> None:
    assert mcp_call({"op": "set-status", "task": 3, "value": {"status": "done"}}) == (
        "set_task_status",
        {"id": "3", "status": "done"},
    )
    assert mcp_call({"op": "update", "task": 3, "value": {"title": "w1-7"}}) == (
        "update_task",
        {"id": "3", "title": "w1-7"},
    )
    assert mcp_call({"op": "add", "value": {"title": "a-1-add"}}) == (
        "add_task",
        {"title": "a-1-add", "details": ""},
    )
    with pytest.raises(ValueError, match="unknown op"):
        mcp_call({"op": "remove", "task": 1, "value": {}})


def test_the_agent_plan_writes_its_own_tasks_and_reads_any() -> None:
    args = ([7, 8], [1, 2, 3, 4, 5, 6, 7, 8], 300, 0.5, {"update": 2, "set-status": 1, "add": 1})
    plan = agent_plan(random.Random(5), 1, *args)
    assert plan == agent_plan(random.Random(5), 1, *args)  # the seed decides: both targets
    writes = [step["write"] for step in plan if "write" in step]
    reads = [step["read"] for step in plan if "read" in step]
    assert len(plan) == 300 and 100 < len(reads) < 200
    assert {w["task"] for w in writes if "task" in w} == {7, 8}
    assert set(reads) - {7, 8}, "the agent must read the other front ends' tasks too"
    titles = [w["value"]["title"] for w in writes if "title" in w["value"]]
    assert len(titles) == len(set(titles)) and all(t.startswith("mcp1-") for t in titles)
    assert {w["op"] for w in writes} == {"update", "set-status", "add"}


def test_tool_calls_through_tm_mcp_are_recorded_as_mcp_ops(tmp_path: Path) -> None:
    target = make_target(tmp_path, SAFE)
    history = HistoryWriter.in_dir(tmp_path / "run", "agent-0")
    session = McpSession(target, {}, tmp_path / "tm-mcp.log")
    try:
        actor = AgentActor(history, session)
        update = actor.write({"op": "update", "task": 1, "value": {"title": "mcp0-1"}})
        status = actor.write({"op": "set-status", "task": 2, "value": {"status": "done"}})
        added = actor.write({"op": "add", "value": {"title": "mcp0-2-add"}})
        read = actor.read(1)
        missing = actor.read(99)
        refused = actor.write({"op": "set-status", "task": 1, "value": {"status": "nope"}})
    finally:
        session.close()
        history.close()
    for op in (update, status, added):
        assert (op.kind, op.channel, op.outcome) == (WRITE, "mcp", OK), op
        assert op.end is not None and op.end >= op.start and op.revision is None
    assert update.key == "task/1" and update.info["tool"] == "update_task"
    assert added.key == "add/mcp0-2-add"
    assert (read.kind, read.outcome, read.key) == (READ, OK, "task/1")
    assert read.value == {"title": "mcp0-1", "status": "pending", "details": ""}
    assert missing.outcome == FAIL and "99" in (missing.error or "")
    assert refused.outcome == FAIL and refused.error
    data = json.loads(target.tasks_file.read_text())["master"]["tasks"]
    assert [(t["title"], t["status"]) for t in data] == [
        ("mcp0-1", "pending"),
        ("task 2", "done"),
        ("mcp0-2-add", "pending"),
    ]
    assert [op.id for op in read_history(tmp_path / "run")] == [
        op.id for op in (update, status, added, read, missing, refused)
    ]


def test_the_naive_session_answers_from_its_copy(tmp_path: Path) -> None:
    target = make_target(tmp_path, BASELINE)
    with HistoryWriter.in_dir(tmp_path / "run", "agent-0") as history:
        actor = AgentActor(history, NaiveSession(target))
        data = json.loads(target.tasks_file.read_text())
        data["master"]["tasks"][0]["title"] = "changed by tm"
        target.tasks_file.write_text(json.dumps(data))
        read = actor.read(1)
        write = actor.write({"op": "update", "task": 2, "value": {"title": "mcp0-1"}})
        missing = actor.read(42)
    assert read.outcome == OK and read.value["title"] == "task 1"  # stale: loaded at start
    assert write.outcome == OK and write.channel == "mcp"
    assert missing.outcome == FAIL and "42" in (missing.error or "")
    titles = [t["title"] for t in json.loads(target.tasks_file.read_text())["master"]["tasks"]]
    assert titles == ["task 1", "mcp0-1"]  # "changed by tm" written over


def test_reverted_counts_the_writes_a_write_back_definitely_overwrote() -> None:
    def op(actor: str, start: int, end: int, channel: str = "cli", **extra: object) -> Op:
        return Op(id=f"{actor}:{start}", actor=actor, kind=WRITE, start=start, end=end,
                  channel=channel, key="task/1", value={"title": str(start)}, **extra)  # fmt: skip

    loaded = Op(id="a:e", actor="agent-0", kind=EVENT, start=5, end=9, info={"loaded_at": 10})
    before_load = op("writer-0", 8, 12)
    reverted = op("writer-0", 20, 30)
    still_running = op("writer-1", 35, 50, channel="api")
    back = op("agent-0", 40, 45, channel="mcp")
    ops = [loaded, before_load, reverted, still_running, back]
    assert [o.id for o in _reverted(ops)] == [reverted.id]
